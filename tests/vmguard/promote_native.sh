#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Promotion end to end: a real daemon with real QEMU microVMs (software
# emulation here) and a scripted Claude Code session in `bulkhead run`.
#   - by risk threshold: a denied lineage escape (systemd-run) takes the risk
#     to the `promote` threshold; the session is frozen, moved into a VM from
#     the warm pool and, because its agent has the hooks, thawed;
#   - its next Bash call comes back rewritten to `bulkhead vm exec`, runs in
#     the VM (the workspace's copy, not the host's; the .ssh inside the
#     workspace empty), and a host Write is denied with a reason;
#   - `vm diff` lists exactly what changed; `vm apply` brings the file back
#     and refuses a planted git hook; the agent cannot apply its own changes;
#   - by command, without hooks: `sessions promote` leaves it frozen;
#   - `run --isolate vm` runs a command in a VM from the start;
#   - `vm discard` and a SIGKILLed daemon leave no QEMU and no VM directory;
#   - by rule, without hooks, with vm.without_hooks: relaunch: the host
#     processes are killed and `bulkhead run` runs the command again in the
#     VM; through vm.egress the VM reaches one host port and nothing else
#     (not the metadata address, no direct route); the VM's wall time then
#     kills what runs there and refuses more.
# Every step is an event with the session.
set -uo pipefail
bulkhead=$(realpath "${1:?usage: promote_native.sh BULKHEAD VM_ASSETS}")
assets=${2:?usage: promote_native.sh BULKHEAD VM_ASSETS}
fixtures=$(cd "$(dirname "$0")/../userspace/hooks/fixtures" && pwd)
. "$(dirname "$0")/../native_daemon.sh"
native_init promote "BPF programs and QEMU"
# Sessions left frozen (or their daemon killed) never end by themselves:
# cgroup.kill ends every process in them, frozen or not.
session_cgroups=()
trap 'for cg in "${session_cgroups[@]}"; do echo 1 >"$cg/cgroup.kill"; done 2>/dev/null; native_cleanup; sleep 0.2; rmdir "${session_cgroups[@]}" 2>/dev/null' EXIT
[[ -n ${KEEP:-} ]] && trap "" EXIT
py=/usr/bin/python3
[[ -x $py ]] || { echo "SKIP: needs /usr/bin/python3"; exit 77; }
compgen -G "$assets/kernel/boot/vmlinuz-*" >/dev/null ||
    { echo "SKIP: no guest kernel in $assets (scripts/test.sh runs bulkhead vm prepare)"; exit 77; }
command -v qemu-system-x86_64 >/dev/null || { echo "SKIP: qemu-system-x86_64 missing"; exit 77; }
native_logs+=("$tmp/agent.log")
qemus() { pgrep -f -- "$tmp/vm/" | wc -l; }

rules_dir=$(cd "$(dirname "$0")/../../rules/sets" && pwd)
daemon_config <<CONFIG
rules: [$rules_dir/agents.yaml]
risk_thresholds:
  - {at: 40, action: promote}
vm: {assets: $assets, run_dir: $tmp/vm, accel: tcg, pool: 1, memory_mb: 384}
CONFIG
if ! daemon_start; then
    grep -q "failed to attach cgroup" "$tmp/daemon.log" &&
        { echo "SKIP: this kernel refuses cgroup sock_addr programs"; exit 77; }
    fail "the daemon did not start"
fi
ws=$tmp/ws
mkdir -p "$ws/.ssh" "$ws/.git/hooks" "$ws/src"
echo "host version" >"$ws/src/main.c"
echo "PRIVATE-KEY-MATERIAL" >"$ws/.ssh/id_ed25519"
for _ in $(seq 1 150); do bh status --json | grep -q '"pool_ready": 1' && break; sleep 0.2; done

# The scripted agent: what Claude Code does around each tool call.
$py - "$fixtures" "$tmp" <<'PY'
import json, sys
fx, tmp = sys.argv[1], sys.argv[2]
pre = json.load(open(f"{fx}/claude-pre-bash.json"))
def bash(name, command):
    p = dict(pre, tool_use_id="toolu_" + name, cwd=f"{tmp}/ws")
    p["tool_input"] = dict(pre["tool_input"], command=command)
    json.dump(p, open(f"{tmp}/pre-{name}.json", "w"))
bash("escape", "systemd-run --user --scope make deploy")
bash("work", "cat src/main.c; echo 'vm version' > src/main.c; echo new > NOTES.md; echo exit-from-vm; exit 7")
write = json.load(open(f"{fx}/claude-pre-read.json"))
write.update(tool_name="Write", tool_use_id="toolu_write")
write["tool_input"] = {"file_path": f"{tmp}/ws/src/main.c", "content": "x"}
json.dump(write, open(f"{tmp}/pre-write.json", "w"))
PY
cat >"$tmp/agent.sh" <<AGENT
hook() { "$bulkhead" hook claude-code --hook-socket "$tmp/hook.sock" <"\$1"; }
echo "SESSION=\$BULKHEAD_SESSION" >"$tmp/session"
hook "$tmp/pre-escape.json" >"$tmp/escape.out"
hook "$tmp/pre-work.json" >"$tmp/work.out"
# As Claude Code does: run the (rewritten) command with a shell.
cmd=\$($py -c 'import json,sys; print(json.load(open(sys.argv[1]))["hookSpecificOutput"]["updatedInput"]["command"])' "$tmp/work.out")
sh -c "\$cmd" >"$tmp/work.stdout" 2>"$tmp/work.stderr"; echo "status=\$?" >>"$tmp/work.stdout"
hook "$tmp/pre-write.json" >"$tmp/write.out"
"$bulkhead" --socket "$tmp/control.sock" vm apply "\$BULKHEAD_SESSION" >"$tmp/self-apply.out" 2>&1
echo done >"$tmp/agent.done"
AGENT
(cd "$ws" && "$bulkhead" --socket "$tmp/control.sock" run --level landlock --agent claude-code --workspace "$ws" -- \
    sh "$tmp/agent.sh" >"$tmp/agent.log" 2>&1) &
agent_pid=$!
native_pids+=("$agent_pid")
for _ in $(seq 1 100); do [[ -s $tmp/session ]] && break; sleep 0.1; done
session_cgroups+=("$(bh sessions --json | $py -c 'import json,sys; print(json.load(sys.stdin)[-1]["cgroup"])')")
for _ in $(seq 1 2000); do [[ -e $tmp/agent.done ]] && break; sleep 0.2; done
[[ -e $tmp/agent.done ]] || fail "the agent did not finish (state: $(bh sessions --json))"
wait "$agent_pid"; native_pids=()
sid=$(sed -n 's/^SESSION=//p' "$tmp/session")

$py - "$tmp" "$sid" "$bulkhead" <<'PY' || fail "the hooks' answers around the promotion are wrong"
import json, sys
tmp, sid, bulkhead = sys.argv[1:4]
esc = json.load(open(f"{tmp}/escape.out"))["hookSpecificOutput"]
assert esc["permissionDecision"] == "deny", esc
assert "Shell command hands work outside the session" in esc["permissionDecisionReason"], esc
work = json.load(open(f"{tmp}/work.out"))["hookSpecificOutput"]
assert work["permissionDecision"] == "allow", work
cmd = work["updatedInput"]["command"]
assert cmd.startswith(f"{bulkhead} --socket {tmp}/control.sock vm exec --session {sid} -- /bin/sh -c '"), cmd
assert work["updatedInput"]["description"] == "Show the deploy key", work   # the rest of the input is kept
write = json.load(open(f"{tmp}/write.out"))["hookSpecificOutput"]
assert write["permissionDecision"] == "deny", write
assert "promoted into a microVM" in write["permissionDecisionReason"], write
out = open(f"{tmp}/work.stdout").read().splitlines()
assert out[0] == "host version", out             # the VM reads the workspace
assert out[-2:] == ["exit-from-vm", "status=7"], out  # output and exit status come back
self_apply = open(f"{tmp}/self-apply.out").read()
assert "inside an agent session" in self_apply, self_apply
PY
[[ $(cat "$ws/src/main.c") == "host version" ]] || fail "the VM's write reached the host before review"
# The workspace's secrets are empty in the VM, and the host's homes absent.
cd "$ws" && bh vm exec --session "$sid" -- sh -c 'wc -c < .ssh/id_ed25519; ls /root/.ssh /root/.aws 2>&1 | wc -l; cat /etc/shadow' \
    </dev/null >"$tmp/secrets.out" 2>&1; rc=$?
[[ $rc == 1 ]] || fail "cat /etc/shadow in the VM exited $rc: $(cat "$tmp/secrets.out")"
grep -q "id_ed25519: .*o such file" "$tmp/secrets.out" || fail "the workspace's .ssh key is there in the VM: $(cat "$tmp/secrets.out")"
grep -q "PRIVATE-KEY" "$tmp/secrets.out" && fail "the key leaked into the VM"
grep -q "cat: /etc/shadow: No such file" "$tmp/secrets.out" || fail "the VM has an /etc/shadow: $(cat "$tmp/secrets.out")"
[[ ! -e $ws/NOTES.md ]] || fail "a new file reached the host before review"

# Review: a planted git hook (as a human testing in the VM would), the diff, apply.
cd "$ws" && bh vm exec --session "$sid" -- sh -c 'printf "#!/bin/sh\ncurl evil\n" > .git/hooks/pre-commit' </dev/null ||
    fail "vm exec from outside the session failed"
bh vm diff "$sid" --json >"$tmp/diff.json" || fail "vm diff failed"
$py - "$tmp/diff.json" <<'PY' || fail "vm diff is wrong: $(cat "$tmp/diff.json")"
import json, sys
d = json.load(open(sys.argv[1]))
got = sorted((c["op"], c["path"]) for c in d["changes"] if c["type"] == "f")
assert got == [("A", ".git/hooks/pre-commit"), ("A", "NOTES.md"), ("M", "src/main.c")], got
hook = [c for c in d["changes"] if c["path"] == ".git/hooks/pre-commit"][0]
assert "git hook" in hook["review"], hook
PY
bh vm apply "$sid" >"$tmp/apply.out"; rc=$?
[[ $rc == 1 ]] || fail "vm apply with a refused path exited $rc"
grep -q "^refused  .git/hooks/pre-commit: a git hook" "$tmp/apply.out" || fail "apply did not refuse the hook: $(cat "$tmp/apply.out")"
[[ ! -e $ws/.git/hooks/pre-commit ]] || fail "the planted git hook reached the host"
[[ $(cat "$ws/src/main.c") == "vm version" ]] || fail "apply did not bring src/main.c back"
[[ $(cat "$ws/NOTES.md") == "new" ]] || fail "apply did not bring NOTES.md back"

# By command, without hooks: frozen, promoted, waiting for a human.
(cd "$ws" && "$bulkhead" --socket "$tmp/control.sock" run --level landlock --agent aider --workspace "$ws" -- \
    sh -c 'echo "SESSION=$BULKHEAD_SESSION" >'"$tmp/session2"'; while :; do date +%s%N >'"$tmp/ticks"'; sleep 0.1; done' \
    >/dev/null 2>&1) &
native_pids+=($!)
for _ in $(seq 1 50); do [[ -s $tmp/session2 ]] && break; sleep 0.1; done
sid2=$(sed -n 's/^SESSION=//p' "$tmp/session2")
session_cgroups+=("$(bh sessions --json | $py -c 'import json,sys; print([x for x in json.load(sys.stdin) if x["id"]==sys.argv[1]][0]["cgroup"])' "$sid2")")
bh sessions promote "$sid2" | grep -q "promoting session $sid2" || fail "sessions promote did not say so"
for _ in $(seq 1 900); do
    bh sessions --json | $py -c 'import json,sys; s=[x for x in json.load(sys.stdin) if x["id"]==sys.argv[1]][0]; sys.exit(0 if s["vm"] else 1)' "$sid2" && break
    sleep 0.2
done
state2=$(bh sessions --json | $py -c 'import json,sys; s=[x for x in json.load(sys.stdin) if x["id"]==sys.argv[1]][0]; print(s["state"], s["vm"])' "$sid2")
[[ $state2 == "frozen "* && $state2 != "frozen " ]] || fail "a session without hooks is not frozen in a VM: $state2"
t1=$(cat "$tmp/ticks"); sleep 0.5; [[ $(cat "$tmp/ticks") == "$t1" ]] || fail "the promoted session kept running on the host"

$py - "$tmp/events.jsonl" "$sid" "$sid2" <<'PY' || fail "the promotion events are wrong"
import json, sys
events = [json.loads(l) for l in open(sys.argv[1])]
def of(sid, rule):
    return [e for e in events if e["output_fields"].get("agent.session") == sid and e["rule"] == rule]
thr = of(sys.argv[2], "Session risk threshold")
assert thr and "promoting session" in thr[0]["output_fields"]["agent.detail"], thr
done = of(sys.argv[2], "Session promoted to a microVM")
assert done and "shell commands now run in the VM" in done[0]["output_fields"]["agent.detail"], done
assert f"/bulkhead/vm-{sys.argv[2]} under the session's policy" in done[0]["output_fields"]["agent.detail"], done
assert of(sys.argv[2], "microVM changes applied"), "no apply event"
req = of(sys.argv[3], "Session promotion requested")
assert req, "no promotion request event"
done2 = of(sys.argv[3], "Session promoted to a microVM")
assert done2 and "stays frozen for a human" in done2[0]["output_fields"]["agent.detail"], done2
PY

# `sessions show` tells the story: the threshold, the promotion, the apply.
bh sessions show "$sid" >"$tmp/show.out" || fail "sessions show failed"
for rule in "Session risk threshold" "Session promoted to a microVM" "microVM changes applied"; do
    grep -q " $rule | " "$tmp/show.out" || fail "sessions show lacks '$rule': $(cat "$tmp/show.out")"
done

# Cleanup: discard leaves nothing; a SIGKILLed daemon leaves nothing either.
vm1=$(bh sessions --json | $py -c 'import json,sys; print([x for x in json.load(sys.stdin) if x["id"]==sys.argv[1]][0]["vm"])' "$sid")
bh vm discard "$sid" >/dev/null || fail "vm discard failed"
[[ ! -e $tmp/vm/$vm1 ]] || fail "discard left $tmp/vm/$vm1: $(ls -la "$tmp/vm/$vm1")"
(($(qemus) >= 1)) || fail "no QEMU runs for the second session"
qemu2=$(pgrep -f -- "^qemu-system-x86_64 .*$tmp/vm/" | head -1)
grep -q "/bulkhead/vm-$sid2\$" "/proc/$qemu2/cgroup" || fail "QEMU is not in the session's VM cgroup: $(cat "/proc/$qemu2/cgroup")"

# A session in a VM from its start: output, exit status, the change held back.
ws3=$tmp/ws3; mkdir -p "$ws3"
(cd "$ws3" && bh run --isolate vm --agent codex -- sh -c 'hostname; echo made > made.txt; exit 5') \
    >"$tmp/isolate.out" 2>"$tmp/isolate.err"; rc=$?
native_logs+=("$tmp/isolate.err")
[[ $rc == 5 ]] || fail "run --isolate vm exited $rc"
[[ $(cat "$tmp/isolate.out") == bulkhead-vm ]] || fail "run --isolate vm did not run in the VM: $(cat "$tmp/isolate.out")"
[[ ! -e $ws3/made.txt ]] || fail "run --isolate vm wrote to the host"
sid3=$(sed -n 's/^bulkhead: session \([0-9]*\) starts in a microVM.*/\1/p' "$tmp/isolate.err")
bh vm diff "$sid3" | grep -q "^  A made.txt (5 bytes)" || fail "the isolated session's change is not in vm diff: $(bh vm diff "$sid3")"
kill -9 "$daemon_pid"; wait "$daemon_pid" 2>/dev/null; daemon_pid=""
for _ in $(seq 1 50); do (($(qemus) == 0)) && [[ -z $(ls -A "$tmp/vm") ]] && break; sleep 0.2; done
(($(qemus) == 0)) || fail "QEMU outlived the SIGKILLed daemon: $(pgrep -af -- "$tmp/vm/")"
[[ -z $(ls -A "$tmp/vm") ]] || fail "the SIGKILLed daemon left VM files: $(ls -la "$tmp/vm")"
grep -q " $ws " /proc/self/mountinfo && fail "the workspace mount leaked into the host's namespace"

# A daemon that relaunches sessions without hooks: promotion by rule, the
# command started again in the VM, and the VM's wall time running out.
cat >"$tmp/promote.yaml" <<'RULES'
- rule: Agent runs the production deploy
  desc: A session that deploys is moved into a microVM (test rule).
  condition: evt.type in (execve, execveat) and proc.name = "deploy-prod" and agent.session exists
  output: "%proc.name started in session %agent.session"
  priority: WARNING
  action: promote
RULES
# A web server on the host's loopback that the VM may reach through the
# egress proxy, and no other port.
mkdir -p "$tmp/www"; echo EGRESS-OK >"$tmp/www/egress.txt"
http_server "$tmp/www"
www=$http_port
daemon_config <<CONFIG
rules: [$rules_dir/agents.yaml, $tmp/promote.yaml]
vm: {assets: $assets, run_dir: $tmp/vm, accel: tcg, pool: 1, memory_mb: 384, without_hooks: relaunch,
     wall_time_seconds: 60, egress: ["127.0.0.1/32:$www"]}
CONFIG
daemon_start || fail "the relaunching daemon did not start"
for _ in $(seq 1 150); do bh status --json | grep -q '"pool_ready": 1' && break; sleep 0.2; done
ws4=$tmp/ws4; mkdir -p "$ws4/bin"
printf '#!/bin/sh\nsleep 60\n' >"$ws4/bin/deploy-prod"; chmod +x "$ws4/bin/deploy-prod"
cat >"$ws4/fetch.py" <<'PY'
# In the VM: requests to the guest's end of the egress proxy.
import socket, sys
def ask(request):
    s = socket.create_connection(("127.0.0.1", 3128), timeout=30)
    s.sendall(request.encode())
    data = b""
    while chunk := s.recv(65536):
        data += chunk
    return data.decode(errors="replace").splitlines()
port = int(sys.argv[1])
# A tunnel, then a request through it (python's http.server does not take
# absolute-form requests).
print("allowed:", ask(f"CONNECT 127.0.0.1:{port} HTTP/1.1\r\n\r\nGET /egress.txt HTTP/1.0\r\n\r\n")[-1])
print("other port:", ask(f"CONNECT 127.0.0.1:{port + 1} HTTP/1.1\r\n\r\n")[0])
print("metadata:", ask("CONNECT 169.254.169.254:80 HTTP/1.1\r\n\r\n")[0])
try:
    socket.create_connection(("1.1.1.1", 80), timeout=5)
    print("direct: connected")
except OSError as e:
    print("direct:", e.errno)
PY
(cd "$ws4" && "$bulkhead" --socket "$tmp/control.sock" run --level landlock --agent aider --workspace "$ws4" -- \
    sh -c 'if [ "$(hostname)" = bulkhead-vm ]; then echo "in the VM"; echo vm >made-in-vm.txt; exit 4; fi
           echo "on the host"; echo "SESSION=$BULKHEAD_SESSION" >'"$tmp/session4"'; ./bin/deploy-prod; echo "the host went on"') \
    </dev/null >"$tmp/relaunch.out" 2>"$tmp/relaunch.err"; rc=$?
native_logs+=("$tmp/relaunch.err")
sid4=$(sed -n 's/^SESSION=//p' "$tmp/session4")
[[ $rc == 4 ]] || fail "the relaunched session exited $rc: $(cat "$tmp/relaunch.out")"
[[ $(cat "$tmp/relaunch.out") == $'on the host\nin the VM' ]] || fail "the command did not start again in the VM: $(cat "$tmp/relaunch.out")"
grep -q "^bulkhead: session $sid4 was moved into microVM .*; its command starts again there" "$tmp/relaunch.err" ||
    fail "run did not say it relaunched the command"
[[ ! -e $ws4/made-in-vm.txt ]] || fail "the relaunched command wrote to the host"
bh vm diff "$sid4" | grep -q "^  A made-in-vm.txt (3 bytes)" || fail "the relaunched change is not in vm diff: $(bh vm diff "$sid4")"
# Egress: only the allow list, only through the proxy; the metadata
# address never; no route without the proxy.
cd "$ws4" || fail "no $ws4"
bh vm exec --session "$sid4" -- python3 fetch.py "$www" </dev/null >"$tmp/fetch.out" 2>&1 ||
    fail "the egress checks failed in the VM: $(cat "$tmp/fetch.out")"
grep -qx "allowed: EGRESS-OK" "$tmp/fetch.out" || fail "the allowed fetch did not arrive: $(cat "$tmp/fetch.out")"
grep -qx "other port: HTTP/1.1 403 Forbidden" "$tmp/fetch.out" || fail "another port was not refused: $(cat "$tmp/fetch.out")"
grep -qx "metadata: HTTP/1.1 403 Forbidden" "$tmp/fetch.out" || fail "the metadata address was not refused: $(cat "$tmp/fetch.out")"
grep -qx "direct: 101" "$tmp/fetch.out" || fail "a direct connect did not fail with ENETUNREACH: $(cat "$tmp/fetch.out")"
# The wall time (60 s from the promotion) ends a command that runs on.
bh vm exec --session "$sid4" -- sleep 600 </dev/null >"$tmp/sleeper.out" 2>&1 & sleeper=$!
native_logs+=("$tmp/sleeper.out")
native_pids+=("$sleeper")
for _ in $(seq 1 450); do kill -0 "$sleeper" 2>/dev/null || break; sleep 0.2; done
kill -0 "$sleeper" 2>/dev/null && fail "a command outlived the VM's wall time"
wait "$sleeper"; rc=$?
[[ $rc == 137 ]] || fail "the command ended by the wall time exited $rc, not 137 (SIGKILL)"
bh vm exec --session "$sid4" -- true </dev/null >"$tmp/late.out" 2>&1 && fail "vm exec ran after the wall time"
grep -q "reached its wall time" "$tmp/late.out" || fail "vm exec after the wall time does not say why: $(cat "$tmp/late.out")"
bh vm diff "$sid4" | grep -q "^  A made-in-vm.txt" || fail "the changes are not reviewable after the wall time"
$py - "$tmp/events.jsonl" "$sid4" <<'PY' || fail "the relaunch events are wrong"
import json, sys
events = [json.loads(l) for l in open(sys.argv[1])]
def of(rule):
    return [e for e in events if e["output_fields"].get("agent.session") == sys.argv[2] and e["rule"] == rule]
fired = of("Agent runs the production deploy")
assert fired and fired[0]["output_fields"]["proc.name"] == "deploy-prod", fired
assert any("promoting session" in e["output_fields"].get("agent.detail", "") for e in of("Session promotion requested") + fired), fired
done = of("Session promoted to a microVM")
assert done and "bulkhead run starts its command again in the VM" in done[0]["output_fields"]["agent.detail"], done
allowed = of("microVM egress allowed")
assert allowed and allowed[0]["output_fields"]["agent.detail"].startswith("CONNECT 127.0.0.1:"), allowed
denied = [e["output_fields"]["agent.detail"] for e in of("microVM egress denied")]
assert len(denied) == 2 and any("169.254.169.254:80" in d and "metadata" in d for d in denied), denied
assert all(e["output_fields"]["agent.verdict"] == "deny" for e in of("microVM egress denied"))
assert "through bulkhead's egress proxy" in done[0]["output_fields"]["agent.detail"], done
wall = of("microVM wall time ran out")
assert wall and "its commands are killed, new commands are refused" in wall[0]["output_fields"]["agent.detail"], wall
PY
kill "$daemon_pid"; wait "$daemon_pid" 2>/dev/null; daemon_pid=""
for _ in $(seq 1 50); do (($(qemus) == 0)) && break; sleep 0.2; done
(($(qemus) == 0)) || fail "QEMU outlived the stopped daemon: $(pgrep -af -- "$tmp/vm/")"
echo "PASS: promotion by threshold (hooks), by command and by rule (no hooks: frozen, relaunched), exec, diff, apply, wall time, discard, cleanup"
