#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The README's first command: install dependencies, build, and show a
# misbehaving agent session being contained, at the strongest enforcement
# level this machine offers: natively when the host runs BPF LSM programs,
# otherwise in the kernel lab (Debian's kernel with BPF LSM under QEMU).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

scripts/install-deps.sh
scripts/build.sh

if build/userspace/bulkhead doctor >/tmp/bulkhead-doctor.txt 2>&1; then
    echo "demo: this host enforces at bpf-lsm; running the demo natively"
    exec bash e2e/demo.sh
fi
cat /tmp/bulkhead-doctor.txt
echo
echo "demo: this host cannot run BPF LSM programs; running the demo in the kernel lab"
exec e2e/lab.sh --mode demo
