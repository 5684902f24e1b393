# Runs the carve tool once and checks what it did. Written per test by
# carve_tool_test (CMakeLists.txt beside this file), which sets:
#   TOOL          the tool's path
#   ARGUMENTS     its arguments
#   EXPECT_EXIT   the exit code it must return
#   STDOUT        regular expressions its standard output must all match
#   STDERR        the same for its standard error
#   NOT           regular expressions neither stream may match
#   NEEDS_DEVICE  1: exit code 3 (no OpenCL device) skips the test, or fails
#                 it when CARVE_REQUIRE_DEVICE is set, as in CI
#   REQUIRES_FILE a file a device test makes: when it is missing the test
#                 is skipped, or fails under CARVE_REQUIRE_DEVICE
#   EXPECT_FILE   a file of more STDOUT expressions, one a line, written by
#                 the test that made the tool's input
#   JSON_CHECK    a command (plan_json_check and its mode) that reads the
#                 tool's standard output and fails unless it agrees
cmake_minimum_required(VERSION 3.25)

set(required "$ENV{CARVE_REQUIRE_DEVICE}")
if(required STREQUAL "0")
  set(required "")
endif()
if(NOT REQUIRES_FILE STREQUAL "" AND NOT EXISTS "${REQUIRES_FILE}")
  if(NOT required STREQUAL "")
    message(FATAL_ERROR "${REQUIRES_FILE} is missing, and "
                        "CARVE_REQUIRE_DEVICE is set")
  endif()
  message("carve-tool-test: skipped, ${REQUIRES_FILE} was not made "
          "(no OpenCL device?)")
  return()
endif()
if(NOT EXPECT_FILE STREQUAL "")
  file(STRINGS "${EXPECT_FILE}" more)
  list(APPEND STDOUT ${more})
endif()

execute_process(COMMAND "${TOOL}" ${ARGUMENTS}
                RESULT_VARIABLE code OUTPUT_VARIABLE out ERROR_VARIABLE err)
string(REPLACE ";" " " shown "${ARGUMENTS}")
message("$ carve ${shown}\n--- exit code: ${code}\n--- stdout:\n${out}"
        "--- stderr:\n${err}---")

if(NEEDS_DEVICE AND code STREQUAL "3")
  if(NOT required STREQUAL "")
    message(FATAL_ERROR "no OpenCL device, and CARVE_REQUIRE_DEVICE is set")
  endif()
  # The test's SKIP_REGULAR_EXPRESSION.
  message("carve-tool-test: skipped, no OpenCL device")
  return()
endif()

set(failures "")
if(NOT code STREQUAL "${EXPECT_EXIT}")
  string(APPEND failures "exit code ${code}, expected ${EXPECT_EXIT}\n")
endif()
foreach(stream out err)
  if(stream STREQUAL "out")
    set(patterns ${STDOUT})
    set(name "stdout")
  else()
    set(patterns ${STDERR})
    set(name "stderr")
  endif()
  foreach(pattern IN LISTS patterns)
    if(NOT "${${stream}}" MATCHES "${pattern}")
      string(APPEND failures "${name} does not match: ${pattern}\n")
    endif()
  endforeach()
endforeach()
foreach(pattern IN LISTS NOT)
  if("${out}${err}" MATCHES "${pattern}")
    string(APPEND failures "the output matches what it must not: ${pattern}\n")
  endif()
endforeach()
if(NOT JSON_CHECK STREQUAL "")
  # Beside the test's own script, in the build tree.
  set(stdout_file "${CMAKE_SCRIPT_MODE_FILE}.stdout")
  file(WRITE "${stdout_file}" "${out}")
  execute_process(COMMAND ${JSON_CHECK} INPUT_FILE "${stdout_file}"
                  RESULT_VARIABLE check_code OUTPUT_VARIABLE check_out
                  ERROR_VARIABLE check_err)
  message("--- JSON check: ${check_out}${check_err}")
  if(NOT check_code STREQUAL "0")
    string(APPEND failures "the JSON check failed (${check_code})\n")
  endif()
endif()
if(failures)
  message(FATAL_ERROR "${failures}")
endif()
