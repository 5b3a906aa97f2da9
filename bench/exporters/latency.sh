#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Latency from a kernel event to its delivery at a SIEM receiver, through the
# real daemon: a session's connects to the metadata address are denied by the
# net guard (cgroup connect4, no BPF LSM needed); each denial's event goes
# ring buffer -> daemon -> rules -> syslog UDP sink -> a receiver on loopback.
# Latency = arrival time at the receiver - the kernel's timestamp of the event
# (RFC 5424 TIMESTAMP, microseconds). The baseline, in the same run: the same
# receiver's one-way latency for datagrams a sender stamps itself.
# Prints p50 and p99 of both and their ratio, and the daemon process's CPU
# (user + system, all threads, from /proc) per 10,000 kernel events, its
# idle CPU over the same wall time subtracted. Needs root.
#
#   bench/exporters/latency.sh [BUILD_DIR] [EVENTS] [RATE_PER_S]
set -uo pipefail
build=$(realpath "${1:-build}")
events=${2:-3000}
rate=${3:-500}
bulkhead=$build/userspace/bulkhead
die() { echo "latency-bench: $*" >&2; exit 1; }
[[ $(id -u) == 0 ]] || die "needs root (the daemon loads BPF programs)"
[[ -x $bulkhead ]] || die "$bulkhead is not built"
command -v python3 >/dev/null || die "needs python3"

tmp=$(mktemp -d /var/tmp/bulkhead-latency.XXXXXX)
pin=/sys/fs/bpf/bulkhead-latency-$$
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null; "$bulkhead" unload --pin-root "$pin" >/dev/null 2>&1; rm -rf "$tmp"' EXIT

# The receiver: one line per datagram, "arrival_ns kind stamp".
cat >"$tmp/receiver.py" <<'PY'
import datetime, socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1], flush=True)
out = open(sys.argv[1], "w", buffering=1)
while True:
    data = s.recv(65536)
    now = time.time_ns()
    if data.startswith(b"baseline "):
        out.write(f"{now} baseline {int(data.split()[1])}\n")
        continue
    if b"Connect to cloud metadata service" not in data:
        continue
    # <PRI>1 TIMESTAMP HOST ...: TIMESTAMP is RFC 3339 with microseconds, UTC.
    stamp = data.split(b" ", 2)[1].decode()
    t = datetime.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)
    us = int(t.timestamp()) * 1_000_000 + t.microsecond
    out.write(f"{now} kernel {us * 1000}\n")
PY
python3 "$tmp/receiver.py" "$tmp/arrivals" >"$tmp/port" &
pids+=($!)
for _ in $(seq 1 50); do [[ -s $tmp/port ]] && break; sleep 0.1; done
port=$(head -n1 "$tmp/port")
[[ -n $port ]] || die "the receiver did not start"

rules=$(cd "$(dirname "$0")/../../rules/sets" && pwd)/agents.yaml
cat >"$tmp/config.yaml" <<EOF
rules: [$rules]
socket: $tmp/control.sock
hook_socket: $tmp/hook.sock
pin_root: $pin
spool_root: $tmp/spool
metrics: unix:$tmp/metrics.sock
exporters:
  - {name: siem, type: syslog, transport: udp, host: 127.0.0.1, port: $port, spool: {max_bytes: 0}}
EOF
"$bulkhead" daemon --config "$tmp/config.yaml" --quiet >"$tmp/daemon.log" 2>&1 &
daemon=$!
pids+=($daemon)
for _ in $(seq 1 100); do
    "$bulkhead" --socket "$tmp/control.sock" status >/dev/null 2>&1 && break
    sleep 0.2
done
"$bulkhead" --socket "$tmp/control.sock" status >/dev/null 2>&1 || die "the daemon did not start: $(tail -n 5 "$tmp/daemon.log")"

# utime + stime of the daemon in clock ticks (fields 14 and 15 after the
# parenthesised comm, which may hold spaces).
daemon_ticks() { sed 's/.*) //' "/proc/$daemon/stat" | awk '{print $12 + $13}'; }
idle_start=$(daemon_ticks); idle_t0=$(date +%s%N)
sleep 2
idle_ticks=$(($(daemon_ticks) - idle_start)); idle_ns=$(($(date +%s%N) - idle_t0))

# Baseline and load interleaved in one session: a stamped datagram, then a
# denied connect, at the given rate.
mkdir -p "$tmp/ws"
load_start=$(daemon_ticks); load_t0=$(date +%s%N)
(cd "$tmp/ws" && "$bulkhead" --socket "$tmp/control.sock" run --level landlock --agent bench -- python3 -c '
import socket, sys, time
n, rate, port = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(n):
    u.sendto(b"baseline %d" % time.time_ns(), ("127.0.0.1", port))
    s = socket.socket()
    try:
        s.connect(("169.254.169.254", 80))
    except OSError:
        pass
    s.close()
    time.sleep(1 / rate)
' "$events" "$rate" "$port" >/dev/null 2>"$tmp/run.err") || die "the session failed: $(tail -n 3 "$tmp/run.err")"
sleep 2  # the last events are still on their way
load_ticks=$(($(daemon_ticks) - load_start)); load_ns=$(($(date +%s%N) - load_t0))
# Every event the daemon handled (the observer's too, not only the denials).
handled=$(curl -s --unix-socket "$tmp/metrics.sock" http://localhost/metrics |
    awk '/^bulkhead_events_total/ {n += $NF} END {print n + 0}')

python3 - "$tmp/arrivals" "$events" "$(getconf CLK_TCK)" "$idle_ticks" "$idle_ns" "$load_ticks" "$load_ns" "$handled" <<'PY'
import sys
kernel, base = [], []
for line in open(sys.argv[1]):
    now, kind, stamp = line.split()
    (kernel if kind == "kernel" else base).append((int(now) - int(stamp)) / 1000)
def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p / 100))]
if not kernel or not base:
    sys.exit(f"latency-bench: no events arrived (kernel {len(kernel)}, baseline {len(base)})")
print(f"events: {len(kernel)} of {sys.argv[2]} kernel events arrived, {len(base)} baseline datagrams")
for p in (50, 99):
    k, b = pct(kernel, p), pct(base, p)
    print(f"p{p}: kernel event -> SIEM {k:.0f} us, baseline (loopback UDP) {b:.0f} us, ratio {k / max(b, 1):.1f}x")
hz, idle_ticks, idle_ns, load_ticks, load_ns, handled = (int(x) for x in sys.argv[3:9])
idle_ms = idle_ticks / hz * 1000 * load_ns / idle_ns  # idle CPU scaled to the load's wall time
load_ms = load_ticks / hz * 1000
busy = load_ms - idle_ms
print(f"daemon CPU: {load_ms:.0f} ms over the run ({idle_ms:.0f} ms of it idle work); it handled {handled} events "
      f"(denials and the observer's): {busy / max(handled, 1) * 10000:.0f} ms per 10,000 events, "
      f"{busy / len(kernel) * 10000:.0f} ms per 10,000 denials (clock tick {1000 / hz:.0f} ms)")
PY
