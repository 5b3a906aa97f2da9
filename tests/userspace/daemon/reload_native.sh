#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Reloading rules in a running daemon, seen through the net guard on this
# host's kernel (no BPF LSM needed): a block rule on a port, then
#   - `bulkhead rules reload` with the rule gone: the port connects;
#   - a broken file: reload fails naming the file and line, and the running
#     policy stays (the port still connects);
#   - SIGHUP with the rule back: EPERM again; SIGHUP with a broken file: the
#     log says it failed and EPERM stays.
# Needs root, bpffs, a cgroup v2 mount and cgroup sock_addr programs; skips
# (exit 77, reason printed) when the host lacks them.
set -uo pipefail
bulkhead=$(realpath "${1:?usage: reload_native.sh BULKHEAD}")
. "$(dirname "$0")/../../native_daemon.sh"
native_init reload "BPF programs"
command -v python3 >/dev/null || { echo "SKIP: needs python3"; exit 77; }

http_server "$tmp"
port=$http_port

block_rule() {
    cat >"$tmp/local.yaml" <<EOF
- rule: Connect to the test port
  desc: reload test
  condition: evt.type = connect and agent_session and fd.sport = $port
  output: Session connected to the test port (dest=%fd.sip:%fd.sport session=%agent.session)
  priority: WARNING
  action: block
EOF
}
no_rule() { echo "[]" >"$tmp/local.yaml"; }
broken() {
    printf -- '- rule: Broken\n  desc: x\n  condition: evt.type = connect and (fd.sport = 1\n  output: x\n  priority: WARNING\n' \
        >"$tmp/local.yaml"
}
probe() {  # prints "ok" or the errno name of a session's connect to the port
    mkdir -p "$tmp/ws"
    (cd "$tmp/ws" && bh run --level landlock --agent test -- python3 -c '
import errno, socket, sys
s = socket.socket(); s.settimeout(2)
try:
    s.connect(("127.0.0.1", int(sys.argv[1]))); print("ok")
except OSError as e:
    print(errno.errorcode.get(e.errno, e.errno))' "$port" 2>>"$tmp/run.err")
}
native_logs+=("$tmp/run.err")
expect() {  # expect WHAT GOT WANT
    [[ $2 == "$3" ]] || fail "$1: the connect gave '$2', expected '$3'"
}

rules_dir=$(cd "$(dirname "$0")/../../../rules/sets" && pwd)
block_rule
daemon_config <<EOF
rules: [$rules_dir/agents.yaml, $tmp/local.yaml]
EOF
if ! daemon_start; then
    grep -q "failed to attach cgroup" "$tmp/daemon.log" &&
        { echo "SKIP: this kernel refuses cgroup sock_addr programs"; exit 77; }
    fail "the daemon did not start"
fi
expect "the block rule at start" "$(probe)" EPERM

no_rule
bh rules reload >"$tmp/reload.out" 2>&1 || fail "rules reload failed: $(cat "$tmp/reload.out")"
grep -qx "rules reloaded" "$tmp/reload.out" || fail "rules reload said: $(cat "$tmp/reload.out")"
expect "after the rule was removed and reloaded" "$(probe)" ok

broken
bh rules reload >"$tmp/reload.out" 2>&1 && fail "rules reload of a broken file succeeded"
grep -q "local.yaml:3" "$tmp/reload.out" || fail "the reload error does not name the file and line: $(cat "$tmp/reload.out")"
expect "after a failed reload" "$(probe)" ok

block_rule
kill -HUP "$daemon_pid"
for _ in $(seq 1 50); do grep -q "rules reloaded on SIGHUP" "$tmp/daemon.log" && break; sleep 0.1; done
grep -q "rules reloaded on SIGHUP" "$tmp/daemon.log" || fail "SIGHUP did not reload"
expect "after SIGHUP brought the rule back" "$(probe)" EPERM

broken
kill -HUP "$daemon_pid"
for _ in $(seq 1 50); do grep -q "reload failed, the running policy stays" "$tmp/daemon.log" && break; sleep 0.1; done
grep -q "reload failed, the running policy stays: .*local.yaml:3" "$tmp/daemon.log" ||
    fail "a failed SIGHUP reload is not logged with the file and line"
expect "after a failed SIGHUP reload" "$(probe)" EPERM
kill -0 "$daemon_pid" || fail "the daemon died"
echo "PASS: rules reload and SIGHUP apply a good file, refuse a broken one, and keep the running policy"
