#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# "ask" end to end on this host's kernel: a real daemon with a rule whose
# action is ask, real `bulkhead run` sessions (landlock+seccomp), and the
# answers given by `bulkhead approve` / `bulkhead deny` from a second process.
#   - approved: the held open succeeds and the session reads the secret;
#   - denied: the open fails with EPERM and nothing leaks;
#   - unanswered: the timeout denies with EPERM;
#   - a process inside a session cannot answer (not even its own request);
#   - "for the rest of the session" answers the next request at once;
#   - each step is an event with the session, the id and who answered.
# Needs root (fanotify permission events, BPF); skips (exit 77, reason
# printed) when the host lacks them.
set -uo pipefail
bulkhead=$(realpath "${1:?usage: ask_native.sh BULKHEAD}")
. "$(dirname "$0")/../native_daemon.sh"
native_init ask "fanotify permission events"
command -v python3 >/dev/null || { echo "SKIP: needs python3"; exit 77; }

mkdir -p "$tmp/secret" "$tmp/ws"
echo "DEPLOY-TOKEN-BULKHEAD-7731" >"$tmp/secret/deploy-token"
cat >"$tmp/ask.yaml" <<EOF
- rule: Read the deploy token
  desc: a human decides whether an agent session may read the deploy token
  condition: open_read and agent_session and fd.name = $tmp/secret/deploy-token
  output: Session wants the deploy token (file=%fd.name proc=%proc.name session=%agent.session)
  priority: WARNING
  action: ask
  risk: 15
EOF
# The daemon and the sessions read the same rules: with the daemon holding
# the token, Landlock in the session leaves it to the broker.
rules_dir=$(cd "$(dirname "$0")/../../rules/sets" && pwd)
daemon_config <<EOF
rules: [$rules_dir/agents.yaml, $tmp/ask.yaml]
ask_timeout_seconds: 3
EOF
if ! daemon_start; then
    grep -q "action 'ask' needs fanotify" "$tmp/daemon.log" &&
        { echo "SKIP: $(grep -o "fanotify[^(]*" "$tmp/daemon.log" | head -n1)"; exit 77; }
    fail "the daemon did not start"
fi
bh status --json | python3 -c 'import json,sys; a=json.load(sys.stdin)["ask"]; assert a["available"] and a["watched"]==1, a' ||
    fail "the daemon does not hold the deploy token"

# A session that reads the token and reports errno; its output goes to a file.
start_reader() {  # start_reader NAME [extra command run first]
    (cd "$tmp/ws" && bh run --level landlock --config "$tmp/config.yaml" --agent test -- sh -c \
        'echo "SESSION=$BULKHEAD_SESSION"; '"${2:-}"' cat "$0" && echo READ-OK || echo READ-FAILED' \
        "$tmp/secret/deploy-token" >"$tmp/$1.out" 2>"$tmp/$1.err") &
}
wait_pending() {  # wait_pending SESSION_FILE → prints the request id
    local sid="" id
    for _ in $(seq 1 100); do
        sid=$(sed -n 's/^SESSION=//p' "$tmp/$1.out" 2>/dev/null)
        if [[ -n $sid ]]; then
            id=$(bh sessions --json | python3 -c '
import json, sys
for s in json.load(sys.stdin):
    if s["id"] == sys.argv[1] and s["pending"]:
        assert s["state"] == "asking", s
        print(s["pending"][0]["id"]); break' "$sid")
            [[ -n $id ]] && { echo "$id"; return 0; }
        fi
        sleep 0.1
    done
    return 1
}
finish() {  # finish NAME: waits for the session and prints its output
    for _ in $(seq 1 100); do
        grep -q "^READ-" "$tmp/$1.out" 2>/dev/null && break
        sleep 0.1
    done
    cat "$tmp/$1.out"
}

# 1. approved from a second process
start_reader approve
id=$(wait_pending approve) || fail "no pending request for the approve session: $(cat "$tmp/approve.err")"
bh sessions | grep -q "^$id " || fail "bulkhead sessions does not list $id"
bh approve "$id" || fail "approve $id"
out=$(finish approve)
grep -qx "DEPLOY-TOKEN-BULKHEAD-7731" <<<"$out" && grep -qx READ-OK <<<"$out" ||
    fail "approved read did not succeed: $out $(cat "$tmp/approve.err")"
sid_approve=$(sed -n 's/^SESSION=//p' <<<"$out")

# 2. denied, and a session process cannot answer (not even its own request)
start_reader deny
id=$(wait_pending deny) || fail "no pending request for the deny session"
self=$(cd "$tmp/ws" && bh run --level landlock --config "$tmp/config.yaml" --agent test -- \
    "$bulkhead" --socket "$tmp/control.sock" approve "$id" 2>&1)
grep -q "refused: the caller runs inside an agent session" <<<"$self" ||
    fail "a session process answered or got another error: $self"
bh deny "$id" || fail "deny $id"
out=$(finish deny)
grep -q "DEPLOY-TOKEN" <<<"$out" && fail "the denied read leaked the token: $out"
grep -qx READ-FAILED <<<"$out" && grep -q "Operation not permitted" "$tmp/deny.err" ||
    fail "denied read did not fail with EPERM: $out $(cat "$tmp/deny.err")"
sid_deny=$(sed -n 's/^SESSION=//p' <<<"$out")

# 3. nobody answers: the 3 s timeout denies
start_reader timeout
id=$(wait_pending timeout) || fail "no pending request for the timeout session"
out=$(finish timeout)
grep -q "DEPLOY-TOKEN" <<<"$out" && fail "the timed-out read leaked the token: $out"
grep -q "Operation not permitted" "$tmp/timeout.err" || fail "timeout did not give EPERM: $(cat "$tmp/timeout.err")"
sid_timeout=$(sed -n 's/^SESSION=//p' <<<"$out")

# 4. "for the rest of the session": the second read is not asked again
start_reader standing 'cat "$0" >/dev/null && echo FIRST-OK;'
id=$(wait_pending standing) || fail "no pending request for the standing session"
bh approve "$id" --session || fail "approve --session $id"
out=$(finish standing)
grep -qx FIRST-OK <<<"$out" && grep -qx READ-OK <<<"$out" || fail "standing approval: $out"
sid_standing=$(sed -n 's/^SESSION=//p' <<<"$out")

# Outside every session the file opens at once.
timeout 5 cat "$tmp/secret/deploy-token" >/dev/null || fail "a process outside sessions was held"

sleep 1
python3 - "$tmp/events.jsonl" "$sid_approve" "$sid_deny" "$sid_timeout" "$sid_standing" "$tmp/secret/deploy-token" <<'EOF' || fail "events"
import json, sys
path, approve, deny, timeout, standing, token = sys.argv[1:]
evs = [json.loads(l) for l in open(path) if l.strip()]
def asks(sid):
    return [e for e in evs if e["output_fields"].get("agent.session") == sid and e["rule"] == "Read the deploy token"]
def one(sid, verdict):
    got = [e for e in asks(sid) if e["output_fields"]["agent.verdict"] == verdict]
    if not got:
        sys.exit(f"session {sid}: no '{verdict}' ask event; got {[e['output_fields']['agent.verdict'] for e in asks(sid)]}")
    f = got[0]["output_fields"]
    assert f["fd.name"] == token and f["agent.ask_id"].startswith("a") and f["evt.type"] == "open", f
    assert f["agent.level"] == "landlock+seccomp", f
    return got[0]
p = one(approve, "ask")
assert p["output_fields"]["agent.risk"] == 15 and p["priority"] == "Warning", p
a = one(approve, "allow")
assert "(uid 0, pid " in a["output_fields"]["agent.decided_by"] and a["output_fields"]["evt.res"] == "SUCCESS", a
assert a["output_fields"]["fd.ino"] == p["output_fields"]["fd.ino"] > 0, (a, p)
d = one(deny, "deny")
assert d["output_fields"]["evt.res"] == "EPERM" and "uid 0" in d["output_fields"]["agent.decided_by"], d
t = one(timeout, "deny")
assert "agent.decided_by" not in t["output_fields"] and "timeout" in t["output_fields"]["agent.detail"], t
s = [e for e in asks(standing) if e["output_fields"]["agent.verdict"] == "allow"]
assert len(s) >= 2 and any("for this session" in e["output_fields"]["agent.detail"] for e in s), s
print("events ok")
EOF
echo "PASS"
