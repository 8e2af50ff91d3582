# Helpers sourced by bench/run.sh (bash): a private temp dir, processes
# tracked by pid and stopped on exit, the daemon started with timestamped
# logs, and file lists.  Requires REPO to be set by the caller.

PY=/usr/bin/python3 # Debian's, with python3-opencv; not a pyenv shim
BENCH_TMP=$(mktemp -d "${TMPDIR:-/tmp}/fs-bench.XXXXXX")
TRACKED=()
DAEMON_PID=
TSLOG_PID=
DAEMON_LOG=

say() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# track PID: killed (TERM, then KILL) and reaped when the script exits.
track() { TRACKED+=("$1"); }

stop_pid() {
    local p=$1 i
    kill -0 "$p" 2>/dev/null || { wait "$p" 2>/dev/null || true; return 0; }
    kill -TERM "$p" 2>/dev/null || true
    for i in $(seq 100); do
        kill -0 "$p" 2>/dev/null || break
        sleep 0.05
    done
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
}

bench_cleanup() {
    local p
    for p in ${TRACKED[@]+"${TRACKED[@]}"}; do stop_pid "$p"; done
    rm -rf "$BENCH_TMP"
}
trap bench_cleanup EXIT
trap 'exit 130' INT TERM

# start_daemon DB LOG ARGS...: frameshieldd with its stderr timestamped into
# LOG (bench/measure.py tslog); returns once the pool is up.
start_daemon() {
    local db=$1 log=$2 fifo
    shift 2
    fifo=$BENCH_TMP/daemon.fifo
    rm -f "$fifo" "$log"
    mkfifo "$fifo"
    "$PY" "$REPO/bench/measure.py" tslog "$log" < "$fifo" &
    TSLOG_PID=$!
    track "$TSLOG_PID"
    "$REPO/bin/frameshieldd" --db "$db" "$@" 2> "$fifo" &
    DAEMON_PID=$!
    track "$DAEMON_PID"
    DAEMON_LOG=$log
    local i
    for i in $(seq 1500); do
        grep -q 'ready workers=' "$log" 2>/dev/null && return 0
        kill -0 "$DAEMON_PID" 2>/dev/null || break
        sleep 0.02
    done
    echo "bench: daemon did not come up; log:" >&2
    cat "$log" >&2 || true
    exit 1
}

# stop_daemon: SIGTERM (drain), then the log writer ends at EOF.
stop_daemon() {
    [ -n "$DAEMON_PID" ] || return 0
    local i
    stop_pid "$DAEMON_PID"
    for i in $(seq 100); do
        kill -0 "$TSLOG_PID" 2>/dev/null || break
        sleep 0.02
    done
    stop_pid "$TSLOG_PID"
    DAEMON_PID=
    TSLOG_PID=
}

# positions TOTAL: the five target frame numbers (README "Frame positions").
positions() {
    awk -v t="$1" 'BEGIN { s = int(t / 5); if (s < 1) s = 1
        for (i = 0; i < 5; i++) if (i * s < t) printf "%d ", i * s }'
}

# sql_quote STRING
sql_quote() { printf "'%s'" "${1//\'/\'\'}"; }
