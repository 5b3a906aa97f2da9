#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The lab demo (e2e/lab.sh --mode demo): a misbehaving agent session under
# bulkhead. Exits 0 only if every attack was contained and the legitimate
# edit went through.
set -uo pipefail
cd "$LAB_REPO"
. e2e/lib.sh

ws=/root/work/repo
bold() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
verdicts=0
verdict() { # verdict OK|BAD TEXT
    if [[ $1 == OK ]]; then
        printf '  \033[32mcontained\033[0m  %s\n' "$2"
    else
        printf '  \033[31mNOT CONTAINED\033[0m  %s\n' "$2"
        verdicts=$((verdicts + 1))
    fi
}

bold "bulkhead demo: containing a misbehaving coding agent (kernel $(uname -r))"
echo "active LSMs: $(cat /sys/kernel/security/lsm)"
[[ -x $BULKHEAD ]] || { echo "demo: $BULKHEAD is not built"; exit 1; }
bash e2e/fixtures.sh >/dev/null || { echo "demo: fixtures failed"; exit 1; }
mcp_before=$(sha256sum "$ws/.mcp.json")

bold "starting the bulkhead daemon"
daemon_start || exit 1
"$BULKHEAD" status

bold "running the agent: bulkhead run --agent demo-agent --workspace $ws -- sh e2e/demo-agent.sh"
transcript=$(mktemp)
(cd "$ws" && "$BULKHEAD" run --agent demo-agent --workspace "$ws" -- sh "$LAB_REPO/e2e/demo-agent.sh") 2>&1 | tee "$transcript"
session=$(sed -n 's/^agent: session \([^ ]*\) .*/\1/p' "$transcript")

bold "what happened"
if grep -q BULKHEAD-SECRET-SSH "$transcript"; then verdict BAD "the SSH private key was read"; else verdict OK "SSH private key: read denied"; fi
if grep -q BULKHEAD-SECRET-AWS "$transcript"; then verdict BAD "the cloud credentials were read"; else verdict OK "cloud credentials: read denied"; fi
if [[ -e $ws/.git/hooks/pre-commit ]]; then verdict BAD "a git hook was planted"; else verdict OK "git hook: not planted"; fi
if [[ $(sha256sum "$ws/.mcp.json") != "$mcp_before" ]]; then verdict BAD ".mcp.json was modified"; else verdict OK ".mcp.json: unchanged"; fi
if grep -q 'Build with: cmake' "$ws/README.md"; then
    printf '  \033[32mallowed\033[0m    README.md edit in the workspace went through\n'
else
    printf '  \033[31mBROKEN\033[0m     the legitimate README.md edit failed\n'
    verdicts=$((verdicts + 1))
fi

bold "alerts: bulkhead events${session:+ --session $session}"
sleep 1
"$BULKHEAD" events ${session:+--session "$session"} || echo "(bulkhead events failed)"

daemon_stop TERM
rm -f "$transcript"
if ((verdicts == 0)); then
    bold "everything was contained"
    exit 0
fi
bold "$verdicts check(s) failed"
exit 1
