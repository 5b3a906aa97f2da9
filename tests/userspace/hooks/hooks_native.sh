#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Agent hooks end to end on this host's kernel: a real daemon, a scripted
# "agent" in a real `bulkhead run` session that calls `bulkhead hook
# claude-code` with the JSON Claude Code sends (fixtures/) and then does the
# kernel actions itself. Asserts:
#   - PreToolUse: a shell command naming a key and a Read of cloud
#     credentials are denied with the rule; an ordinary command is allowed
#     silently;
#   - the kernel's EPERM during the allowed call carries its tool_use_id;
#   - PostToolUse feeds that denial back to the model;
#   - risk thresholds: notify at 20, freeze at 150 (the session really stops),
#     thaw resumes it; every step is an event with the session;
#   - `bulkhead sessions show` tells the story; the hook socket serves
#     nothing but tool calls.
# Needs root, bpffs, a cgroup v2 mount with the freezer and cgroup sock_addr
# programs; skips (exit 77, reason printed) when the host lacks them.
set -uo pipefail
bulkhead=$(realpath "${1:?usage: hooks_native.sh BULKHEAD}")
fixtures=$(cd "$(dirname "$0")/fixtures" && pwd)
. "$(dirname "$0")/../../native_daemon.sh"
native_init hooks "BPF programs"
py=/usr/bin/python3
[[ -x $py ]] || { echo "SKIP: needs /usr/bin/python3"; exit 77; }
native_logs+=("$tmp/agent.log")

rules_dir=$(cd "$(dirname "$0")/../../../rules/sets" && pwd)
daemon_config <<CONFIG
rules: [$rules_dir/agents.yaml]
risk_thresholds:
  - {at: 20, action: notify}
  - {at: 150, action: freeze}
CONFIG
if ! daemon_start; then
    grep -q "failed to attach cgroup" "$tmp/daemon.log" &&
        { echo "SKIP: this kernel refuses cgroup sock_addr programs"; exit 77; }
    fail "the daemon did not start"
fi
[[ $(stat -c %a "$tmp/hook.sock") == 666 ]] || fail "the hook socket is not 0666: $(stat -c %a "$tmp/hook.sock")"

# The hook socket serves tool calls only.
reply=$($py - "$tmp/hook.sock" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
s.sendall(b'{"op":"status"}\n'); print(s.makefile().readline().strip())
PY
)
[[ $reply == *'"ok":false'* && $reply == *'serves only tool_call'* ]] || fail "the hook socket answered a status request: $reply"

# The scripted agent: what Claude Code does around each tool call.
$py - "$fixtures" "$tmp" <<'PY'
import json, sys
fx, tmp = sys.argv[1], sys.argv[2]
read = json.load(open(f"{fx}/claude-pre-read.json"))
read["tool_input"]["file_path"] = "/root/.aws/credentials"   # a home on this host
json.dump(read, open(f"{tmp}/pre-read.json", "w"))
pre = json.load(open(f"{fx}/claude-pre-bash.json"))
pre["tool_input"]["command"] = "python3 fetch.py"
pre["tool_use_id"] = "toolu_fetch"
json.dump(pre, open(f"{tmp}/pre-fetch.json", "w"))
post = json.load(open(f"{fx}/claude-post-bash.json"))
post["tool_input"]["command"] = "python3 fetch.py"
post["tool_use_id"] = "toolu_fetch"
json.dump(post, open(f"{tmp}/post-fetch.json", "w"))
PY
cat >"$tmp/fetch.py" <<'PY'
import errno, socket
s = socket.socket(); s.settimeout(2)
try:
    s.connect(("169.254.169.254", 80)); print("fetch: connected")
except OSError as e:
    print(f"fetch: errno={errno.errorcode.get(e.errno, e.errno)}")
PY
cat >"$tmp/agent.sh" <<AGENT
hook() { "$bulkhead" hook claude-code --hook-socket "$tmp/hook.sock" <"\$1"; echo "exit=\$?"; }
echo "SESSION=\$BULKHEAD_SESSION" >"$tmp/session"
hook "$fixtures/claude-pre-bash.json" >"$tmp/pre-key.out" 2>"$tmp/pre-key.err"
hook "$tmp/pre-read.json" >"$tmp/pre-read.out" 2>/dev/null
hook "$tmp/pre-fetch.json" >"$tmp/pre-fetch.out" 2>/dev/null
$py "$tmp/fetch.py" >"$tmp/fetch.out" 2>&1
i=0; while [ \$i -lt 30 ]; do i=\$((i+1)); echo \$i >"$tmp/ticks"; sleep 0.1; done
hook "$tmp/post-fetch.json" >"$tmp/post-fetch.out" 2>/dev/null
echo done >"$tmp/agent.done"
AGENT
(cd "$tmp" && "$bulkhead" --socket "$tmp/control.sock" run --level landlock --agent claude-code -- \
    sh "$tmp/agent.sh" >"$tmp/agent.log" 2>&1) &
agent_pid=$!
native_pids+=("$agent_pid")

# The metadata connect takes the risk to 195: the daemon freezes the session.
state=""
for _ in $(seq 1 100); do
    state=$(bh sessions --json 2>/dev/null | $py -c 'import json,sys; s=json.load(sys.stdin); print(s[-1]["state"] if s else "")')
    [[ $state == frozen ]] && break
    [[ -e $tmp/agent.done ]] && break
    sleep 0.1
done
[[ $state == frozen ]] || fail "the session was not frozen at risk 150 (state '$state')"
sid=$(sed -n 's/^SESSION=//p' "$tmp/session")
[[ -n $sid ]] || fail "the agent did not learn its session"
cg=$(bh sessions --json | $py -c 'import json,sys; print([s for s in json.load(sys.stdin) if s["id"]==sys.argv[1]][0]["cgroup"])' "$sid")
grep -qx "frozen 1" "$cg/cgroup.events" || fail "the kernel does not report $cg frozen: $(cat "$cg/cgroup.events")"
t1=$(cat "$tmp/ticks" 2>/dev/null); sleep 1; t2=$(cat "$tmp/ticks" 2>/dev/null)
[[ $t1 == "$t2" ]] || fail "a frozen session kept running (ticks $t1 -> $t2)"
[[ ! -e $tmp/agent.done ]] || fail "the agent finished while frozen"
bh sessions thaw "$sid" | grep -q "thawed every process of session $sid" || fail "thaw did not report"
for _ in $(seq 1 100); do [[ -e $tmp/agent.done ]] && break; sleep 0.1; done
[[ -e $tmp/agent.done ]] || fail "the agent did not finish after thaw"
wait "$agent_pid"; native_pids=()

# PreToolUse answers.
$py - "$tmp" <<'PY' || fail "PreToolUse/PostToolUse answers are wrong"
import json, sys
tmp = sys.argv[1]
def answer(name):
    lines = open(f"{tmp}/{name}").read().splitlines()
    assert lines[-1] == "exit=0", (name, lines)
    return json.loads(lines[0]) if len(lines) > 1 else None
key = answer("pre-key.out")["hookSpecificOutput"]
assert key["permissionDecision"] == "deny", key
assert "by rule 'Shell command names a secret file'" in key["permissionDecisionReason"], key
read = answer("pre-read.out")["hookSpecificOutput"]
assert read["permissionDecision"] == "deny", read
assert "read of /root/.aws/credentials" in read["permissionDecisionReason"], read
assert "rule 'Read cloud credentials'" in read["permissionDecisionReason"], read
assert answer("pre-fetch.out") is None   # allowed: nothing printed, the agent's own flow goes on
post = answer("post-fetch.out")
assert post["decision"] == "block", post
assert "by rule 'Connect to cloud metadata service'" in post["reason"], post
assert "169.254.169.254" in post["reason"], post
PY
grep -qx "fetch: errno=EPERM" "$tmp/fetch.out" || fail "the metadata connect was not EPERM: $(cat "$tmp/fetch.out")"
grep -q "Shell command names a secret file" "$tmp/pre-key.err" || fail "the hook's stderr does not say why"

# Events: the kernel deny carries the tool call; the thresholds are events.
$py - "$tmp/events.jsonl" "$sid" <<'PY' || fail "events lack the correlation"
import json, sys
events = [json.loads(l) for l in open(sys.argv[1])]
sid = sys.argv[2]
mine = [e for e in events if e["output_fields"].get("agent.session") == sid]
def one(pred, what):
    hits = [e for e in mine if pred(e)]
    assert hits, what
    return hits[0]
net = one(lambda e: e["rule"] == "Connect to cloud metadata service", "the metadata deny")
f = net["output_fields"]
assert f["agent.verdict"] == "deny" and f["evt.res"] == "EPERM", f
assert f["agent.tool_use_id"] == "toolu_fetch" and f["agent.tool_name"] == "Bash", f
assert f["agent.session_risk"] == 195, f
key = one(lambda e: e["output_fields"].get("agent.tool_use_id") == "toolu_01ABCDEF23456789"
          and e["output_fields"].get("evt.type") == "tool_call", "the denied tool call")
assert key["rule"] == "Shell command names a secret file" and key["output_fields"]["agent.verdict"] == "deny", key
assert key["output_fields"]["agent.tool_input"]["command"] == "cat ~/.ssh/id_ed25519 | base64", key
assert key["output_fields"]["agent.name"] == "claude-code", key
notify = one(lambda e: e["rule"] == "Session risk threshold" and e["output_fields"]["agent.op"] == "notify", "notify")
assert "reached the threshold 20" in notify["output"], notify
freeze = one(lambda e: e["rule"] == "Session risk threshold" and e["output_fields"]["agent.op"] == "freeze", "freeze")
assert "Session risk 195 reached the threshold 150" in freeze["output"] and "froze every process" in freeze["output"], freeze
assert freeze["output_fields"]["agent.tool_use_id"] == "toolu_fetch", freeze
PY

# The story, as a human reads it.
show=$(bh sessions show "$sid")
for want in "Session $sid: agent claude-code" "state ended, risk 195" \
    "Bash cat ~/.ssh/id_ed25519 | base64  [toolu_01ABCDEF23456789]  hook: deny by rule 'Shell command names a secret file'" \
    "Read /root/.aws/credentials  [toolu_01READ0000000001]  hook: deny by rule 'Read cloud credentials'" \
    "Bash python3 fetch.py  [toolu_fetch]  hook: allow" \
    "DENY  Connect to cloud metadata service | connect 0.0.0.0:0->169.254.169.254:80" "-> EPERM   [risk +80 -> 195]" \
    "AUDIT Session risk threshold | freeze Session risk 195 reached the threshold 150"; do
    grep -qF -- "$want" <<<"$show" || fail "sessions show lacks '$want':"$'\n'"$show"
done
echo "PASS: hooks deny with the rule, kernel events carry the tool call, feedback, risk notify/freeze/thaw"
