#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The daemon as systemd runs it (packaging/systemd/bulkhead.service is
# Type=notify), on the packaged host and laptop configs:
#   - READY=1 comes once the control socket answers, with STATUS= naming the
#     level `bulkhead status` reports; /readyz and /healthz answer 200;
#   - SIGHUP (ExecReload) sends RELOADING=1, then READY=1 again;
#   - SIGTERM sends STOPPING=1 and the daemon exits 0.
# The configs' absolute paths (/run, /var/lib, /var/log, the rules) are moved
# under a temporary directory; every other key is loaded as shipped.
# Needs root, bpffs and a cgroup v2 mount; skips (exit 77, reason printed)
# when the host lacks them.
set -uo pipefail
bulkhead=$(realpath "${1:?usage: service_native.sh BULKHEAD PACKAGED_CONFIG_DIR}")
configs=$(realpath "${2:?usage: service_native.sh BULKHEAD PACKAGED_CONFIG_DIR}")
. "$(dirname "$0")/../../native_daemon.sh"
native_init service "BPF programs"
command -v python3 >/dev/null || { echo "SKIP: needs python3"; exit 77; }
rules_dir=$(cd "$(dirname "$0")/../../../rules/sets" && pwd)

# A datagram socket standing in for systemd's $NOTIFY_SOCKET: each message
# is appended to notify.log, followed by a line "--".
python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
while True:
    msg = s.recv(4096).decode()
    with open(sys.argv[2], "a") as f:
        f.write(msg + "\n--\n")' "$tmp/notify.sock" "$tmp/notify.log" &
native_pids+=($!)
native_logs+=("$tmp/notify.log")
for _ in $(seq 1 50); do [[ -S $tmp/notify.sock ]] && break; sleep 0.1; done
[[ -S $tmp/notify.sock ]] || fail "the notify listener did not start"
# The laptop config sends to /dev/log: a listener stands in for the journal.
python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
while True:
    s.recv(65536)' "$tmp/devlog" &
native_pids+=($!)

http_get() {  # http_get PATH: "STATUS BODY" from the metrics socket
    python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
s.sendall(("GET " + sys.argv[2] + " HTTP/1.1\r\nHost: x\r\n\r\n").encode())
data = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    data += b
head, _, body = data.decode().partition("\r\n\r\n")
print(head.split(" ")[1], body.strip().splitlines()[0] if body.strip() else "")' "$tmp/metrics.sock" "$1" 2>&1
}

wait_notify() {  # wait_notify TEXT: until notify.log has TEXT (5 s)
    for _ in $(seq 1 50); do
        grep -qxF "$1" "$tmp/notify.log" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

# Moves the config's paths under $tmp/NAME and points it at this test's
# pins, metrics socket and rules.
stage() {
    local name=$1 root=$tmp/$1
    mkdir -p "$root"
    sed -e "s|/run/bulkhead|$root/run|g" -e "s|/var/lib/bulkhead|$root/lib|g" \
        -e "s|/var/log/bulkhead|$root/log|g" -e "s|/dev/log|$tmp/devlog|g" \
        -e "s|^metrics: .*|metrics: unix:$tmp/metrics.sock|" \
        -e "s|^rules: .*|rules: [$rules_dir/agents.yaml]|" "$configs/$name.yaml" >"$root/config.yaml"
    grep -q '^metrics:' "$root/config.yaml" || echo "metrics: unix:$tmp/metrics.sock" >>"$root/config.yaml"
    echo "pin_root: $pin" >>"$root/config.yaml"
    socket=$root/run/control.sock
}

for config in bulkhead laptop; do
    stage "$config"
    : >"$tmp/notify.log"
    NOTIFY_SOCKET=$tmp/notify.sock "$bulkhead" daemon --config "$tmp/$config/config.yaml" --quiet \
        >"$tmp/daemon.log" 2>&1 &
    daemon_pid=$!
    for _ in $(seq 1 600); do
        grep -qx "READY=1" "$tmp/notify.log" 2>/dev/null && break
        kill -0 "$daemon_pid" 2>/dev/null || fail "$config: the daemon exited before READY=1"
        sleep 0.1
    done
    grep -qx "READY=1" "$tmp/notify.log" || fail "$config: no READY=1 in 60 s"
    # READY=1 means served: no retry here.
    status=$("$bulkhead" --socket "$socket" status 2>&1) || fail "$config: READY=1 but status failed: $status"
    level=$(sed -n 's/.*level=\([^ ]*\).*/\1/p' <<<"$status" | head -n1)
    [[ -n $level ]] || fail "$config: status names no level: $status"
    grep -q "^STATUS=enforcing at $level (fresh)$" "$tmp/notify.log" ||
        fail "$config: STATUS= does not name the level $level"
    [[ $(http_get /readyz) == "200 ready" ]] || fail "$config: /readyz answered '$(http_get /readyz)'"
    [[ $(http_get /healthz) == "200 ok" ]] || fail "$config: /healthz answered '$(http_get /healthz)'"
    grep -qx "bulkhead_ready 1" <(python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); s.connect(sys.argv[1])
s.sendall(b"GET /metrics HTTP/1.1\r\n\r\n"); d = b""
while (b := s.recv(65536)): d += b
print(d.decode())' "$tmp/metrics.sock") || fail "$config: /metrics has no bulkhead_ready 1"

    kill -HUP "$daemon_pid"
    wait_notify "RELOADING=1" || fail "$config: SIGHUP sent no RELOADING=1"
    for _ in $(seq 1 50); do
        [[ $(grep -cx "READY=1" "$tmp/notify.log") -ge 2 ]] && break
        sleep 0.1
    done
    [[ $(grep -cx "READY=1" "$tmp/notify.log") -ge 2 ]] || fail "$config: no READY=1 after the reload"
    grep -q "rules reloaded on SIGHUP" "$tmp/daemon.log" || fail "$config: the reload did not happen"

    kill -TERM "$daemon_pid"
    wait "$daemon_pid"
    rc=$?
    daemon_pid=""
    [[ $rc == 0 ]] || fail "$config: the daemon exited $rc on SIGTERM"
    wait_notify "STOPPING=1" || fail "$config: no STOPPING=1"
    "$bulkhead" unload --pin-root "$pin" >/dev/null 2>&1
    echo "PASS: $config.yaml: READY=1 at $level, /readyz and /healthz 200, reload and stop told"
done
[[ -e $tmp/laptop/log/events.jsonl ]] ||
    fail "laptop: no events log at $tmp/laptop/log/events.jsonl"
echo "PASS"
