# Runs one program on Oclgrind's simulated device and fails on any report.
#
#   cmake -DICD=<oclgrind.icd> -DLOG=<file> [-DCHECKS=data-races,uninitialized]
#         [-DQUICK=1] -P run_oclgrind.cmake -- PROGRAM ARGS...
#
# Oclgrind is chosen through the ICD loader (OCL_ICD_VENDORS names only its
# .icd, so it is the one platform the program sees) rather than with the
# `oclgrind` wrapper, which preloads its runtime into the process: that
# breaks sanitizer builds, whose runtime must come first. Its options are
# the OCLGRIND_* variables the wrapper would set. Kernels are built without
# optimisation: Oclgrind 21.10 cannot run an intrinsic clang 14 emits for
# carve's allocator at -O2 ("Undefined external function:
# llvm.experimental.noalias.scope.decl").
#
# Oclgrind exits with the program's status whatever it found, so its log
# decides: any line in it (an invalid access, a data race, an uninitialised
# value, an API error) fails the test, as does the program failing.
# QUICK=1 sets CARVE_QUICK=1, which the tests and examples read to make
# their runs small enough for a simulator; without it the device gets 1 GiB.
set(command)
set(after_separator FALSE)
foreach(i RANGE 1 ${CMAKE_ARGC})
  if(i EQUAL CMAKE_ARGC)
    break()
  endif()
  if(after_separator)
    list(APPEND command "${CMAKE_ARGV${i}}")
  elseif(CMAKE_ARGV${i} STREQUAL "--")
    set(after_separator TRUE)
  endif()
endforeach()
if(NOT command OR NOT ICD OR NOT LOG)
  message(FATAL_ERROR "usage: cmake -DICD=... -DLOG=... [-DCHECKS=...] "
                      "[-DQUICK=1] -P run_oclgrind.cmake -- PROGRAM ARGS...")
endif()

set(ENV{OCL_ICD_VENDORS} "${ICD}")
set(ENV{OCLGRIND_LOG} "${LOG}")
set(ENV{OCLGRIND_BUILD_OPTIONS} "-cl-opt-disable")
set(ENV{OCLGRIND_CHECK_API} 1)
string(REPLACE "," ";" checks "${CHECKS}")
foreach(check ${checks})
  if(check STREQUAL "data-races")
    set(ENV{OCLGRIND_DATA_RACES} 1)
  elseif(check STREQUAL "uninitialized")
    set(ENV{OCLGRIND_UNINITIALIZED} 1)
  elseif(check STREQUAL "accesses")
    # invalid accesses and API misuse only: Oclgrind checks those always
  else()
    message(FATAL_ERROR "unknown Oclgrind check '${check}'")
  endif()
endforeach()
if(QUICK)
  set(ENV{CARVE_QUICK} 1)
else()
  # Full-size plans (a million arenas) need more than Oclgrind's default
  # 128 MiB; its largest buffer follows the global memory size.
  set(ENV{OCLGRIND_GLOBAL_MEM_SIZE} 1073741824)
endif()
# Oclgrind is the only device: a selector meant for another must not apply.
unset(ENV{CARVE_DEVICE})
set(ENV{CARVE_REQUIRE_DEVICE} 1)

file(REMOVE "${LOG}")
message(STATUS "Oclgrind (checks: ${CHECKS}): ${command}")
execute_process(COMMAND ${command} RESULT_VARIABLE status)

set(reports "")
if(EXISTS "${LOG}")
  file(READ "${LOG}" reports)
  string(STRIP "${reports}" reports)
endif()
if(reports)
  # Each report starts at column 0; its details are indented below it.
  string(REGEX MATCHALL "(^|\n)[^\t\n][^\n]*" headings "${reports}")
  list(LENGTH headings count)
  string(SUBSTRING "${reports}" 0 6000 shown)
  message(FATAL_ERROR "Oclgrind reported ${count} problem(s) (log: ${LOG}):\n"
                      "${shown}")
endif()
if(NOT status EQUAL 0)
  message(FATAL_ERROR "the program failed on Oclgrind: ${status}")
endif()
message(STATUS "Oclgrind reported nothing")
