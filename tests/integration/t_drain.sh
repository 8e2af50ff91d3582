#!/bin/bash
# SIGTERM drain: the daemon stops claiming, lets running jobs finish within
# the grace period, requeues (RETRY, not FAILED) what is still running when
# the grace period ends, exits 0 and leaves no worker behind.
. "$(dirname "$0")/lib.sh"
need "$WORKER" "$REPO/build/tests/libfault.so"

gen_clip "$T/clip.mp4"
fault_clip "$T/clip.mp4" "$T/slow_a.mp4" FAULT_SLOW
fault_clip "$T/clip.mp4" "$T/slow_b.mp4" FAULT_SLOW
fault_clip "$T/clip.mp4" "$T/hang.mp4" FAULT_HANG

say "running jobs finish within the grace period"
start_daemon --worker "$(fault_worker FS_FAULT_SLOW_MS=1500)" --workers 2 --grace 10
a=$(enqueue "$T/slow_a.mp4" "$T/out.a")
b=$(enqueue "$T/slow_b.mp4" "$T/out.b")
c=$(enqueue "$T/clip.mp4" "$T/out.c")
check_sql "both slow jobs RUNNING" \
    "SELECT count(*) FROM jobs WHERE status='RUNNING' AND id IN ($a, $b)" 2 10
workers=$(workers "$DAEMON_PID")
t0=$SECONDS
kill -TERM "$DAEMON_PID"
if wait_daemon_exit 15; then
    expect_eq "daemon exit status" "$DAEMON_RC" 0
    check "drain took less than the grace period ($((SECONDS - t0)) s)" \
        test $((SECONDS - t0)) -lt 10
else
    fail "daemon still running 15 s after SIGTERM"
    kill_tree "$DAEMON_PID"
fi
expect_eq "running jobs finished DONE" \
    "$(q "SELECT group_concat(status || '/' || frames_written, ' ')
          FROM jobs WHERE id IN ($a, $b)")" "DONE/5 DONE/5"
expect_eq "queued job not claimed during the drain" \
    "$(q "SELECT status, attempts FROM jobs WHERE id=$c")" "PENDING|0"
for w in $workers; do
    check "worker $w gone" wait_gone "$w" 3
done

say "a job still running at the end of --grace 1 is requeued"
start_daemon --worker "$FAULTY" --workers 2 --grace 1 --job-timeout 60
check_sql "the pending job from before runs DONE" \
    "SELECT status FROM jobs WHERE id=$c" DONE 20
h=$(enqueue "$T/hang.mp4" "$T/out.h")
check_sql "hanging job RUNNING" "SELECT status FROM jobs WHERE id=$h" RUNNING 10
sleep 0.3 # let it reach the injected hang
workers=$(workers "$DAEMON_PID")
t0=$SECONDS
kill -TERM "$DAEMON_PID"
if wait_daemon_exit 10; then
    expect_eq "daemon exit status" "$DAEMON_RC" 0
    check "exited within grace + kill escalation ($((SECONDS - t0)) s)" \
        test $((SECONDS - t0)) -le 6
else
    fail "daemon still running 10 s after SIGTERM with --grace 1"
    kill_tree "$DAEMON_PID"
fi
expect_eq "hanging job requeued as RETRY, not FAILED" \
    "$(q "SELECT status, attempts FROM jobs WHERE id=$h")" "RETRY|1"
expect_eq "its attempt is marked INTERRUPTED" \
    "$(q "SELECT outcome FROM attempts WHERE job_id=$h")" INTERRUPTED
expect_eq "no job RUNNING" \
    "$(q "SELECT count(*) FROM jobs WHERE status='RUNNING'")" 0
for w in $workers; do
    check "worker $w gone" wait_gone "$w" 3
done
finish
