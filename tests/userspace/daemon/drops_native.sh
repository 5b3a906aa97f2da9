#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Kernel drops become events: a session floods the observer with connects
# while the daemon is stopped (SIGSTOP), so the ring buffer fills past the
# observer's half; after SIGCONT the daemon reports a "Kernel events dropped"
# event with the count, and the metrics endpoint counts the same drops.
# Needs root, bpffs, a cgroup v2 mount and cgroup sock_addr programs; skips
# (exit 77, reason printed) when the host lacks them.
set -uo pipefail
bulkhead=$(realpath "${1:?usage: drops_native.sh BULKHEAD}")
. "$(dirname "$0")/../../native_daemon.sh"
native_init drops "BPF programs"
command -v python3 >/dev/null || { echo "SKIP: needs python3"; exit 77; }
command -v curl >/dev/null || { echo "SKIP: needs curl"; exit 77; }

rules_dir=$(cd "$(dirname "$0")/../../../rules/sets" && pwd)
daemon_config <<EOF
rules: [$rules_dir/agents.yaml]
metrics: unix:$tmp/metrics.sock
EOF
if ! daemon_start; then
    grep -q "failed to attach cgroup" "$tmp/daemon.log" &&
        { echo "SKIP: this kernel refuses cgroup sock_addr programs"; exit 77; }
    fail "the daemon did not start"
fi
mkdir -p "$tmp/ws"
# The session waits for the go file, then connects to a closed loopback port
# 60,000 times (each connect is one observer event).
(cd "$tmp/ws" && bh run --level landlock --agent test -- python3 -c '
import os, socket, sys, time
open(sys.argv[1] + "/ready", "w").close()
while not os.path.exists(sys.argv[1] + "/go"):
    time.sleep(0.05)
for _ in range(60000):
    s = socket.socket()
    try:
        s.connect(("127.0.0.1", 9))
    except OSError:
        pass
    s.close()
open(sys.argv[1] + "/flooded", "w").close()' "$tmp" >"$tmp/run.out" 2>&1) &
native_pids+=($!)
native_logs+=("$tmp/run.out")
for _ in $(seq 1 100); do [[ -e $tmp/ready ]] && break; sleep 0.1; done
[[ -e $tmp/ready ]] || fail "the session did not start"
kill -STOP "$daemon_pid"
touch "$tmp/go"
for _ in $(seq 1 600); do [[ -e $tmp/flooded ]] && break; sleep 0.1; done
kill -CONT "$daemon_pid"
[[ -e $tmp/flooded ]] || fail "the session did not finish its connects"
for _ in $(seq 1 100); do grep -q '"Kernel events dropped"' "$tmp/events.jsonl" 2>/dev/null && break; sleep 0.1; done
python3 - "$tmp/events.jsonl" <<'PY' >"$tmp/drops.count" || fail "no drops event: $(tail -c 600 "$tmp/events.jsonl")"
import json, sys
drops = [json.loads(l) for l in open(sys.argv[1]) if '"Kernel events dropped"' in l]
assert drops, "no Kernel events dropped event"
total = sum(d["output_fields"]["agent.dropped"] for d in drops)
assert total > 0, drops
assert drops[0]["priority"] == "Warning", drops[0]
print(total)
PY
metric=$(curl -s --unix-socket "$tmp/metrics.sock" http://localhost/metrics | sed -n 's/^bulkhead_kernel_drops_total \([0-9]*\)$/\1/p')
[[ -n $metric ]] || fail "the metrics endpoint has no bulkhead_kernel_drops_total"
((metric >= $(cat "$tmp/drops.count"))) || fail "metrics count $metric drops, the events $(cat "$tmp/drops.count")"
echo "PASS: $(cat "$tmp/drops.count") kernel drops reported as events and in metrics"
