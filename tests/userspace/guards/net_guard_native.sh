#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The net guard on this host's own kernel (no BPF LSM needed): a real daemon,
# real `bulkhead run` sessions at landlock+seccomp, real sockets.
#   - a metadata-address connect and UDP send get EPERM, with the event, and
#     so does ssh back into this host over loopback (a lineage escape);
#   - a session connects out before it reads .env, and gets EPERM after;
#     loopback and the taint allow list still work; the event names the read;
#   - the next session starts untainted;
#   - an allow list by host name: the daemon resolves the name through a
#     DNS server the test runs, the session reaches that address and gets
#     EPERM for another.
# Needs root, bpffs, a cgroup v2 mount and cgroup sock_addr programs; skips
# (exit 77, reason printed) when the host lacks them.
set -uo pipefail
bulkhead=$(realpath "${1:?usage: net_guard_native.sh BULKHEAD}")
. "$(dirname "$0")/../../native_daemon.sh"
native_init netguard "BPF programs"
command -v python3 >/dev/null || { echo "SKIP: needs python3"; exit 77; }

# A DNS server on loopback: allowed.bulkhead.test is 192.0.2.10, nothing else exists.
cat >"$tmp/dns.py" <<'EOF'
import socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1], flush=True)
while True:
    q, peer = s.recvfrom(512)
    qid, flags = struct.unpack(">HH", q[:4])
    i, labels = 12, []
    while q[i]:
        labels.append(q[i + 1:i + 1 + q[i]].decode()); i += 1 + q[i]
    qtype = struct.unpack(">H", q[i + 1:i + 3])[0]
    question = q[12:i + 5]
    name = ".".join(labels).lower()
    answers = b""
    if name == "allowed.bulkhead.test" and qtype == 1:
        answers = b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 300, 4) + socket.inet_aton("192.0.2.10")
    rcode = 0 if name == "allowed.bulkhead.test" else 3
    s.sendto(struct.pack(">HHHHHH", qid, 0x8180 | rcode, 1, 1 if answers else 0, 0, 0) + question + answers, peer)
EOF
python3 "$tmp/dns.py" >"$tmp/dns.port" 2>"$tmp/dns.err" &
native_pids+=($!)
for _ in $(seq 1 50); do [[ -s $tmp/dns.port ]] && break; sleep 0.1; done
dns_port=$(head -n1 "$tmp/dns.port")
[[ -n $dns_port ]] || fail "the test DNS server did not start: $(cat "$tmp/dns.err")"
cat >"$tmp/names.yaml" <<EOF
- rule: Connect to an unlisted host on port 7
  desc: the egress allow list by host name (test)
  condition: evt.type = connect and agent_session and fd.sport = 7 and not fd.sip.name in (allowed.bulkhead.test)
  output: Session connected to an unlisted host (dest=%fd.sip:%fd.sport session=%agent.session)
  priority: WARNING
  action: block
EOF
rules_dir=$(cd "$(dirname "$0")/../../../rules/sets" && pwd)
daemon_config <<EOF
rules: [$rules_dir/agents.yaml, $tmp/names.yaml]
taint_allow: ["10.99.0.0/16"]
nameservers: ["127.0.0.1:$dns_port"]
EOF
if ! daemon_start; then
    grep -q "failed to attach cgroup" "$tmp/daemon.log" &&
        { echo "SKIP: this kernel refuses cgroup sock_addr programs"; exit 77; }
    fail "the daemon did not start"
fi

http_server "$tmp"
port=$http_port

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
    (cd "$tmp/ws" && bh run --level landlock --agent test -- \
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

out=$(session 169.254.169.254:80 udp:169.254.169.254:53 127.0.0.1:22 ::1:22 192.0.2.1:9 127.0.0.1:"$port" \
    "read:$tmp/ws/.env" 192.0.2.1:9 udp:192.0.2.1:53 127.0.0.1:"$port" 10.99.0.1:9)
echo "$out"
sid=$(sed -n 's/^SESSION=//p' <<<"$out")
[[ -n $sid ]] || fail "no session id: $(cat "$tmp/run.err")"
expect "$out" "169.254.169.254:80 errno=EPERM"
expect "$out" "udp:169.254.169.254:53 errno=EPERM"
expect "$out" "127.0.0.1:22 errno=EPERM"  # SSH back into this host: a lineage escape
expect "$out" "::1:22 errno=EPERM"
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
find("SSH back into this host", **{"agent.verdict": "deny", "evt.type": "connect", "fd.sip": "127.0.0.1",
     "fd.sport": 22, "evt.res": "EPERM"})
find("SSH back into this host", **{"agent.verdict": "deny", "fd.sip": "::1", "fd.sport": 22})
t = find("Read environment secrets file", **{"evt.type": "open"})
assert t["output_fields"]["agent.level"] == "landlock+seccomp", t
g = find("Egress of a tainted session", **{"agent.verdict": "deny", "fd.sip": "192.0.2.1", "evt.res": "EPERM"})
assert "Read environment secrets file" in g["output_fields"].get("agent.taint", ""), g
for e in mine:
    f = e["output_fields"]
    if f.get("fd.sip") in ("127.0.0.1", "10.99.0.1") and f.get("agent.verdict") == "deny" and f.get("fd.sport") != 22:
        sys.exit(f"loopback or allow-listed connect denied: {e}")
print("events ok")
EOF

# A new session starts clean.
out2=$(session 192.0.2.1:9)
echo "$out2"
refuse "$out2" "192.0.2.1:9"

# The allow list by host name, once the daemon has resolved it.
for _ in $(seq 1 100); do
    grep -q "dns: allowed.bulkhead.test -> 192.0.2.10/32" "$tmp/daemon.log" && break
    sleep 0.1
done
grep -q "dns: allowed.bulkhead.test -> 192.0.2.10/32" "$tmp/daemon.log" || fail "the daemon did not resolve allowed.bulkhead.test"
out3=$(session 192.0.2.10:7 192.0.2.11:7)
echo "$out3"
refuse "$out3" "192.0.2.10:7"
expect "$out3" "192.0.2.11:7 errno=EPERM"
sid3=$(sed -n 's/^SESSION=//p' <<<"$out3")
sleep 1
python3 - "$tmp/events.jsonl" "$sid3" <<'EOF' || fail "host-name events"
import json, sys
path, sid = sys.argv[1:]
evs = [json.loads(l) for l in open(path) if l.strip()]
hits = [e for e in evs if e["output_fields"].get("agent.session") == sid and e["rule"] == "Connect to an unlisted host on port 7"]
assert [e["output_fields"]["fd.sip"] for e in hits] == ["192.0.2.11"], hits
assert hits[0]["output_fields"]["agent.verdict"] == "deny" and hits[0]["output_fields"]["evt.res"] == "EPERM", hits
named = [e for e in evs if e["output_fields"].get("agent.session") == sid and e["output_fields"].get("fd.sip") == "192.0.2.10"]
assert named and all(e["output_fields"].get("fd.sip.name") == "allowed.bulkhead.test" for e in named), named
print("host-name events ok")
EOF
echo "PASS"
