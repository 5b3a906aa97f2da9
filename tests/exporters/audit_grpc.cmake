# SPDX-License-Identifier: Apache-2.0
# Tests of the audit log (exporters/audit) and the gRPC sink (exporters/grpc),
# in their own executables so they build and run apart from the other sinks'.
set(_here ${CMAKE_CURRENT_LIST_DIR})

if(TARGET bulkhead_audit)
  add_executable(bulkhead_audit_tests ${_here}/audit_test.cpp)
  target_link_libraries(bulkhead_audit_tests PRIVATE bulkhead_audit GTest::gtest_main)
  gtest_discover_tests(bulkhead_audit_tests DISCOVERY_TIMEOUT 30)
endif()
