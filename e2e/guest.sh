#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Runs inside the lab guest (chroot of the overlay root; see e2e/lab.sh):
#   guest.sh test|demo|bench
# Writes $LAB_OUT/results.txt: one "PASS name", "FAIL name: reason" or
# "SKIP name: reason" line per case. The host prints the summary.
set -uo pipefail

mode=${1:?usage: guest.sh test|demo|bench}
: "${LAB_OUT:?}" "${LAB_REPO:?}" "${LAB_BUILD_DIR:?}"
cd "$LAB_REPO"
. e2e/lib.sh
export LAB_OUT LAB_REPO LAB_BUILD_DIR E2E_LIB=$LAB_REPO/e2e/lib.sh

echo "guest: kernel $(uname -r), lsm=$(cat /sys/kernel/security/lsm 2>/dev/null), mode=$mode"

# One line in results.txt for the scripted modes: their exit status.
record_script() {
    local name=$1 rc=$2
    if ((rc == 0)); then
        echo "PASS $name" >>"$LAB_OUT/results.txt"
    else
        echo "FAIL $name: exited $rc (see the console log)" >>"$LAB_OUT/results.txt"
    fi
}

case $mode in
    test)
        exec /usr/bin/python3 e2e/runner.py --cases e2e/cases --filter "${LAB_FILTER:-*}" \
            --out "$LAB_OUT" --repo "$LAB_REPO" --build-dir "$LAB_BUILD_DIR"
        ;;
    demo)
        bash e2e/demo.sh
        rc=$?
        record_script demo "$rc"
        ;;
    bench)
        bash bench/lab/bench.sh
        rc=$?
        record_script bench "$rc"
        ;;
    *)
        echo "guest: unknown mode $mode" >&2
        exit 2
        ;;
esac
cp -f "$EVENTS_LOG" "$DAEMON_LOG" "$LAB_OUT/" 2>/dev/null
exit "$rc"
