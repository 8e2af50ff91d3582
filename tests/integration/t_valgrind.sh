#!/usr/bin/env bash
# The daemon under valgrind (memcheck; workers are not traced) through a
# good job, a missing input, a crashing worker and a SIGTERM drain, then
# through job ends the queue refuses (a client holds its write lock) and
# a stop before the lock goes: no memory errors, nothing definitely lost.
. "$(dirname "$0")/lib.sh"
command -v valgrind >/dev/null || die "valgrind missing"

# vg_start N WORKER: the daemon's life N under memcheck, with WORKER.
vg_start() {
    VG_LOG=$T/valgrind.$1.log
    DAEMON_LOG=$T/daemon.$1.log
    valgrind --error-exitcode=99 --leak-check=full \
        --errors-for-leak-kinds=definite --log-file="$VG_LOG" \
        "$DAEMON" --db "$DB" --workers 2 --retry-delay 0 --worker "$2" \
        </dev/null >"$DAEMON_LOG" 2>&1 &
    DAEMON_PID=$!
    track_pid "$DAEMON_PID"
    READY_TIMEOUT=60 wait_log 'ready workers=' 60 ||
        die "daemon not ready under valgrind"
}

# vg_stop SUFFIX: SIGTERM, then memcheck's verdict on that life.
vg_stop() {
    local lost
    kill -TERM "$DAEMON_PID"
    if wait_daemon_exit 60; then
        expect_eq "daemon exit status under valgrind$1" "$DAEMON_RC" 0
    else
        fail "daemon did not exit under valgrind$1"
    fi
    expect_match "valgrind error summary$1" \
        "$(grep -o 'ERROR SUMMARY: [0-9]* errors' "$VG_LOG")" \
        'ERROR SUMMARY: 0 errors'
    lost=$(grep -o 'definitely lost: [0-9,]* bytes' "$VG_LOG" ||
        echo 'definitely lost: 0 bytes')
    expect_eq "definitely lost$1" "$lost" "definitely lost: 0 bytes"
    [ "$FAILS" -eq 0 ] || sed 's/^/  vg: /' "$VG_LOG" | tail -n 40
}

gen_clip "$T/a.mp4"
fault_clip "$T/a.mp4" "$T/segv.mp4" FAULT_SEGV
vg_start 1 "$FAULTY"
good=$(enqueue "$T/a.mp4" "$T/out")
missing=$(enqueue "$T/nope.mp4" "$T/out2")
crash=$(enqueue "$T/segv.mp4" "$T/out3" "max_attempts" "2")
check "good job DONE" wait_sql "SELECT status FROM jobs WHERE id=$good" DONE 60
check "missing input FAILED" wait_sql "SELECT status FROM jobs WHERE id=$missing" FAILED 60
check "crashing job FAILED after 2 attempts" \
    wait_sql "SELECT status || attempts FROM jobs WHERE id=$crash" FAILED2 60
vg_stop ""

# Ends the queue refuses, kept in memory and retried, then given up at a
# stop while a client still holds the write lock (t_locked_queue).
need "$FAKE"
export FAKE_PID_DIR="$T/fakes"
mkdir -p "$FAKE_PID_DIR"
touch "$T/in.bin" "$T/gate"
vg_start 2 "$(wrap_worker "$FAKE" FAKE_MODE=good FAKE_GATE="$T/gate" \
    FAKE_PID_DIR="$FAKE_PID_DIR")"
enqueue "$T/in.bin" "$T/out4" >/dev/null
enqueue "$T/in.bin" "$T/out5" >/dev/null
check "two gated jobs running" \
    wait_sql "SELECT count(*) FROM jobs WHERE status = 'RUNNING'" 2 60
hold_lock
rm -f "$T/gate"
check "their ends refused" wait_log 'queue busy' 30
sleep 1
vg_stop " (lock held)"
rm -f "$T/hold"
wait "$LOCK_PID"
check "it said what it could not record" \
    grep -q "could not record its end" "$DAEMON_LOG"
finish
