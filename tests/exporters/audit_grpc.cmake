# SPDX-License-Identifier: Apache-2.0
# Tests of the audit log (exporters/audit) and the gRPC sink (exporters/grpc),
# in their own executables so they build and run apart from the other sinks'.
set(_here ${CMAKE_CURRENT_LIST_DIR})

if(TARGET bulkhead_audit)
  add_executable(bulkhead_audit_tests ${_here}/audit_test.cpp)
  target_link_libraries(bulkhead_audit_tests PRIVATE bulkhead_audit GTest::gtest_main)
  gtest_discover_tests(bulkhead_audit_tests DISCOVERY_TIMEOUT 30)

  # The audit log reader's fuzz target: libFuzzer under clang with
  # -DBULKHEAD_FUZZ=ON, otherwise a driver that ctest runs over seed logs.
  option(BULKHEAD_FUZZ "Build fuzz targets with libFuzzer (needs clang)" OFF)
  add_executable(bulkhead-audit-fuzz ${_here}/audit_fuzz.cpp)
  target_link_libraries(bulkhead-audit-fuzz PRIVATE bulkhead_audit PkgConfig::SODIUM)
  if(BULKHEAD_FUZZ AND CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    target_compile_definitions(bulkhead-audit-fuzz PRIVATE BULKHEAD_LIBFUZZER)
    target_compile_options(bulkhead-audit-fuzz PRIVATE -fsanitize=fuzzer,address,undefined)
    target_link_options(bulkhead-audit-fuzz PRIVATE -fsanitize=fuzzer,address,undefined)
  else()
    set(_seeds ${CMAKE_CURRENT_BINARY_DIR}/audit_fuzz_seeds)
    add_test(NAME AuditFuzz.SeedsAndMutations
             COMMAND bulkhead-audit-fuzz --seeds ${_seeds} ${_seeds})
  endif()
endif()

if(TARGET bulkhead_grpc)
  add_executable(bulkhead_grpc_tests ${_here}/grpc_test.cpp)
  target_link_libraries(bulkhead_grpc_tests PRIVATE bulkhead_grpc bulkhead_grpc_proto GTest::gtest_main)
  # Options structs are filled with designated initializers, leaving defaults.
  target_compile_options(bulkhead_grpc_tests PRIVATE -Wno-missing-field-initializers)
  # Each test starts servers and waits on real sockets; TLS cases wait on
  # handshakes that must fail.
  gtest_discover_tests(bulkhead_grpc_tests DISCOVERY_TIMEOUT 30 PROPERTIES TIMEOUT 120)
endif()
