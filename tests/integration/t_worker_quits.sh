#!/bin/bash
# A worker whose channel closes right after its RESULT (it quit, or died
# in that gap) is the one the next job is claimed for, in the same loop
# turn: that job can never reach it.  The attempt ends INTERRUPTED, is
# not charged, and the job runs on the worker that replaces it.  With
# max_attempts 1, a charge would leave the job FAILED.  The same holds
# for a real worker that crashes later, after the job was sent but before
# it read it from its channel: the job's input offset, shared with the
# daemon's copy, says it was never taken (within max_attempts only).
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

# That the job was not taken is the worker's word: a job is spared only
# within its max_attempts, or workers that always die before reading
# (or a subverted one that unsets the mark) would bounce it for ever.
say "workers that always crash before reading their job"
q "DELETE FROM attempts; DELETE FROM jobs"
bounced=$(enqueue "$T/clip.mp4" "$T/out.bounced" max_attempts 2)
start_daemon --worker "$(fault_worker FS_FAULT_IDLE_CRASH=always)" --workers 1
wait_terminal "$bounced" 30 || dump_job "$bounced"
expect_eq "spared twice (its max_attempts), then charged: FAILED, SIGSEGV" \
    "$(q "SELECT status, attempts, last_signal FROM jobs WHERE id = $bounced")" \
    "FAILED|3|11"
expect_eq "its attempts" \
    "$(q "SELECT group_concat(outcome || '/' || coalesce(signal, '-'), ' ')
          FROM (SELECT * FROM attempts WHERE job_id = $bounced
                ORDER BY attempt)")" \
    "INTERRUPTED/- INTERRUPTED/- FAILED/11"
stop_daemon

say "a worker the sandbox kills is not believed"
q "DELETE FROM attempts; DELETE FROM jobs"
sys=$(enqueue "$T/clip.mp4" "$T/out.sys" max_attempts 2)
start_daemon --worker "$(fault_worker FS_FAULT_IDLE_CRASH=always-sys)" \
    --workers 1
wait_terminal "$sys" 30 || dump_job "$sys"
expect_eq "SIGSYS before reading: charged at once, FAILED after 2" \
    "$(q "SELECT status, attempts, last_signal FROM jobs WHERE id = $sys")" \
    "FAILED|2|31"
stop_daemon
finish
