# carve_faulty: the library built once more with CARVE_FAULT_INJECTION
# (host/fault.h), for the fault-injection tests only: every host
# allocation and fallible OpenCL call of carve's becomes a point a test can
# make fail. Never installed. Included from the top-level CMakeLists.txt
# after the library is defined, so the copy shares its sources' properties.
if(NOT CARVE_BUILD_TESTS)
  return()
endif()
get_target_property(carve_faulty_sources carve SOURCES)
add_library(carve_faulty STATIC EXCLUDE_FROM_ALL ${carve_faulty_sources}
            ${PROJECT_SOURCE_DIR}/host/fault.c)
carve_copy_settings(carve_faulty)
target_compile_definitions(carve_faulty PUBLIC CARVE_FAULT_INJECTION=1)
target_include_directories(carve_faulty INTERFACE ${PROJECT_SOURCE_DIR}/host)
if(CARVE_HAVE_SVM)
  # the SVM calls' wrappers, as host/region/backend_svm.c sees them
  set_source_files_properties(host/fault.c PROPERTIES COMPILE_OPTIONS
    "-UCL_TARGET_OPENCL_VERSION;-DCL_TARGET_OPENCL_VERSION=200")
endif()
