#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# "Read another session's workspace" at level 2 on this host's kernel: a
# real daemon and two `bulkhead run --level landlock` sessions. The daemon
# names the live workspaces when a session starts, and the launcher's
# Landlock ruleset keeps the new session out of them. Asserts:
#   - session B reading A's file gets EACCES (Landlock's answer) and not the
#     data, by path and through a symlink in its own workspace;
#   - B reads its own workspace, a second session in A's workspace reads it,
#     and a process outside sessions reads it;
#   - the launcher says what Landlock cannot hold (sessions started later);
#   - once A ended, a new session in B's workspace reads A's old file.
# Needs root, bpffs and a cgroup v2 mount; skips (exit 77, reason printed)
# when the host lacks them.
set -uo pipefail
bulkhead=$(realpath "${1:?usage: other_workspace_native.sh BULKHEAD}")
. "$(dirname "$0")/../../native_daemon.sh"
native_init workspaces "BPF programs"
py=/usr/bin/python3
[[ -x $py ]] || { echo "SKIP: needs /usr/bin/python3"; exit 77; }

rules_dir=$(cd "$(dirname "$0")/../../../rules/sets" && pwd)
daemon_config <<CONFIG
rules: [$rules_dir/agents.yaml]
CONFIG
if ! daemon_start; then
    grep -q "failed to attach cgroup" "$tmp/daemon.log" &&
        { echo "SKIP: this kernel refuses cgroup sock_addr programs"; exit 77; }
    fail "the daemon did not start"
fi

a=$tmp/ws-a b=$tmp/ws-b
mkdir -p "$a" "$b"
echo WORK-OF-A-5521 >"$a/notes.txt"
echo mine >"$b/own.txt"
ln -s "$a" "$b/link-to-a"
# Prints the file, or the errno name of the failed open.
read_py='import errno, sys
try:
    print(open(sys.argv[1]).read().strip())
except OSError as e:
    print(errno.errorcode.get(e.errno, e.errno))'

(cd "$a" && exec "$bulkhead" --socket "$tmp/control.sock" run --level landlock --agent test -- \
    sh -c 'echo "SESSION=$BULKHEAD_SESSION"; exec sleep 120') >"$tmp/a.out" 2>&1 &
apid=$!
native_pids+=("$apid")
native_logs+=("$tmp/a.out" "$tmp/b.err")
for _ in $(seq 1 100); do grep -q '^SESSION=' "$tmp/a.out" && break; sleep 0.1; done
grep -q '^SESSION=' "$tmp/a.out" || fail "session A did not start"

in_b() { (cd "$b" && bh run --level landlock --agent test -- "$py" -c "$read_py" "$1" 2>>"$tmp/b.err"); }
expect() {  # expect WHAT GOT WANT
    [[ $2 == "$3" ]] || fail "$1: got '$2', expected '$3'"
}
expect "session B reads A's file" "$(in_b "$a/notes.txt")" EACCES
expect "session B reads A's file through a symlink" "$(in_b "$b/link-to-a/notes.txt")" EACCES
expect "session B reads its own file" "$(in_b "$b/own.txt")" mine
grep -q "workspaces of sessions started later" "$tmp/b.err" ||
    fail "the launcher did not say what Landlock cannot hold: $(cat "$tmp/b.err")"
shared=$(cd "$a" && bh run --level landlock --agent test -- "$py" -c "$read_py" "$a/notes.txt" 2>/dev/null)
expect "a second session in A's workspace" "$shared" WORK-OF-A-5521
expect "outside sessions" "$("$py" -c "$read_py" "$a/notes.txt")" WORK-OF-A-5521

kill "$apid"
wait "$apid" 2>/dev/null
expect "session B after A ended" "$(in_b "$a/notes.txt")" WORK-OF-A-5521
echo "PASS: sessions at level 2 are kept out of other live sessions' workspaces"
