# SPDX-License-Identifier: Apache-2.0
# Shell helpers for the lab guest (sourced by guest.sh, demo.sh, bench.sh and
# by case scripts through $E2E_LIB). Guest only: they start and kill daemons.

: "${LAB_BUILD_DIR:?LAB_BUILD_DIR must be set}"
BULKHEAD=${BULKHEAD:-$LAB_BUILD_DIR/userspace/bulkhead}
ATTACK=${ATTACK:-$LAB_BUILD_DIR/e2e/bulkhead-attack}
EVENTS_LOG=${EVENTS_LOG:-/run/bulkhead/events.jsonl}
E2E_STATE=${E2E_STATE:-/run/bulkhead-e2e}
DAEMON_LOG=${DAEMON_LOG:-$E2E_STATE/daemon.log}
DAEMON_PIDFILE=$E2E_STATE/daemon.pid
LAB_SIEM_JSONL=${LAB_SIEM_JSONL:-/run/bulkhead/siem.jsonl}
LAB_SIEM_OCSF=${LAB_SIEM_OCSF:-/run/bulkhead/siem.ocsf.jsonl}
LAB_METRICS=${LAB_METRICS:-unix:/run/bulkhead/metrics.sock}  # the guest has no loopback interface up
LAB_AUDIT_LOG=${LAB_AUDIT_LOG:-/run/bulkhead/audit/audit.jsonl}
LAB_GRPC_SOCKET=${LAB_GRPC_SOCKET:-/run/bulkhead/grpc.sock}
export BULKHEAD ATTACK EVENTS_LOG E2E_STATE DAEMON_LOG LAB_SIEM_JSONL LAB_SIEM_OCSF LAB_METRICS LAB_AUDIT_LOG LAB_GRPC_SOCKET

# daemon_start [EXTRA-ARGS...]: start `bulkhead daemon` in the background and
# wait (DAEMON_WAIT, default 360 s: verifying the guards takes 1-3 min under
# TCG, depending on how busy the host is) until
# `bulkhead status` answers. Returns 1 on failure, with
# the tail of the daemon's log on stderr.
daemon_start() {
    # LAB_DAEMON_ARGS (from e2e/lab.sh's environment): extra daemon arguments.
    # shellcheck disable=SC2086
    set -- ${LAB_DAEMON_ARGS:-} "$@"
    mkdir -p "$E2E_STATE" "$(dirname "$EVENTS_LOG")"
    # Unless a case brings its own config: the shipped rules, two file sinks
    # and the metrics endpoint, so cases can check what reaches a SIEM.
    if [[ " $* " != *" --config "* ]]; then
        cat >"$E2E_STATE/lab-config.yaml" <<EOF
exporters:
  - {name: siem-jsonl, type: jsonl, path: $LAB_SIEM_JSONL}
  - {name: siem-ocsf, type: ocsf, path: $LAB_SIEM_OCSF}
  - {name: audit, type: audit, path: $LAB_AUDIT_LOG, secret_key: $E2E_STATE/audit/audit.key, checkpoint_interval_s: 1}
  - {name: grpc, type: grpc, listen: ["unix:$LAB_GRPC_SOCKET"]}
spool_root: $E2E_STATE/spool
metrics: "$LAB_METRICS"
EOF
        set -- --config "$E2E_STATE/lab-config.yaml" "$@"
    fi
    echo "---- $(date +%T) bulkhead daemon --events-log $EVENTS_LOG $*" >>"$DAEMON_LOG"
    setsid "$BULKHEAD" daemon --events-log "$EVENTS_LOG" "$@" >>"$DAEMON_LOG" 2>&1 </dev/null &
    local pid=$! deadline=$((SECONDS + ${DAEMON_WAIT:-360}))
    echo "$pid" >"$DAEMON_PIDFILE"
    while ((SECONDS < deadline)); do
        if timeout 10 "$BULKHEAD" status >/dev/null 2>&1; then
            return 0
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "daemon exited during startup; its log:" >&2
            tail -n 20 "$DAEMON_LOG" >&2
            return 1
        fi
        sleep 0.2
    done
    echo "daemon did not answer 'bulkhead status' within ${DAEMON_WAIT:-360} s; its log:" >&2
    tail -n 20 "$DAEMON_LOG" >&2
    return 1
}

# daemon_pid: the pid `bulkhead status` reports, else the one we started.
daemon_pid() {
    local pid
    pid=$(timeout 10 "$BULKHEAD" status 2>/dev/null | sed -n 's/.*pid=\([0-9]*\).*/\1/p' | head -n1)
    [[ -n $pid ]] || pid=$(cat "$DAEMON_PIDFILE" 2>/dev/null)
    echo "$pid"
}

# daemon_stop [SIGNAL]: stop the daemon (default TERM) and wait for it.
daemon_stop() {
    local sig=${1:-TERM} pid i
    pid=$(daemon_pid)
    [[ -n $pid ]] || return 0
    kill "-$sig" "$pid" 2>/dev/null || return 0
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null
}

# bpf_link_count: how many BPF links exist (only bulkhead loads BPF in the lab).
bpf_link_count() {
    bpftool link show -j 2>/dev/null | /usr/bin/python3 -c 'import json,sys; print(len(json.load(sys.stdin) or []))' 2>/dev/null || echo 0
}

# assert_denied PATH [AGENT]: in a new session, reading PATH must fail with
# EPERM and print none of the secret. For CHECK scripts ("protection holds").
assert_denied() {
    local path=$1 agent=${2:-check} out
    out=$("$BULKHEAD" run --agent "$agent" -- "$ATTACK" read "$path" 2>&1)
    if [[ $out == *BULKHEAD-SECRET* ]]; then
        echo "LEAK: a session read $path: $out" >&2
        return 1
    fi
    if [[ $out != *errno=EPERM* ]]; then
        echo "a session's read of $path was not denied with EPERM: $out" >&2
        return 1
    fi
    echo "denied as expected: read $path"
}

# bulkhead_pins: the objects bulkhead pinned in bpffs, one per line.
bulkhead_pins() {
    find /sys/fs/bpf/bulkhead -mindepth 1 ! -type d 2>/dev/null | sort
}

# restore_enforcement COUNT-FILE PINS-FILE: after a self-guard case, if the
# attack did remove links or pins, reload bulkhead so later cases still test
# something (the case itself has already failed in its CHECK).
restore_enforcement() {
    if [[ $(bpf_link_count) == "$(cat "$1")" ]] && bulkhead_pins | diff -q "$2" - >/dev/null; then
        return 0
    fi
    echo "restoring enforcement: links or pins changed" >&2
    daemon_stop TERM
    "$BULKHEAD" unload
    daemon_start
}
