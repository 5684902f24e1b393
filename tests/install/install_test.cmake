# Installs the build tree into a fresh prefix, then configures, builds and
# runs the consumer project against it: with find_package(carve), and with
# pkg-config. Run by CTest with -DBUILD_DIR, -DSOURCE_DIR, -DWORK_DIR, and
# the compiler and flags of the tree under test (-DC_COMPILER, -DC_FLAGS), so
# that a sanitizer build is consumed by a sanitizer build.
file(REMOVE_RECURSE "${WORK_DIR}")
set(prefix "${WORK_DIR}/prefix")

function(run)
  execute_process(COMMAND ${ARGV} RESULT_VARIABLE rc OUTPUT_VARIABLE out
                  ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGV}\n${out}")
  endif()
endfunction()

run(${CMAKE_COMMAND} --install "${BUILD_DIR}" --prefix "${prefix}")
foreach(header carve/carve.h carve/carve.clh carve/carve_core.h carve/carve_port.h)
  if(NOT EXISTS "${prefix}/include/${header}")
    message(FATAL_ERROR "not installed: include/${header}")
  endif()
endforeach()

run(${CMAKE_COMMAND} -S "${SOURCE_DIR}/tests/install/consumer"
    -B "${WORK_DIR}/consumer" "-DCMAKE_PREFIX_PATH=${prefix}"
    "-DCMAKE_C_COMPILER=${C_COMPILER}" "-DCMAKE_C_FLAGS=${C_FLAGS}")
run(${CMAKE_COMMAND} --build "${WORK_DIR}/consumer")
run("${WORK_DIR}/consumer/consumer")

find_program(PKG_CONFIG pkg-config)
if(PKG_CONFIG)
  file(GLOB_RECURSE pc "${prefix}/*/carve.pc")
  get_filename_component(pc_dir "${pc}" DIRECTORY)
  set(ENV{PKG_CONFIG_PATH} "${pc_dir}")
  execute_process(COMMAND ${PKG_CONFIG} --cflags --libs --static carve
                  OUTPUT_VARIABLE flags RESULT_VARIABLE rc
                  OUTPUT_STRIP_TRAILING_WHITESPACE)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "pkg-config does not know carve")
  endif()
  separate_arguments(flags UNIX_COMMAND "${flags}")
  separate_arguments(extra UNIX_COMMAND "${C_FLAGS}")
  run("${C_COMPILER}" ${extra} "${SOURCE_DIR}/tests/install/consumer/main.c" ${flags}
      -o "${WORK_DIR}/consumer_pc")
  run("${WORK_DIR}/consumer_pc")
endif()
message(STATUS "installed carve works with find_package and pkg-config")
