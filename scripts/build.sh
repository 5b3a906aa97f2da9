#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Configures and builds everything (binary, BPF objects, tests, lab tools).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=/usr >/dev/null
cmake --build build -j2
