#!/bin/bash
# One daemon per database: a second instance on the same db exits non-zero
# saying "already running", touches nothing, and the first keeps working.
# A database whose indexes were dropped by hand gets them back at start.
. "$(dirname "$0")/lib.sh"
need "$WORKER" "$REPO/build/tests/libfault.so"

gen_clip "$T/clip.mp4"
fault_clip "$T/clip.mp4" "$T/slow.mp4" FAULT_SLOW

start_daemon --worker "$(fault_worker FS_FAULT_SLOW_MS=4000)" --workers 2
first=$DAEMON_PID
first_log=$DAEMON_LOG
slow=$(enqueue "$T/slow.mp4" "$T/out.slow")
check_sql "a job is RUNNING in the first daemon" \
    "SELECT status FROM jobs WHERE id=$slow" RUNNING 10

say "second instance on the same database"
start_daemon_bg --worker "$FAULTY" --workers 2
second=$DAEMON_PID
if wait_daemon_exit 10; then
    check "second daemon exits non-zero (status $DAEMON_RC)" \
        test "$DAEMON_RC" -ne 0
else
    fail "second daemon still running after 10 s"
    kill_tree "$second"
fi
check "it says 'already running'" grep -q 'already running' "$DAEMON_LOG"
check "it started no worker" test -z "$(grep -E 'ready workers=' "$DAEMON_LOG")"
expect_eq "the running job was not requeued by the second daemon" \
    "$(q "SELECT status, attempts FROM jobs WHERE id=$slow")" "RUNNING|1"

DAEMON_PID=$first
DAEMON_LOG=$first_log
check "first daemon alive" daemon_alive
check_sql "the running job finishes DONE in one attempt" \
    "SELECT status, attempts FROM jobs WHERE id=$slow" "DONE|1" 15
id=$(enqueue "$T/clip.mp4" "$T/out.next")
check_sql "first daemon still takes new jobs" \
    "SELECT status, frames_written FROM jobs WHERE id=$id" "DONE|5" 10
stop_daemon

say "after the first one stopped, a new daemon starts fine"
start_daemon --worker "$WORKER" --workers 1
ok "restarted on the same database"
stop_daemon

# An index the claim and the wake-up name, dropped by hand: the start
# runs the schema again, which puts them back, instead of failing at
# every claim.
say "indexes dropped by hand"
q "DROP INDEX jobs_retry_waiting; DROP INDEX jobs_pending_waiting;
   DROP INDEX jobs_pending_now; DROP INDEX jobs_retry_now"
start_daemon --worker "$WORKER" --workers 1
check "the start says it ran the schema again" \
    grep -q 'no such index: .*; running the schema again' "$DAEMON_LOG"
expect_eq "the four indexes back" \
    "$(q "SELECT count(*) FROM sqlite_master WHERE type = 'index'
          AND name IN ('jobs_retry_waiting', 'jobs_pending_waiting',
                       'jobs_pending_now', 'jobs_retry_now')")" 4
id=$(enqueue "$T/clip.mp4" "$T/out.reindexed")
check_sql "and a job DONE" \
    "SELECT status, frames_written FROM jobs WHERE id=$id" "DONE|5" 10
stop_daemon
finish
