# Installs the tool with the library into a fresh prefix, by component so
# that it never writes the install manifest another test writes, runs the
# installed `carve`, and finds its manual page. Run by CTest with
# -DBUILD_DIR, -DWORK_DIR and -DMAN_DIR (CMAKE_INSTALL_MANDIR).
cmake_minimum_required(VERSION 3.25)

file(REMOVE_RECURSE "${WORK_DIR}")
set(prefix "${WORK_DIR}/prefix")
foreach(component Unspecified tools)
  execute_process(COMMAND ${CMAKE_COMMAND} --install "${BUILD_DIR}"
                          --prefix "${prefix}" --component ${component}
                  OUTPUT_QUIET COMMAND_ERROR_IS_FATAL ANY)
endforeach()
set(tool "${prefix}/bin/carve")
if(NOT EXISTS "${tool}")
  message(FATAL_ERROR "not installed: bin/carve")
endif()
if(NOT EXISTS "${prefix}/${MAN_DIR}/man1/carve.1")
  message(FATAL_ERROR "not installed: ${MAN_DIR}/man1/carve.1")
endif()

execute_process(COMMAND "${tool}" --version OUTPUT_VARIABLE version
                COMMAND_ERROR_IS_FATAL ANY)
execute_process(COMMAND "${tool}" plan --arenas 64 --arena-bytes 1K
                        --max-alloc 1M --global-mem 1M --base-align 128
                OUTPUT_VARIABLE plan COMMAND_ERROR_IS_FATAL ANY)
if(NOT version MATCHES "^carve [0-9]+\\.[0-9]+\\.[0-9]+\n$")
  message(FATAL_ERROR "the installed carve --version printed: ${version}")
endif()
if(NOT plan MATCHES "carve plan: 64 arenas of 1.0 KiB")
  message(FATAL_ERROR "the installed carve plan printed: ${plan}")
endif()
message(STATUS "the installed carve runs")
