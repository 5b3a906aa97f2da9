# SPDX-License-Identifier: Apache-2.0
# bulkhead_bpf_object(NAME): builds bpf/NAME.bpf.c with clang (-target bpf,
# CO-RE, BTF) into NAME.bpf.o and generates NAME.skel.h with bpftool. The
# target `bpf_NAME` carries the include path of the skeleton.

find_program(BULKHEAD_CLANG NAMES clang clang-16 clang-15 clang-14)
find_program(BULKHEAD_BPFTOOL NAMES bpftool PATHS /usr/sbin /usr/local/sbin)
find_package(PkgConfig REQUIRED)

if(NOT BULKHEAD_CLANG)
  message(FATAL_ERROR "bulkhead: clang not found; BPF programs need clang >= 12 "
                      "(run scripts/install-deps.sh)")
endif()
execute_process(COMMAND ${BULKHEAD_CLANG} -dumpversion OUTPUT_VARIABLE _clang_ver
                OUTPUT_STRIP_TRAILING_WHITESPACE)
if(_clang_ver VERSION_LESS 12)
  message(FATAL_ERROR "bulkhead: clang ${_clang_ver} is too old; need >= 12 for BPF CO-RE")
endif()
if(NOT BULKHEAD_BPFTOOL)
  message(FATAL_ERROR "bulkhead: bpftool not found; it generates vmlinux.h and skeletons "
                      "(run scripts/install-deps.sh)")
endif()
pkg_check_modules(LIBBPF libbpf>=1.0)
if(NOT LIBBPF_FOUND)
  message(FATAL_ERROR "bulkhead: libbpf >= 1.0 not found by pkg-config (Debian: libbpf-dev)")
endif()

set(BULKHEAD_BTF_SOURCE "/sys/kernel/btf/vmlinux" CACHE FILEPATH
    "Kernel BTF from which vmlinux.h is generated")
if(NOT EXISTS ${BULKHEAD_BTF_SOURCE})
  message(FATAL_ERROR "bulkhead: ${BULKHEAD_BTF_SOURCE} is missing; the kernel needs "
                      "CONFIG_DEBUG_INFO_BTF=y, or set -DBULKHEAD_BTF_SOURCE=<file>")
endif()

set(BULKHEAD_BPF_GEN ${CMAKE_BINARY_DIR}/bpf)
file(MAKE_DIRECTORY ${BULKHEAD_BPF_GEN})
# Generated at configure time: every BPF object in every folder needs it,
# and CO-RE relocates its types to the running kernel at load time.
if(NOT EXISTS ${BULKHEAD_BPF_GEN}/vmlinux.h)
  execute_process(
    COMMAND ${BULKHEAD_BPFTOOL} btf dump file ${BULKHEAD_BTF_SOURCE} format c
    OUTPUT_FILE ${BULKHEAD_BPF_GEN}/vmlinux.h
    RESULT_VARIABLE _btf_rc)
  if(NOT _btf_rc EQUAL 0)
    file(REMOVE ${BULKHEAD_BPF_GEN}/vmlinux.h)
    message(FATAL_ERROR "bulkhead: bpftool could not dump ${BULKHEAD_BTF_SOURCE}")
  endif()
endif()

if(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64")
  set(_bpf_arch x86)
elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "aarch64|arm64")
  set(_bpf_arch arm64)
else()
  message(FATAL_ERROR "bulkhead: unsupported architecture ${CMAKE_SYSTEM_PROCESSOR}")
endif()

function(bulkhead_bpf_object name)
  set(src ${CMAKE_SOURCE_DIR}/bpf/${name}.bpf.c)
  set(obj ${BULKHEAD_BPF_GEN}/${name}.bpf.o)
  set(skel ${BULKHEAD_BPF_GEN}/${name}.skel.h)
  file(GLOB _bpf_headers ${CMAKE_SOURCE_DIR}/bpf/include/*.h ${CMAKE_SOURCE_DIR}/bpf/lib/*.h)
  add_custom_command(
    OUTPUT ${obj}
    COMMAND ${BULKHEAD_CLANG} -g -O2 -Wall -Werror -target bpf -D__TARGET_ARCH_${_bpf_arch}
            -I${BULKHEAD_BPF_GEN} -I${CMAKE_SOURCE_DIR}/bpf -I${CMAKE_SOURCE_DIR}/bpf/include
            -c ${src} -o ${obj}
    DEPENDS ${src} ${_bpf_headers} ${BULKHEAD_BPF_GEN}/vmlinux.h
    COMMENT "BPF ${name}.bpf.c")
  add_custom_command(
    OUTPUT ${skel}
    COMMAND ${BULKHEAD_BPFTOOL} gen skeleton ${obj} name ${name}_bpf > ${skel}
    DEPENDS ${obj}
    COMMENT "BPF skeleton ${name}.skel.h")
  add_custom_target(bpf_${name}_gen DEPENDS ${skel})
  add_library(bpf_${name} INTERFACE)
  add_dependencies(bpf_${name} bpf_${name}_gen)
  target_include_directories(bpf_${name} INTERFACE ${BULKHEAD_BPF_GEN} ${CMAKE_SOURCE_DIR}/bpf/include)
  target_link_libraries(bpf_${name} INTERFACE ${LIBBPF_LINK_LIBRARIES})
endfunction()
