# SPDX-License-Identifier: Apache-2.0
# Tests of the audit log (exporters/audit) and the gRPC sink (exporters/grpc),
# in their own executables so they build and run apart from the other sinks'.
set(_here ${CMAKE_CURRENT_LIST_DIR})

if(TARGET bulkhead_audit)
  add_executable(bulkhead_audit_tests ${_here}/audit_test.cpp)
  target_link_libraries(bulkhead_audit_tests PRIVATE bulkhead_audit GTest::gtest_main)
  gtest_discover_tests(bulkhead_audit_tests DISCOVERY_TIMEOUT 30)

  # The audit log reader's fuzz target as a plain driver: ctest runs it over
  # seed logs and their one-byte mutations; tests/fuzz/run.sh builds the same
  # source under libFuzzer and starts its corpus with this driver's seeds.
  add_executable(bulkhead-audit-fuzz ${_here}/audit_fuzz.cpp)
  target_link_libraries(bulkhead-audit-fuzz PRIVATE bulkhead_audit PkgConfig::SODIUM)
  set(_seeds ${CMAKE_CURRENT_BINARY_DIR}/audit_fuzz_seeds)
  add_test(NAME AuditFuzz.SeedsAndMutations
           COMMAND bulkhead-audit-fuzz --seeds ${_seeds} ${_seeds})
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
