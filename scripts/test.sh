#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The README's second command and CI's: install dependencies, build, run the
# unit tests (ctest) and the kernel lab suite (e2e/lab.sh), and end with one
# line "N passed, M failed" over both.
set -uo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

scripts/install-deps.sh || exit 1
scripts/build.sh || exit 1
# The microVM tests' guest: Debian's kernel package, unpacked (never installed)
# into build/vm once; the kernel lab boots the same kernel.
build/userspace/bulkhead vm prepare --assets build/vm || exit 1
[ -e build/lab/kernel ] || { mkdir -p build/lab && ln -s ../vm/kernel build/lab/kernel; }

unit_log=$(mktemp)
(cd build && ctest --output-on-failure -j2) 2>&1 | tee "$unit_log"
unit_rc=${PIPESTATUS[0]}
unit_total=$(sed -n 's/.*tests passed, \([0-9]*\) tests failed out of \([0-9]*\).*/\2/p' "$unit_log" | tail -1)
unit_failed=$(sed -n 's/.*tests passed, \([0-9]*\) tests failed out of \([0-9]*\).*/\1/p' "$unit_log" | tail -1)
# GTEST_SKIP tests (each printed its reason above) count as skipped, not passed.
unit_skipped=$(grep -c '(Skipped)$' "$unit_log")

lab_log=$(mktemp)
e2e/lab.sh --mode test --timeout 2400 2>&1 | tee "$lab_log"
lab_rc=${PIPESTATUS[0]}
lab_line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$lab_log" | tail -1)
lab_passed=$(echo "$lab_line" | sed -n 's/^\([0-9]*\) passed.*/\1/p')
lab_failed=$(echo "$lab_line" | sed -n 's/.* \([0-9]*\) failed.*/\1/p')
lab_skipped=$(echo "$lab_line" | sed -n 's/.* \([0-9]*\) skipped.*/\1/p')

passed=$(( ${unit_total:-0} - ${unit_failed:-0} - ${unit_skipped:-0} + ${lab_passed:-0} ))
skipped=$(( ${unit_skipped:-0} + ${lab_skipped:-0} ))
failed=$(( ${unit_failed:-0} + ${lab_failed:-0} ))
[ "$unit_rc" -ne 0 ] && [ "${unit_failed:-0}" -eq 0 ] && failed=$((failed + 1))
[ "$lab_rc" -ne 0 ] && [ "${lab_failed:-0}" -eq 0 ] && failed=$((failed + 1))
echo
echo "unit: ${unit_total:-0} tests, ${unit_failed:-0} failed, ${unit_skipped:-0} skipped; lab: ${lab_line:-no result}"
echo "${passed} passed, ${failed} failed, ${skipped} skipped"
[ "$failed" -eq 0 ]
