#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The net guard on this host's own kernel (no BPF LSM needed): a real daemon,
# real `bulkhead run` sessions at landlock+seccomp, real sockets.
#   - a metadata-address connect and UDP send get EPERM, with the event;
#   - a session connects out before it reads .env, and gets EPERM after;
#     loopback and the taint allow list still work; the event names the read;
#   - the next session starts untainted.
# Needs root, bpffs, a cgroup v2 mount and cgroup sock_addr programs; skips
# (exit 77, reason printed) when the host lacks them.
set -uo pipefail
bulkhead=${1:?usage: net_guard_native.sh BULKHEAD}
[[ $(id -u) == 0 ]] || { echo "SKIP: needs root (BPF programs)"; exit 77; }
grep -q " cgroup2 " /proc/self/mountinfo || { echo "SKIP: no cgroup v2 mount"; exit 77; }
command -v python3 >/dev/null || { echo "SKIP: needs python3"; exit 77; }

tmp=$(mktemp -d /var/tmp/bulkhead-netguard.XXXXXX)
pin=/sys/fs/bpf/bulkhead-test-$$
daemon_pid=""
http_pid=""
cleanup() {
    [[ -n $daemon_pid ]] && kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null
    [[ -n $http_pid ]] && kill "$http_pid" 2>/dev/null
    "$bulkhead" unload --pin-root "$pin" >/dev/null 2>&1
    rm -rf "$tmp"
}
trap cleanup EXIT; [[ -n ${KEEP:-} ]] && trap "" EXIT
fail() { echo "FAIL: $*"; echo "---- daemon log:"; tail -n 30 "$tmp/daemon.log"; exit 1; }

cat >"$tmp/config.yaml" <<EOF
socket: $tmp/control.sock
pin_root: $pin
spool_root: $tmp/spool
taint_allow: ["10.99.0.0/16"]
EOF
"$bulkhead" daemon --config "$tmp/config.yaml" --events-log "$tmp/events.jsonl" >"$tmp/daemon.log" 2>&1 &
daemon_pid=$!
for _ in $(seq 1 100); do
    "$bulkhead" --socket "$tmp/control.sock" status >/dev/null 2>&1 && break
    kill -0 "$daemon_pid" 2>/dev/null || break
    sleep 0.2
done
if ! "$bulkhead" --socket "$tmp/control.sock" status >/dev/null 2>&1; then
    grep -q "failed to attach cgroup" "$tmp/daemon.log" &&
        { echo "SKIP: this kernel refuses cgroup sock_addr programs"; exit 77; }
    fail "the daemon did not start"
fi

python3 -m http.server 0 --bind 127.0.0.1 >"$tmp/http.log" 2>&1 &
http_pid=$!
port=""
for _ in $(seq 1 50); do
    port=$(sed -n 's/.*port \([0-9]*\).*/\1/p' "$tmp/http.log" | head -n1)
    [[ -n $port ]] && break
    sleep 0.1
done
[[ -n $port ]] || fail "the loopback HTTP server did not start"

cat >"$tmp/probe.py" <<'EOF'
import errno, socket, sys
for arg in sys.argv[1:]:
    if arg.startswith("read:"):
        try:
            data = open(arg[5:]).read()
            print(f"{arg} ok {len(data)} bytes")
        except OSError as e:
            print(f"{arg} errno={errno.errorcode.get(e.errno, e.errno)}")
        continue
    udp = arg.startswith("udp:")
    host, port = arg.removeprefix("udp:").rsplit(":", 1)
    s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET,
                      socket.SOCK_DGRAM if udp else socket.SOCK_STREAM)
    s.settimeout(1)
    try:
        s.sendto(b"x", (host, int(port))) if udp else s.connect((host, int(port)))
        print(f"{arg} ok")
    except OSError as e:
        print(f"{arg} errno={errno.errorcode.get(e.errno, e.errno) if e.errno else 'timeout'}")
EOF
mkdir -p "$tmp/ws"
echo "API_KEY=BULKHEAD-SECRET-ENV" >"$tmp/ws/.env"

session() {
    (cd "$tmp/ws" && "$bulkhead" --socket "$tmp/control.sock" run --level landlock --agent test -- \
        sh -c 'echo "SESSION=$BULKHEAD_SESSION"; exec python3 "$0" "$@"' "$tmp/probe.py" "$@" 2>"$tmp/run.err")
}
expect() {  # expect OUTPUT LINE
    grep -qxF -- "$2" <<<"$1" || fail "expected '$2' in the session's output:"$'\n'"$1"
}
refuse() {  # refuse OUTPUT PREFIX: the line for PREFIX must not be an EPERM
    local line
    line=$(grep -F -- "$2 " <<<"$1" | head -n1)
    [[ -n $line && $line != *EPERM* ]] || fail "expected '$2' to be allowed, got '${line:-nothing}'"
}

out=$(session 169.254.169.254:80 udp:169.254.169.254:53 192.0.2.1:9 127.0.0.1:"$port" \
    "read:$tmp/ws/.env" 192.0.2.1:9 udp:192.0.2.1:53 127.0.0.1:"$port" 10.99.0.1:9)
echo "$out"
sid=$(sed -n 's/^SESSION=//p' <<<"$out")
[[ -n $sid ]] || fail "no session id: $(cat "$tmp/run.err")"
expect "$out" "169.254.169.254:80 errno=EPERM"
expect "$out" "udp:169.254.169.254:53 errno=EPERM"
expect "$out" "127.0.0.1:$port ok"
expect "$out" "read:$tmp/ws/.env ok 28 bytes"
# After the read: out is closed, loopback and the allow list are not.
after=$(sed -n '/^read:/,$p' <<<"$out")
expect "$after" "192.0.2.1:9 errno=EPERM"
expect "$after" "udp:192.0.2.1:53 errno=EPERM"
expect "$after" "127.0.0.1:$port ok"
refuse "$after" "10.99.0.1:9"
# Before the read the same address was not refused by bulkhead.
before=$(sed -n '1,/^read:/p' <<<"$out")
refuse "$before" "192.0.2.1:9"

sleep 1  # the daemon reads the ring buffer asynchronously
python3 - "$tmp/events.jsonl" "$sid" "$tmp/ws/.env" <<'EOF' || fail "events"
import json, sys
path, sid, env = sys.argv[1:]
evs = [json.loads(l) for l in open(path) if l.strip()]
mine = [e for e in evs if str(e["output_fields"].get("agent.session")) == sid]
def find(rule, **fields):
    for e in mine:
        f = e["output_fields"]
        if e["rule"] == rule and all(f.get(k) == v for k, v in fields.items()):
            return e
    sys.exit(f"no '{rule}' event with {fields} for session {sid}; rules seen: {sorted({e['rule'] for e in mine})}")
find("Connect to cloud metadata service", **{"agent.verdict": "deny", "evt.type": "connect",
     "fd.sip": "169.254.169.254", "fd.sport": 80, "evt.res": "EPERM"})
find("Connect to cloud metadata service", **{"agent.verdict": "deny", "evt.type": "sendto", "fd.sport": 53})
t = find("Read environment secrets file", **{"evt.type": "open"})
assert t["output_fields"]["agent.level"] == "landlock+seccomp", t
g = find("Egress of a tainted session", **{"agent.verdict": "deny", "fd.sip": "192.0.2.1", "evt.res": "EPERM"})
assert "Read environment secrets file" in g["output_fields"].get("agent.taint", ""), g
for e in mine:
    f = e["output_fields"]
    if f.get("fd.sip") in ("127.0.0.1", "10.99.0.1") and f.get("agent.verdict") == "deny":
        sys.exit(f"loopback or allow-listed connect denied: {e}")
print("events ok")
EOF

# A new session starts clean.
out2=$(session 192.0.2.1:9)
echo "$out2"
refuse "$out2" "192.0.2.1:9"
echo "PASS"
