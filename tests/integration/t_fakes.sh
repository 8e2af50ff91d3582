#!/bin/bash
# Protocol abuse from fake workers (tests/fakes/fake_worker.c): every
# misbehaviour costs the job an attempt with last_error "protocol: ...",
# the offending worker is killed, the daemon stays up and keeps serving;
# a version mismatch at HELLO makes the daemon exit non-zero instead.
. "$(dirname "$0")/lib.sh"

need "$FAKE"
export FAKE_PID_DIR="$T/fakes"
mkdir -p "$T/fakes" "$T/fakes.bv"

touch "$T/in.bin" # the fake never reads its input; it must be a file

# A daemon with one fake worker in MODE; the job (id in $id) gets two
# attempts.
run_mode() {
    start_daemon --worker "$(wrap_worker "$FAKE" FAKE_MODE="$1" FAKE_PID_DIR="$FAKE_PID_DIR")" --workers 1
    id=$(enqueue "$T/in.bin" "$T/out.$1" max_attempts 2)
}

say "good: the fake itself works, so the bad modes fail for the right reason"
run_mode good
check_sql "good: job DONE with 5 frames" \
    "SELECT status, frames_written FROM jobs WHERE id=$id" "DONE|5" 10 ||
    dump_job "$id"
expect_eq "good: 5 JPEG files written" \
    "$(ls "$T/out.good" | grep -c '^frame_[0-4]\.jpg$')" 5
check "good: frame_0.jpg is the fake's JPEG" is_jpeg "$T/out.good/frame_0.jpg"
stop_daemon

for mode in garbage badpayload oversize lie wrongjob notjpeg badindex; do
    say "$mode: job fails with a protocol error, daemon survives"
    run_mode "$mode"
    if wait_terminal "$id" 15; then
        st=$(job_field "$id" status)
        expect_eq "$mode: status" "$st" FAILED
        expect_eq "$mode: attempts" "$(job_field "$id" attempts)" 2
        expect_match "$mode: last_error" "$(job_field "$id" last_error)" \
            '^protocol: .+'
        expect_eq "$mode: attempts rows (outcome)" \
            "$(q "SELECT group_concat(outcome, ',') FROM
                  (SELECT outcome FROM attempts WHERE job_id=$id
                   ORDER BY attempt)")" "RETRY,FAILED"
    else
        fail "$mode: job $id not terminal"
        dump_job "$id"
    fi
    # The misbehaving workers were dropped, not kept in the pool.
    for pid in $(q "SELECT worker_pid FROM attempts WHERE job_id=$id"); do
        check "$mode: worker $pid was killed" wait_gone "$pid" 5
    done
    check "$mode: no frame file written" \
        test -z "$(ls "$T/out.$mode" 2>/dev/null | grep -v '\.tmp$')"
    check "$mode: no .tmp file left" no_tmp_files "$T/out.$mode"
    check "$mode: daemon alive" daemon_alive
    check "$mode: pool refilled to 1 worker" wait_workers "$DAEMON_PID" 1 5
    if [ "$mode" = oversize ]; then
        rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$DAEMON_PID/status")
        check "oversize: daemon RSS ${rss} KiB < 32 MiB (no 4 GiB buffer)" \
            test "$rss" -lt 32768
    fi
    stop_daemon
done

say "double: a second RESULT gets the worker killed"
run_mode double
wait_terminal "$id" 15 || fail "double: job $id not terminal"
st=$(q "SELECT status || '|' || coalesce(last_error, '') FROM jobs WHERE id=$id")
# The first RESULT may already have finished the job (DONE, fenced); if
# the daemon saw both at once it may fail the attempt instead.
expect_match "double: DONE or a protocol failure" "$st" '^(DONE\||(RETRY|FAILED)\|protocol: )'
pid=$(q "SELECT worker_pid FROM attempts WHERE job_id=$id AND attempt=1")
check "double: worker $pid killed after the second RESULT" wait_gone "$pid" 5
check "double: protocol violation logged" wait_log 'protocol' 5
check "double: daemon alive" daemon_alive
check "double: pool refilled" wait_workers "$DAEMON_PID" 1 5
stop_daemon

say "nohello: a worker that never says HELLO gets no job"
start_daemon_bg --worker "$(wrap_worker "$FAKE" FAKE_MODE=nohello FAKE_PID_DIR="$FAKE_PID_DIR")" --workers 1
id=$(enqueue "$T/in.bin" "$T/out.nohello")
sleep 1.5
expect_eq "nohello: job still PENDING, never charged" \
    "$(q "SELECT status, attempts FROM jobs WHERE id=$id")" "PENDING|0"
check "nohello: daemon alive" daemon_alive
stop_daemon

say "badversion: HELLO with version 99 is a deployment error"
id=$(enqueue "$T/in.bin" "$T/out.badversion")
export FAKE_PID_DIR="$T/fakes.bv"
start_daemon_bg --worker "$(wrap_worker "$FAKE" FAKE_MODE=badversion FAKE_PID_DIR="$FAKE_PID_DIR")" --workers 2
if wait_daemon_exit 10; then
    check "badversion: daemon exits non-zero (status $DAEMON_RC)" \
        test "$DAEMON_RC" -ne 0
else
    fail "badversion: daemon still running 10 s after a version mismatch"
    kill_tree "$DAEMON_PID"
fi
check "badversion: a <2>/<3> log line names the version" \
    grep -Eq '^<[23]>.*version' "$DAEMON_LOG"
expect_eq "badversion: job untouched" \
    "$(q "SELECT status, attempts FROM jobs WHERE id=$id")" "PENDING|0"
expect_eq "badversion: no job left RUNNING" \
    "$(q "SELECT count(*) FROM jobs WHERE status='RUNNING'")" 0
for f in "$T"/fakes.bv/*; do
    [ -e "$f" ] || continue
    check "badversion: fake ${f##*/} gone with the daemon" wait_gone "${f##*/}" 5
done

finish
