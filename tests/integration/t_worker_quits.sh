#!/bin/bash
# A worker whose channel closes right after its RESULT (it quit, or died
# in that gap) is the one the next job is claimed for, in the same loop
# turn: that job can never reach it.  The attempt ends INTERRUPTED, is
# not charged, and the job runs on the worker that replaces it.  With
# max_attempts 1, a charge would leave the job FAILED.  The same holds
# for a real worker that crashes later, after the job was sent but before
# it read it from its channel: the job's input offset, shared with the
# daemon's copy, says it was never taken.
. "$(dirname "$0")/lib.sh"

need "$FAKE" "$REPO/build/tests/libfault.so"
export FAKE_PID_DIR="$T/fakes"
mkdir -p "$FAKE_PID_DIR"
touch "$T/in.bin"
JOBS=4

# One worker that serves one job and then closes its end.
start_daemon --worker "$(wrap_worker "$FAKE" FAKE_MODE=quit \
    FAKE_PID_DIR="$FAKE_PID_DIR")" --workers 1
for ((i = 0; i < JOBS; i++)); do
    enqueue "$T/in.bin" "$T/out/$i" max_attempts 1 > /dev/null
done
check_sql "every job DONE, none charged into FAILED" \
    "SELECT status, count(*) FROM jobs GROUP BY 1" "DONE|$JOBS" 20
expect_eq "each job sent to a closed channel once: every job but the first" \
    "$(q "SELECT count(*), count(DISTINCT job_id) FROM attempts
          WHERE outcome = 'INTERRUPTED'
          AND error = 'interrupted: worker ended before the job reached it'")" \
    "$((JOBS - 1))|$((JOBS - 1))"
expect_eq "no other outcome than DONE and those" \
    "$(q "SELECT count(*) FROM attempts
          WHERE outcome NOT IN ('DONE', 'INTERRUPTED')")" 0
expect_eq "frames of every job on disk" \
    "$(find "$T/out" -name 'frame_*.jpg' | wc -l)" $((JOBS * 5))
check "the daemon said so" \
    grep -q 'worker ended before the job reached it' "$DAEMON_LOG"
stop_daemon
expect_eq "daemon exit status" "$DAEMON_RC" 0

say "a real worker crashes between its RESULT and reading the job it was sent"
q "DELETE FROM attempts; DELETE FROM jobs"
gen_clip "$T/clip.mp4"
fault_clip "$T/clip.mp4" "$T/idle.mp4" FAULT_SEGV_IDLE
start_daemon --worker "$FAULTY" --workers 1
first=$(enqueue "$T/idle.mp4" "$T/out.first" "priority, max_attempts" "1, 1")
next=$(enqueue "$T/clip.mp4" "$T/out.next" max_attempts 1)
wait_terminal "$next" 20 || dump_job "$next"
expect_eq "the job that ran before the crash: DONE, 5 frames" \
    "$(q "SELECT status, frames_written FROM jobs WHERE id = $first")" "DONE|5"
expect_eq "the job sent into the crash: DONE, not charged into FAILED" \
    "$(q "SELECT status, frames_written, coalesce(last_signal, 'none')
          FROM jobs WHERE id = $next")" "DONE|5|none"
expect_eq "its attempts: interrupted without a signal, then DONE" \
    "$(q "SELECT group_concat(outcome || '/' || coalesce(signal, '-') || '/'
                             || coalesce(error, '-'), ' ')
          FROM (SELECT * FROM attempts WHERE job_id = $next ORDER BY attempt)")" \
    "INTERRUPTED/-/interrupted: worker ended before it read the job DONE/-/-"
check "the worker did crash (SIGSEGV in the log)" \
    grep -q 'killed by SIGSEGV' "$DAEMON_LOG"
stop_daemon
finish
