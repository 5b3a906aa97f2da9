# SPDX-License-Identifier: Apache-2.0
# The audit log and gRPC benchmarks (exporters/audit, exporters/grpc).
set(_here ${CMAKE_CURRENT_LIST_DIR})
if(TARGET bulkhead_audit)
  add_executable(bulkhead-audit-bench ${_here}/audit_bench.cpp)
  target_link_libraries(bulkhead-audit-bench PRIVATE bulkhead_audit)
endif()
if(TARGET bulkhead_grpc)
  add_executable(bulkhead-grpc-bench ${_here}/grpc_bench.cpp)
  target_link_libraries(bulkhead-grpc-bench PRIVATE bulkhead_grpc bulkhead_grpc_proto)
endif()
