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

# Whether `program` loads libcarve.so (1) or has carve linked in (0).
function(expect_shared program want)
  if(want)
    set(want 1)
  else()
    set(want 0)
  endif()
  execute_process(COMMAND objdump -p "${program}" OUTPUT_VARIABLE dynamic
                  RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "objdump -p ${program} failed")
  endif()
  string(REGEX MATCH "NEEDED +libcarve\\.so" found "${dynamic}")
  if(want AND NOT found)
    message(FATAL_ERROR "${program} does not load libcarve.so")
  elseif(NOT want AND found)
    message(FATAL_ERROR "${program} loads libcarve.so; the archive was asked for")
  endif()
endfunction()

# libcarve.so (unless the build left it out: -DSHARED=OFF) exports the
# public API only: carve_ names and the names TI's SDK declares.
file(GLOB static_library "${prefix}/*/libcarve.a")
if(NOT static_library)
  message(FATAL_ERROR "not installed: libcarve.a")
endif()
get_filename_component(lib_dir "${static_library}" DIRECTORY)
file(GLOB shared_library "${prefix}/*/libcarve.so")
if(SHARED AND NOT shared_library)
  message(FATAL_ERROR "not installed: libcarve.so")
elseif(NOT SHARED AND shared_library)
  message(FATAL_ERROR "libcarve.so installed by a build without it")
endif()
find_program(NM nm)
if(NM AND SHARED)
  execute_process(COMMAND ${NM} -D --defined-only ${shared_library}
                  OUTPUT_VARIABLE symbols RESULT_VARIABLE rc)
  string(REGEX MATCHALL "[^\n]+" lines "${symbols}")
  foreach(line IN LISTS lines)
    string(REGEX REPLACE ".* " "" name "${line}")
    if(NOT name MATCHES "^carve_[a-z]" AND
       NOT name MATCHES "^__(malloc|free)_(ddr|msmc)$" AND
       NOT name MATCHES "^__(is_in_malloced_region|ti_set_kernel_timeout_ms)$")
      message(FATAL_ERROR "libcarve.so exports ${name}")
    endif()
  endforeach()
endif()

# find_package(carve): carve::carve is the shared library, or the static
# one on request.
foreach(kind shared static)
  if(kind STREQUAL static)
    set(want_shared 0)
    set(option -DCONSUMER_STATIC=ON)
  else()
    set(want_shared ${SHARED}) # carve::carve: the static one without it
    set(option -DCONSUMER_STATIC=OFF)
  endif()
  run(${CMAKE_COMMAND} -S "${SOURCE_DIR}/tests/install/consumer"
      -B "${WORK_DIR}/consumer_${kind}" "-DCMAKE_PREFIX_PATH=${prefix}"
      "-DCMAKE_C_COMPILER=${C_COMPILER}" "-DCMAKE_C_FLAGS=${C_FLAGS}" ${option})
  run(${CMAKE_COMMAND} --build "${WORK_DIR}/consumer_${kind}")
  run("${WORK_DIR}/consumer_${kind}/consumer")
  expect_shared("${WORK_DIR}/consumer_${kind}/consumer" ${want_shared})
endforeach()

# pkg-config: carve links the shared library, carve-static the archive,
# each with one command as the README writes it.
find_program(PKG_CONFIG pkg-config)
if(PKG_CONFIG)
  file(GLOB_RECURSE pc "${prefix}/*/carve.pc")
  get_filename_component(pc_dir "${pc}" DIRECTORY)
  set(ENV{PKG_CONFIG_PATH} "${pc_dir}")
  separate_arguments(extra UNIX_COMMAND "${C_FLAGS}")
  foreach(package carve carve-static)
    execute_process(COMMAND ${PKG_CONFIG} --cflags --libs ${package}
                    OUTPUT_VARIABLE flags RESULT_VARIABLE rc
                    OUTPUT_STRIP_TRAILING_WHITESPACE)
    if(NOT rc EQUAL 0)
      message(FATAL_ERROR "pkg-config does not know ${package}")
    endif()
    separate_arguments(flags UNIX_COMMAND "${flags}")
    set(program "${WORK_DIR}/consumer_pc_${package}")
    run("${C_COMPILER}" ${extra} "${SOURCE_DIR}/tests/install/consumer/main.c"
        ${flags} -o "${program}")
    run(${CMAKE_COMMAND} -E env "LD_LIBRARY_PATH=${lib_dir}" "${program}")
    if(package STREQUAL carve)
      expect_shared("${program}" ${SHARED})
    else()
      expect_shared("${program}" 0)
    endif()
  endforeach()
endif()
# The installed headers hold the API only: a file that includes all four
# compiles without a warning as C99, C11 and C++ under strict flags, with
# nothing but the prefix's include directory (and no OpenCL version
# chosen for it); the C++ consumer also links and runs.
set(strict -Wall -Wextra -Wpedantic -Wconversion -Wsign-conversion -Werror)
set(headers_test "${WORK_DIR}/all_headers.c")
file(WRITE "${headers_test}"
     "#include <carve/carve.h>\n#include <carve/diagnostics.h>\n"
     "#include <carve/ti_compat.h>\n#include <carve/split.h>\n"
     "int main(void) { return carve_version()[0] == '\\0'; }\n")
foreach(std c99 c11)
  run("${C_COMPILER}" -std=${std} ${strict} -I${prefix}/include -fsyntax-only
      "${headers_test}")
endforeach()
find_program(CXX_COMPILER NAMES c++ g++ clang++)
if(CXX_COMPILER AND PKG_CONFIG)
  execute_process(COMMAND ${PKG_CONFIG} --cflags --libs carve
                  OUTPUT_VARIABLE flags OUTPUT_STRIP_TRAILING_WHITESPACE)
  separate_arguments(flags UNIX_COMMAND "${flags}")
  run("${CXX_COMPILER}" -std=c++11 ${strict} -x c++ "${headers_test}"
      -fsyntax-only -I${prefix}/include)
  run("${CXX_COMPILER}" -std=c++11 ${extra} -x c++
      "${SOURCE_DIR}/tests/install/consumer/main.c" -x none ${flags}
      -o "${WORK_DIR}/consumer_cxx")
  run(${CMAKE_COMMAND} -E env "LD_LIBRARY_PATH=${lib_dir}"
      "${WORK_DIR}/consumer_cxx")
  # A program written in C++'s idioms (exceptions, unique_ptr, vector):
  # warning-free under the strict flags, and working.
  run("${CXX_COMPILER}" -std=c++11 ${strict} ${extra}
      "${SOURCE_DIR}/tests/install/consumer/consumer.cpp" ${flags}
      -o "${WORK_DIR}/consumer_cpp")
  run(${CMAKE_COMMAND} -E env "LD_LIBRARY_PATH=${lib_dir}"
      "${WORK_DIR}/consumer_cpp")
endif()
# Programs written for TI's SDK build unchanged through carve-ti.pc and
# carve::ti, and run (77: no OpenCL device, which the device tests report).
function(run_ti_program program)
  execute_process(COMMAND ${CMAKE_COMMAND} -E env "LD_LIBRARY_PATH=${lib_dir}"
                          "${program}"
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT rc EQUAL 0 AND NOT rc EQUAL 77)
    message(FATAL_ERROR "${program} failed (${rc}):\n${out}")
  endif()
endfunction()
if(PKG_CONFIG)
  execute_process(COMMAND ${PKG_CONFIG} --cflags --libs carve-ti
                  OUTPUT_VARIABLE flags RESULT_VARIABLE rc
                  OUTPUT_STRIP_TRAILING_WHITESPACE)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "pkg-config does not know carve-ti")
  endif()
  separate_arguments(flags UNIX_COMMAND "${flags}")
  run("${C_COMPILER}" ${extra} "${SOURCE_DIR}/tests/ti/ti_program.c" ${flags}
      -o "${WORK_DIR}/ti_program_pc")
  run_ti_program("${WORK_DIR}/ti_program_pc")
  if(CXX_COMPILER AND EXISTS /usr/include/CL/opencl.hpp)
    run("${CXX_COMPILER}" ${extra} "${SOURCE_DIR}/tests/ti/ti_program.cpp"
        ${flags} -o "${WORK_DIR}/ti_program_cxx_pc")
    run_ti_program("${WORK_DIR}/ti_program_cxx_pc")
    set(with_cxx ON)
  else()
    set(with_cxx OFF)
  endif()
endif()
run(${CMAKE_COMMAND} -S "${SOURCE_DIR}/tests/install/ti_consumer"
    -B "${WORK_DIR}/ti_consumer" "-DCMAKE_PREFIX_PATH=${prefix}"
    "-DCMAKE_C_COMPILER=${C_COMPILER}" "-DCMAKE_C_FLAGS=${C_FLAGS}"
    "-DCMAKE_CXX_FLAGS=${C_FLAGS}" -DWITH_CXX=${with_cxx})
run(${CMAKE_COMMAND} --build "${WORK_DIR}/ti_consumer")
run_ti_program("${WORK_DIR}/ti_consumer/ti_program")
if(with_cxx)
  run_ti_program("${WORK_DIR}/ti_consumer/ti_program_cxx")
endif()
message(STATUS "installed carve works with find_package and pkg-config, "
               "shared and static, from C and C++; TI programs build "
               "through carve-ti and carve::ti")
