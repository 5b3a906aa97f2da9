#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Level 2 (landlock+seccomp) overhead on this host, as ratios against bare
# runs interleaved in the same run:
#   bare      bulkhead-opbench alone, no daemon loaded
#   sandbox   inside `bulkhead run --level landlock` (Landlock + seccomp +
#             no_new_privs, the shipped rules), no daemon
#   +daemon   the same with the daemon running: its tracepoint observer,
#             the net guard on the session cgroup, the ask broker
# and the ask broker's own cost (bulkhead-ask-bench). Needs root.
#
#   bench/level2/bench.sh [BUILD_DIR] [ROUNDS]
set -uo pipefail
build=$(realpath "${1:-build}")
rounds=${2:-5}
bulkhead=$build/userspace/bulkhead
opbench=$build/bench/bulkhead-opbench
askbench=$build/bench/ask/bulkhead-ask-bench
die() { echo "level2-bench: $*" >&2; exit 1; }
[[ $(id -u) == 0 ]] || die "needs root (the daemon loads BPF programs)"
for x in "$bulkhead" "$opbench" "$askbench"; do [[ -x $x ]] || die "$x is not built"; done

tmp=$(mktemp -d /var/tmp/bulkhead-l2bench.XXXXXX)
pin=/sys/fs/bpf/bulkhead-bench-$$
daemon_pid=""
stop_daemon() {
    [[ -n $daemon_pid ]] && kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null
    daemon_pid=""
    "$bulkhead" unload --pin-root "$pin" >/dev/null 2>&1  # pinned programs outlive the daemon
}
trap 'stop_daemon; rm -rf "$tmp"' EXIT
cat >"$tmp/config.yaml" <<EOF
socket: $tmp/control.sock
hook_socket: $tmp/hook.sock
pin_root: $pin
spool_root: $tmp/spool
EOF
mkdir -p "$tmp/ws"
args=(--dir "$tmp/ws/open" --batches 9 --iters fork-exec=30 --iters getpid=100000
      --iters openat-close=20000 --iters openat-missing=20000 --iters connect-udp=20000)

bare() { "$opbench" "${args[@]}"; }
sandbox() {
    (cd "$tmp/ws" && "$bulkhead" --socket "$tmp/none.sock" run --level landlock -- "$opbench" "${args[@]}" 2>/dev/null)
}
daemon() {
    "$bulkhead" daemon --config "$tmp/config.yaml" --quiet >"$tmp/daemon.log" 2>&1 &
    daemon_pid=$!
    for _ in $(seq 1 100); do
        "$bulkhead" --socket "$tmp/control.sock" status >/dev/null 2>&1 && break
        sleep 0.2
    done
    "$bulkhead" --socket "$tmp/control.sock" status >/dev/null 2>&1 || die "the daemon did not start: $(tail -n 5 "$tmp/daemon.log")"
    (cd "$tmp/ws" && "$bulkhead" --socket "$tmp/control.sock" run --level landlock -- "$opbench" "${args[@]}" 2>/dev/null)
    stop_daemon
}

: >"$tmp/results"
for round in $(seq 1 "$rounds"); do
    for config in bare sandbox daemon; do
        "$config" | sed "s/^/config=$config round=$round /" >>"$tmp/results" || die "$config failed"
    done
done

python3 - "$tmp/results" <<'EOF'
import re, statistics, sys
runs = {}
for line in open(sys.argv[1]):
    kv = dict(re.findall(r"(\w+)=(\S+)", line))
    runs.setdefault((kv["op"], kv["config"]), []).append(int(kv["median_ns"]))
ops = sorted({op for op, _ in runs}, key=["openat-close", "openat-missing", "connect-udp", "fork-exec", "getpid"].index)
print(f"{'op':16} {'bare ns':>10} {'sandbox':>9} {'+daemon':>9}   (median of per-round medians; ratios to bare)")
for op in ops:
    m = {c: statistics.median(runs[(op, c)]) for c in ("bare", "sandbox", "daemon")}
    print(f"{op:16} {m['bare']:10.0f} {m['sandbox'] / m['bare']:8.2f}x {m['daemon'] / m['bare']:8.2f}x")
EOF
echo
echo "ask (bulkhead-ask-bench, one run):"
"$askbench" 2000 9
