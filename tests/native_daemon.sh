# SPDX-License-Identifier: Apache-2.0
# Sourced by the tests that run a real `bulkhead daemon` on this host (ask,
# net guard, hooks). Each gets its own pins, sockets, spool and logs under a
# temporary directory, so it never touches an installed daemon's.
#   native_init NAME WHY   skip (exit 77) without root (WHY says what needs it)
#                          or a cgroup v2 mount; set $tmp and $pin, removed at
#                          exit unless KEEP=1
#   native_pids+=(PID)     more processes to kill at exit
#   native_logs+=(FILE)    more files `fail` prints
#   daemon_config          write $tmp/config.yaml: the test's keys (stdin) and
#                          the private sockets, pin root and spool
#   daemon_start           start the daemon on it and wait; 1 if it is not up
#   bh ARGS...             the CLI on the test daemon's control socket
#   http_server DIR        a python web server for DIR on 127.0.0.1; its port
#                          in $http_port (killed at exit)
#   fail MESSAGE
native_pids=()
native_logs=()
daemon_pid=""

native_init() {
    [[ $(id -u) == 0 ]] || { echo "SKIP: needs root ($2)"; exit 77; }
    grep -q " cgroup2 " /proc/self/mountinfo || { echo "SKIP: no cgroup v2 mount"; exit 77; }
    tmp=$(mktemp -d "/var/tmp/bulkhead-$1.XXXXXX")
    pin=/sys/fs/bpf/bulkhead-test-$$
    trap native_cleanup EXIT
    [[ -n ${KEEP:-} ]] && trap "" EXIT
    return 0
}

native_cleanup() {
    local pid
    for pid in "${native_pids[@]}"; do kill "$pid" 2>/dev/null; done
    [[ -n $daemon_pid ]] && kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null
    "$bulkhead" unload --pin-root "$pin" >/dev/null 2>&1
    rm -rf "$tmp"
}

fail() {
    local log
    echo "FAIL: $*"
    echo "---- daemon log:"
    tail -n 30 "$tmp/daemon.log"
    for log in "${native_logs[@]}"; do
        echo "---- $log:"
        cat "$log" 2>/dev/null
    done
    exit 1
}

bh() { "$bulkhead" --socket "$tmp/control.sock" "$@"; }

daemon_config() {
    {
        cat
        printf 'socket: %s\nhook_socket: %s\npin_root: %s\nspool_root: %s\n' \
            "$tmp/control.sock" "$tmp/hook.sock" "$pin" "$tmp/spool"
    } >"$tmp/config.yaml"
}

daemon_start() {
    "$bulkhead" daemon --config "$tmp/config.yaml" --events-log "$tmp/events.jsonl" >"$tmp/daemon.log" 2>&1 &
    daemon_pid=$!
    for _ in $(seq 1 100); do
        bh status >/dev/null 2>&1 && return 0
        kill -0 "$daemon_pid" 2>/dev/null || break
        sleep 0.2
    done
    bh status >/dev/null 2>&1
}

http_server() {
    (cd "$1" && exec python3 -m http.server 0 --bind 127.0.0.1) >"$tmp/http.log" 2>&1 &
    native_pids+=($!)
    http_port=""
    for _ in $(seq 1 50); do
        http_port=$(sed -n 's/.*port \([0-9]*\).*/\1/p' "$tmp/http.log" | head -n1)
        [[ -n $http_port ]] && return 0
        sleep 0.1
    done
    fail "the loopback HTTP server did not start: $(cat "$tmp/http.log")"
}
