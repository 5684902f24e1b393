# CARVE_SANITIZE: build the library, tests and examples with sanitizers, e.g.
#   cmake -S . -B build-asan -DCARVE_SANITIZE=address,undefined
# Any report fails: UBSan does not recover, ASan stops at the first error,
# LeakSanitizer runs at exit. The flags go into CMAKE_C_FLAGS so that
# everything compiled here, the install test's consumer project included,
# is built and linked the same way.
#
# PoCL compiles kernels in-process with LLVM, and both keep allocations
# until exit that LeakSanitizer reports; cmake/lsan.supp silences those
# libraries only. CTest gets the options from a file CTest includes before
# it runs anything, so a plain `ctest` in the build tree uses them.
set(CARVE_SANITIZE "" CACHE STRING
    "Sanitizers (-fsanitize=...) for the library, tests and examples, e.g. address,undefined")

if(CARVE_SANITIZE)
  set(carve_sanitize_flags
      "-fsanitize=${CARVE_SANITIZE} -fno-sanitize-recover=all -fno-omit-frame-pointer")
  include(CheckCSourceCompiles)
  set(CMAKE_REQUIRED_FLAGS "${carve_sanitize_flags}")
  set(CMAKE_REQUIRED_LINK_OPTIONS "-fsanitize=${CARVE_SANITIZE}")
  check_c_source_compiles("int main(void) { return 0; }" CARVE_SANITIZE_WORKS)
  unset(CMAKE_REQUIRED_FLAGS)
  unset(CMAKE_REQUIRED_LINK_OPTIONS)
  if(NOT CARVE_SANITIZE_WORKS)
    message(FATAL_ERROR "CARVE_SANITIZE=${CARVE_SANITIZE}: ${CMAKE_C_COMPILER} "
                        "cannot build and link with ${carve_sanitize_flags}")
  endif()
  string(APPEND CMAKE_C_FLAGS " ${carve_sanitize_flags}")
  # Programs linked by another language's rules (the CUDA benchmark) link
  # sanitized C objects too.
  string(APPEND CMAKE_EXE_LINKER_FLAGS " -fsanitize=${CARVE_SANITIZE}")
  string(APPEND CMAKE_SHARED_LINKER_FLAGS " -fsanitize=${CARVE_SANITIZE}")

  set(carve_sanitize_env "${PROJECT_BINARY_DIR}/sanitizer_environment.cmake")
  file(WRITE "${carve_sanitize_env}"
"# Written by cmake/sanitize.cmake: sanitizer options for every test.
# Options the caller already set come last, so they win.
set(ENV{ASAN_OPTIONS} \"detect_leaks=1:\$ENV{ASAN_OPTIONS}\")
set(ENV{LSAN_OPTIONS} \"suppressions=${PROJECT_SOURCE_DIR}/cmake/lsan.supp:print_suppressions=0:\$ENV{LSAN_OPTIONS}\")
set(ENV{UBSAN_OPTIONS} \"print_stacktrace=1:halt_on_error=1:\$ENV{UBSAN_OPTIONS}\")
")
  set_property(DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES "${carve_sanitize_env}")
endif()

# carve_sanitizer_lets_sigsegv_kill(test...): for tests whose programs must
# die of SIGSEGV (the coherence check's deliberate faults). ASan's own
# SIGSEGV handler would report the fault and exit 1 instead; without it
# carve's handler hands the fault to the default action. No-op unless
# sanitizing.
function(carve_sanitizer_lets_sigsegv_kill)
  if(CARVE_SANITIZE)
    set_property(TEST ${ARGN} APPEND PROPERTY ENVIRONMENT
                 "ASAN_OPTIONS=detect_leaks=1:handle_segv=0")
  endif()
endfunction()
