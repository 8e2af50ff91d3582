#!/bin/bash
# A client holds the queue's write lock longer than any busy timeout (a
# bulk INSERT that takes seconds, then aborts) while jobs end.  No end
# is lost, no job is left RUNNING, the waiting jobs are claimed once the
# lock is gone, and the daemon keeps supervising its workers meanwhile.
. "$(dirname "$0")/lib.sh"

need "$FAKE"
export FAKE_PID_DIR="$T/fakes"
mkdir -p "$FAKE_PID_DIR"
touch "$T/in.bin" "$T/gate"

JOBS=6
LOCK_S=12 # beyond twice the 5 s busy timeout a client is told to use

# Results wait for $T/gate to go: two jobs RUNNING, the rest PENDING.
start_daemon --worker "$(wrap_worker "$FAKE" FAKE_MODE=good \
    FAKE_GATE="$T/gate" FAKE_PID_DIR="$FAKE_PID_DIR")" --workers 2
for ((i = 0; i < JOBS; i++)); do
    enqueue "$T/in.bin" "$T/out/$i" >/dev/null
done
check_sql "two jobs running, the rest waiting" \
    "SELECT status, count(*) FROM jobs GROUP BY 1 ORDER BY 1" \
    "PENDING|$((JOBS - 2))
RUNNING|2" 10

say "a client takes the write lock for $LOCK_S s, then rolls back"
hold_lock
lock_start=$SECONDS

# Both running jobs end now; their rows cannot be written yet.
rm -f "$T/gate"
sleep 1

say "while the lock is held, a worker killed is replaced"
victim=$(workers "$DAEMON_PID" | head -n 1)
kill -KILL "$victim"
check "worker $victim gone" wait_gone "$victim" 2
if wait_workers "$DAEMON_PID" 2 2 && is_running "$LOCK_PID"; then
    ok "pool back to 2 workers $((SECONDS - lock_start)) s into the lock"
else
    fail "pool not back to 2 workers while the lock was held"
fi
check "daemon alive under the lock" is_running "$DAEMON_PID"

sleep $((LOCK_S - (SECONDS - lock_start)))
rm -f "$T/hold"
wait "$LOCK_PID"
expect_eq "lock holder exited" "$?" 0
expect_eq "its insert rolled back" \
    "$(q "SELECT count(*) FROM jobs WHERE input = '/x'")" 0

say "after the lock: every job ends, none is left running"
check_sql "all $JOBS jobs DONE" \
    "SELECT status, count(*) FROM jobs GROUP BY 1" "DONE|$JOBS" 10
expect_eq "one attempt each, all DONE" \
    "$(q "SELECT count(*), sum(outcome = 'DONE') FROM attempts")" \
    "$JOBS|$JOBS"
expect_eq "frames of every job on disk" \
    "$(ls "$T"/out/*/frame_*.jpg | wc -l)" $((JOBS * 5))
check "the wait was logged" grep -q 'queue busy' "$DAEMON_LOG"

say "stopped while the lock is held: the ends it cannot record wait for the next start"
touch "$T/gate"
a=$(enqueue "$T/in.bin" "$T/out/a")
b=$(enqueue "$T/in.bin" "$T/out/b")
check_sql "both running" \
    "SELECT count(*) FROM jobs WHERE status = 'RUNNING'" 2 10
hold_lock
rm -f "$T/gate"
sleep 1
stop_daemon 20
expect_eq "daemon exit status" "$DAEMON_RC" 0
check "it said what it could not record" \
    grep -q "job=$a could not record its end" "$DAEMON_LOG"
rm -f "$T/hold"
wait "$LOCK_PID"
expect_eq "both still RUNNING" "$(q "SELECT group_concat(status)
    FROM jobs WHERE id IN ($a, $b)")" "RUNNING,RUNNING"
start_daemon --worker "$(wrap_worker "$FAKE" FAKE_MODE=good \
    FAKE_PID_DIR="$FAKE_PID_DIR")" --workers 2
check_sql "the next start runs them again" \
    "SELECT group_concat(status) FROM jobs WHERE id IN ($a, $b)" \
    "DONE,DONE" 10
expect_eq "their first attempts, interrupted, are not charged" \
    "$(q "SELECT group_concat(outcome) FROM (SELECT outcome FROM attempts
          WHERE job_id = $a ORDER BY attempt)")" "INTERRUPTED,DONE"
stop_daemon
expect_eq "daemon exit status" "$DAEMON_RC" 0
finish
