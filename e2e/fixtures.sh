#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Seeds the lab's secrets and workspace once per boot, before the daemon
# starts: the daemon resolves rule targets to (dev, inode) when it loads, so
# the protected objects must exist by then. Every secret carries a unique
# BULKHEAD-SECRET-* marker so a case can prove its bytes never leaked.
# The guest's /root is a tmpfs, so nothing here touches the host.
set -euo pipefail
trap 'echo "fixtures: line $LINENO failed: $BASH_COMMAND" >&2' ERR
: "${ATTACK:?}"

umask 077
mkdir -p /root/.ssh /root/.aws /root/.aws/long /root/.aws/deep
cat >/root/.ssh/id_ed25519 <<'KEY'
-----BEGIN OPENSSH PRIVATE KEY-----
BULKHEAD-SECRET-SSH-ed25519-b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ
-----END OPENSSH PRIVATE KEY-----
KEY
echo 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBULKHEADPUBLIC e2e@lab' >/root/.ssh/id_ed25519.pub
cat >/root/.aws/credentials <<'AWS'
[default]
aws_access_key_id = AKIABULKHEADE2ETEST
aws_secret_access_key = BULKHEAD-SECRET-AWS-credentials
AWS
"$ATTACK" deep-create /root/.aws/deep 80 secret BULKHEAD-SECRET-AWS-DEEP
"$ATTACK" longpath-create /root/.aws/long 4096 BULKHEAD-SECRET-AWS-LONG
# A name that is not UTF-8: "caf\xe9-\xff.key".
echo BULKHEAD-SECRET-AWS-NONUTF8 >"/root/.aws/caf$(printf '\351')-$(printf '\377').key"

# A workspace the agent may edit, with the objects it must not touch.
umask 022
ws=/root/work/repo
mkdir -p "$ws"
git -C "$ws" init -q 2>/dev/null || mkdir -p "$ws/.git/hooks"
mkdir -p "$ws/.git/hooks"
echo '# demo project' >"$ws/README.md"
printf '{\n  "mcpServers": {\n    "docs": { "command": "docs-mcp" }\n  }\n}\n' >"$ws/.mcp.json"
printf 'int main(void) { return 0; }\n' >"$ws/main.c"
echo 'BULKHEAD-PUBLIC-NOTE: nothing secret here' >/root/work/notes.txt
# A hard link to the key made before any session exists (same inode).
ln -f /root/.ssh/id_ed25519 /root/work/.old-key-hardlink

echo "fixtures: secrets in /root/.ssh and /root/.aws, workspace $ws"
