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
#
# CARVE_ASAN_OPTIONS / CARVE_LSAN_OPTIONS: the runtime options of every test
# built with AddressSanitizer here (this build's and tests/tools' planted
# bugs). Leak checking is always on.
#
# intercept_tls_get_addr=0, for the runtimes of GCC <= 13 and LLVM <= 16:
# their __tls_get_addr interceptor records each dynamic TLS block (the TLS
# of a dlopen()ed library such as libLLVM, which PoCL loads) as a root for
# the leak scan, and finds its bounds by a test meant for glibc 2.19-2.24:
# a block whose address is 16 modulo 4096 is taken to start with that
# glibc's {start, size} header. Since glibc 2.25 the block comes from
# malloc, and one that lands at such an address has ASan's chunk header
# there instead; LeakSanitizer's tracer then scans a range like
# [0x6a3, 0x18000017a5) and dies of SIGSEGV ("Tracer caught signal 11")
# after the test has passed. Where the block lands depends on the process's
# whole allocation history, so a test fails every time on one machine and
# never on another. LLVM 17 (and GCC 14, which took its runtime) asks the
# allocator for the block's bounds instead. Without the interceptor the
# blocks are still found, as heap chunks the DTV points to, so pointers
# kept in them are not reported: tests/tools/lsan_dynamic_tls.c shows the
# crash, the fix, and that leaks are still reported.
set(CARVE_ASAN_OPTIONS "detect_leaks=1")
if((CMAKE_C_COMPILER_ID STREQUAL "GNU" AND CMAKE_C_COMPILER_VERSION VERSION_LESS 14) OR
   (CMAKE_C_COMPILER_ID MATCHES "Clang" AND CMAKE_C_COMPILER_VERSION VERSION_LESS 17))
  set(CARVE_ASAN_GUESSES_DTLS_BOUNDS ON)
  string(APPEND CARVE_ASAN_OPTIONS ":intercept_tls_get_addr=0")
else()
  set(CARVE_ASAN_GUESSES_DTLS_BOUNDS OFF)
endif()
set(CARVE_LSAN_OPTIONS
    "suppressions=${PROJECT_SOURCE_DIR}/cmake/lsan.supp:print_suppressions=0")

# ThreadSanitizer: the first report fails the test. cmake/tsan.supp names
# the third-party frames it may not blame, each with its reason.
set(CARVE_TSAN_OPTIONS
    "halt_on_error=1:second_deadlock_stack=1:suppressions=${PROJECT_SOURCE_DIR}/cmake/tsan.supp")

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
set(ENV{ASAN_OPTIONS} \"${CARVE_ASAN_OPTIONS}:\$ENV{ASAN_OPTIONS}\")
set(ENV{LSAN_OPTIONS} \"${CARVE_LSAN_OPTIONS}:\$ENV{LSAN_OPTIONS}\")
set(ENV{UBSAN_OPTIONS} \"print_stacktrace=1:halt_on_error=1:\$ENV{UBSAN_OPTIONS}\")
set(ENV{TSAN_OPTIONS} \"${CARVE_TSAN_OPTIONS}:\$ENV{TSAN_OPTIONS}\")
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
                 "ASAN_OPTIONS=${CARVE_ASAN_OPTIONS}:handle_segv=0")
  endif()
endfunction()
