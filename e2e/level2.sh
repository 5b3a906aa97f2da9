#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The attack cases at level 2, natively on this host: every session case of
# e2e/cases runs under `bulkhead run --level landlock` with the daemon
# (level observe) running, and is classified blocked ERRNO / detected /
# not-covered (e2e/runner.py --level). The table must equal
# e2e/level2.expected, so a case that regresses fails the test; refresh the
# file (UPDATE=1) when a change improves coverage, and the README's table
# with it.
#
# The cases read and write /root, /tmp and /run: they run in a private mount
# namespace with tmpfs over those, so the host's files are never touched.
#   e2e/level2.sh BUILD_DIR
set -uo pipefail
build=$(realpath "${1:?usage: level2.sh BUILD_DIR}")
repo=$(cd "$(dirname "$0")/.." && pwd)
[[ $(id -u) == 0 ]] || { echo "SKIP: needs root (the daemon)"; exit 77; }
[[ -x $build/e2e/bulkhead-attack && -x $build/userspace/bulkhead ]] || { echo "level2: build first"; exit 1; }
doctor=$("$build/userspace/bulkhead" doctor 2>&1)
grep -q "ok    landlock" <<<"$doctor" || { echo "SKIP: no Landlock on this kernel"; exit 77; }
[[ -e /sys/fs/bpf/bulkhead ]] &&
    { echo "SKIP: a bulkhead daemon's objects are pinned at /sys/fs/bpf/bulkhead (a real install); not touching them"; exit 77; }
command -v git >/dev/null || { echo "SKIP: needs git (the fixtures)"; exit 77; }

out=$(mktemp -d /var/tmp/bulkhead-level2.XXXXXX)
trap '"$build/userspace/bulkhead" unload >/dev/null 2>&1; [[ -z ${KEEP:-} ]] && rm -rf "$out"' EXIT
unshare --mount --propagation private bash -c '
    set -e
    for d in /root /tmp /run; do mount -t tmpfs -o mode=0755 tmpfs "$d"; done
    chmod 0700 /root; chmod 1777 /tmp
    mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
    DAEMON_WAIT=60 exec /usr/bin/python3 "$1/e2e/runner.py" --cases "$1/e2e/cases" --out "$2" \
        --repo "$1" --build-dir "$3" --level landlock
' level2 "$repo" "$out" "$build" >"$out/runner.log" 2>&1
rc=$?
grep -E "^(LEVEL2|FAIL) " "$out/results.txt" | sort >"$out/table"
if ((rc != 0)) || ! [[ -s $out/table ]]; then
    echo "level2: the runner failed (exit $rc):"; tail -n 30 "$out/runner.log"; exit 1
fi
cat "$out/table"
if [[ -n ${UPDATE:-} ]]; then
    cp "$out/table" "$repo/e2e/level2.expected"
    echo "level2: wrote e2e/level2.expected"
    exit 0
fi
if ! diff -u "$repo/e2e/level2.expected" "$out/table"; then
    echo "FAIL: the level-2 table changed (above: - expected, + now); see $out/cases/*.log (KEEP=1 keeps them)"
    exit 1
fi
echo "PASS: $(grep -c '^LEVEL2' "$out/table") cases as expected"
