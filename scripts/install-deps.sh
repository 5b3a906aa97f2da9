#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs every build, test and kernel-lab dependency from Debian's archive.
# Idempotent: packages already present are skipped by apt; the lab kernel is
# unpacked into build/lab/kernel (never installed onto the host).
set -euo pipefail

packages=(
  build-essential cmake pkg-config git
  clang llvm libclang-rt-14-dev libbpf-dev bpftool libelf-dev zlib1g-dev
  libseccomp-dev libspdlog-dev libfmt-dev libcli11-dev libyaml-cpp-dev libyaml-dev
  nlohmann-json3-dev libre2-dev libsodium-dev libssl-dev
  protobuf-compiler libprotobuf-dev libgrpc++-dev protobuf-compiler-grpc
  libgtest-dev libgmock-dev googletest
  qemu-system-x86 busybox-static cpio gzip kmod iproute2 python3
  libcurl4-openssl-dev openssl rsyslog rsyslog-openssl rsyslog-relp
  systemd dpkg-dev
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done

export DEBIAN_FRONTEND=noninteractive
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  echo "install-deps: all ${#packages[@]} packages present"
fi
