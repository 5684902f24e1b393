# Runs PROGRAM and passes when it exits 0 and its standard error matches
# each regular expression in ONCE exactly once (a report carve must give,
# and give once). Exit 77 (no OpenCL device) prints "skipped", which the
# test's SKIP_REGULAR_EXPRESSION turns into a skip.
execute_process(COMMAND "${PROGRAM}" RESULT_VARIABLE rc
                OUTPUT_VARIABLE out ERROR_VARIABLE err)
message("${out}")
message("${err}")
if(rc EQUAL 77)
  message("ti-program: skipped (no OpenCL device)")
  return()
endif()
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${PROGRAM} exited with ${rc}")
endif()
foreach(pattern IN LISTS ONCE)
  string(REGEX MATCHALL "${pattern}" found "${err}")
  list(LENGTH found times)
  if(NOT times EQUAL 1)
    message(FATAL_ERROR "stderr matched '${pattern}' ${times} times, not once")
  endif()
endforeach()
