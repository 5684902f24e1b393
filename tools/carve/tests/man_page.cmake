# Checks the manual page carve(1) against the tool, so that the two cannot
# drift apart. Run by CTest with -DCHECK=... -DPAGE=carve.1 and:
#   CHECK=lint      formats the page with groff (or mandoc) with every
#                   warning on; any warning fails. Skipped when neither is
#                   installed (.ci/deps installs groff).
#   CHECK=options   every option that `carve --help` or a command's --help
#                   names is in the page, and the page names no other;
#                   its .TH line states the project's VERSION. Needs TOOL.
#   CHECK=examples  runs every command of the page's EXAMPLES in WORK_DIR,
#                   where LOG (an event log) is run.carvelog: each must
#                   exit 0, or 3 (no OpenCL device: skipped, unless
#                   CARVE_REQUIRE_DEVICE is set). Needs TOOL.
cmake_minimum_required(VERSION 3.25)

file(READ "${PAGE}" page)

# The page's text without the roff escapes that break up an option:
# "\fB\-\-heap\-bytes\fR" is --heap-bytes, "\e" a backslash.
function(plain_text text out)
  string(REPLACE "\\-" "-" text "${text}")
  string(REPLACE "\\%" "" text "${text}")
  string(REPLACE "\\e" "\\" text "${text}")
  string(REGEX REPLACE "\\\\f[BIRP]" "" text "${text}")
  set(${out} "${text}" PARENT_SCOPE)
endfunction()

# The long options in `text`, sorted, each once.
function(long_options text out)
  string(REGEX MATCHALL "--[a-z][a-z0-9-]*" found "${text}")
  list(REMOVE_DUPLICATES found)
  list(SORT found)
  set(${out} "${found}" PARENT_SCOPE)
endfunction()

if(CHECK STREQUAL "lint")
  find_program(GROFF groff)
  find_program(MANDOC mandoc)
  if(GROFF)
    set(formatter "${GROFF}" -man -Tutf8 -ww -z "${PAGE}")
  elseif(MANDOC)
    set(formatter "${MANDOC}" -Tlint -W warning "${PAGE}")
  else()
    message("carve-man-test: skipped, neither groff nor mandoc is installed")
    return()
  endif()
  execute_process(COMMAND ${formatter} RESULT_VARIABLE code
                  OUTPUT_VARIABLE out ERROR_VARIABLE err)
  string(REPLACE ";" " " shown "${formatter}")
  message("$ ${shown}\n--- exit code: ${code}\n${out}${err}---")
  if(NOT code STREQUAL "0" OR NOT "${out}${err}" STREQUAL "")
    message(FATAL_ERROR "the page does not format cleanly")
  endif()

elseif(CHECK STREQUAL "options")
  execute_process(COMMAND "${TOOL}" --help OUTPUT_VARIABLE help
                  COMMAND_ERROR_IS_FATAL ANY)
  # The rows of the command list: "  plan      lay out ...".
  string(REGEX MATCHALL "\n  [a-z]+  " rows "${help}")
  set(all_help "${help}")
  foreach(row IN LISTS rows)
    string(STRIP "${row}" command)
    execute_process(COMMAND "${TOOL}" ${command} --help
                    OUTPUT_VARIABLE command_help COMMAND_ERROR_IS_FATAL ANY)
    string(APPEND all_help "${command_help}")
  endforeach()
  list(LENGTH rows command_count)
  if(command_count LESS 5)
    message(FATAL_ERROR "found ${command_count} commands in carve --help:\n"
                        "${help}")
  endif()
  long_options("${all_help}" tool_options)
  plain_text("${page}" page_text)
  long_options("${page_text}" page_options)
  set(failures "")
  foreach(option IN LISTS tool_options)
    if(NOT option IN_LIST page_options)
      string(APPEND failures "the help names ${option}, the page does not\n")
    endif()
  endforeach()
  foreach(option IN LISTS page_options)
    if(NOT option IN_LIST tool_options)
      string(APPEND failures "the page names ${option}, no help does\n")
    endif()
  endforeach()
  if(NOT page MATCHES "\n\\.TH CARVE 1 [^\n]*\"carve ${VERSION}\"")
    string(APPEND failures "the .TH line does not say \"carve ${VERSION}\"\n")
  endif()
  string(REPLACE ";" " " shown "${tool_options}")
  message("options of the help texts: ${shown}")
  if(failures)
    message(FATAL_ERROR "${failures}")
  endif()

elseif(CHECK STREQUAL "examples")
  string(REGEX REPLACE ".*\n\\.SH EXAMPLES\n" "" examples "${page}")
  string(REGEX REPLACE "\n\\.SH .*" "" examples "${examples}")
  plain_text("${examples}" examples)
  # A line that ends in a backslash goes on on the next.
  string(REPLACE "\\\n" " " examples "${examples}")
  string(REGEX MATCHALL "\ncarve [^\n]*" commands "${examples}")
  list(LENGTH commands command_count)
  if(command_count EQUAL 0)
    message(FATAL_ERROR "no example commands found")
  endif()
  file(REMOVE_RECURSE "${WORK_DIR}")
  file(MAKE_DIRECTORY "${WORK_DIR}")
  file(COPY_FILE "${LOG}" "${WORK_DIR}/run.carvelog")
  set(failures "")
  foreach(command IN LISTS commands)
    string(STRIP "${command}" command)
    separate_arguments(arguments UNIX_COMMAND "${command}")
    list(POP_FRONT arguments)
    execute_process(COMMAND "${TOOL}" ${arguments} WORKING_DIRECTORY
                    "${WORK_DIR}" RESULT_VARIABLE code OUTPUT_QUIET
                    ERROR_VARIABLE err)
    message("$ ${command}\n--- exit code: ${code}\n${err}")
    if(code STREQUAL "3" AND "$ENV{CARVE_REQUIRE_DEVICE}" MATCHES "^(|0)$")
      message("(skipped: no OpenCL device)")
    elseif(NOT code STREQUAL "0")
      string(APPEND failures "exit code ${code}: ${command}\n")
    endif()
  endforeach()
  if(failures)
    message(FATAL_ERROR "${failures}")
  endif()

else()
  message(FATAL_ERROR "CHECK must be lint, options or examples")
endif()
