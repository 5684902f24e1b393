# Host pools annotated for memory checkers (host/pool/tool_annotations.h).
#
# CARVE_VALGRIND: Valgrind client requests in the library when
# <valgrind/memcheck.h> exists. Outside Valgrind they are a few no-op
# instructions per allocation, so they stay on by default.
#
# carve_asan: the library built once more with AddressSanitizer, for tests
# that must show ASan catching misuse of carve's pools in an ordinary build
# (tests/tools). In a CARVE_SANITIZE=address build it is the library itself.
# Included from the top-level CMakeLists.txt after the library is defined,
# so the copy shares its sources' directory-scoped properties.
option(CARVE_VALGRIND "Annotate carve's host pools for Valgrind memcheck" ON)
if(CARVE_VALGRIND)
  include(CheckIncludeFile)
  check_include_file(valgrind/memcheck.h CARVE_HAVE_VALGRIND)
  if(CARVE_HAVE_VALGRIND)
    target_compile_definitions(carve PRIVATE CARVE_HAVE_VALGRIND=1)
  endif()
endif()

if(NOT CARVE_BUILD_TESTS)
  return()
elseif(CARVE_SANITIZE MATCHES "(^|,)address(,|$)")
  add_library(carve_asan ALIAS carve)
elseif(CMAKE_C_COMPILER_ID MATCHES "GNU|Clang")
  include(CheckCSourceCompiles)
  set(CMAKE_REQUIRED_FLAGS "-fsanitize=address")
  set(CMAKE_REQUIRED_LINK_OPTIONS "-fsanitize=address")
  check_c_source_compiles("int main(void) { return 0; }" CARVE_ASAN_WORKS)
  unset(CMAKE_REQUIRED_FLAGS)
  unset(CMAKE_REQUIRED_LINK_OPTIONS)
  if(CARVE_ASAN_WORKS)
    get_target_property(carve_sources carve SOURCES)
    add_library(carve_asan STATIC EXCLUDE_FROM_ALL ${carve_sources})
    carve_copy_settings(carve_asan)
    target_compile_options(carve_asan PUBLIC -fsanitize=address -fno-omit-frame-pointer)
    target_link_options(carve_asan PUBLIC -fsanitize=address)
  endif()
endif()
