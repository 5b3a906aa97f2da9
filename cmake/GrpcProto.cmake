# SPDX-License-Identifier: Apache-2.0
# bulkhead_grpc_proto(TARGET PROTO): runs protoc with the gRPC plugin on
# PROTO (a .proto file) into a static library TARGET that carries the
# generated headers' include path. gRPC headers compile slowly: only the
# files that include the generated headers pay for them.

find_package(Protobuf REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(GRPCPP REQUIRED IMPORTED_TARGET grpc++)
find_program(BULKHEAD_GRPC_CPP_PLUGIN grpc_cpp_plugin REQUIRED)

function(bulkhead_grpc_proto target proto)
  get_filename_component(_dir ${proto} DIRECTORY)
  get_filename_component(_stem ${proto} NAME_WE)
  set(_gen ${CMAKE_CURRENT_BINARY_DIR}/${target}_gen)
  set(_files ${_gen}/${_stem}.pb.cc ${_gen}/${_stem}.pb.h ${_gen}/${_stem}.grpc.pb.cc ${_gen}/${_stem}.grpc.pb.h)
  add_custom_command(
    OUTPUT ${_files}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${_gen}
    COMMAND protobuf::protoc --proto_path=${_dir} --cpp_out=${_gen} --grpc_out=${_gen}
      --plugin=protoc-gen-grpc=${BULKHEAD_GRPC_CPP_PLUGIN} ${proto}
    DEPENDS ${proto}
    COMMENT "protoc: ${_stem}.proto"
    VERBATIM)
  add_library(${target} STATIC ${_files})
  target_include_directories(${target} PUBLIC ${_gen})
  target_link_libraries(${target} PUBLIC protobuf::libprotobuf PkgConfig::GRPCPP)
  target_compile_options(${target} PRIVATE -w)  # generated code is not ours to lint
endfunction()
