#!/bin/bash
# Crash isolation: real faults in real worker processes through the
# LD_PRELOAD injector (tests/faults), marked in the clips' comment tag.
# Each fault ends with the specified status, last_signal, attempts and
# attempts rows; the dead worker is replaced, the daemon survives and the
# next job succeeds.  A transient crash (the input is repaired between
# attempts) ends DONE on the retry.
. "$(dirname "$0")/lib.sh"
need "$WORKER" "$REPO/build/tests/libfault.so"

N=2

gen_clip "$T/clip.mp4"
for m in SEGV ABORT EXIT FPE BUS HANG; do
    fault_clip "$T/clip.mp4" "$T/$m.mp4" "FAULT_$m"
done
fault_clip "$T/clip.mp4" "$T/segv2.mp4" FAULT_SEGV
fault_clip "$T/clip.mp4" "$T/transient.mp4" FAULT_SEGV
ln "$T/clip.mp4" "$T/normal.mp4"

# attempt_rows ID: "attempt|outcome|signal" per attempt, space-separated.
attempt_rows() {
    q "SELECT attempt, outcome, coalesce(signal, '')
       FROM attempts WHERE job_id=$1 ORDER BY attempt" | tr '\n' ' '
}

# replaced ID: every attempt ran in a different worker, and each worker
# that crashed is gone.
replaced() {
    local pids pid
    pids=$(q "SELECT worker_pid FROM attempts WHERE job_id=$1")
    expect_eq "job $1: one worker per attempt" \
        "$(echo "$pids" | sort -u | grep -c .)" "$(echo "$pids" | grep -c .)"
    for pid in $(q "SELECT worker_pid FROM attempts
                    WHERE job_id=$1 AND signal IS NOT NULL"); do
        is_running "$pid" && fail "job $1: crashed worker $pid still running"
    done
    return 0
}

start_daemon --worker "$FAULTY" --workers "$N" --job-timeout 2

say "crashes by signal: every attempt is charged, then FAILED"
seg=$(enqueue "$T/SEGV.mp4" "$T/out.segv")
abrt=$(enqueue "$T/ABORT.mp4" "$T/out.abrt" max_attempts 2)
fpe=$(enqueue "$T/FPE.mp4" "$T/out.fpe" max_attempts 2)
bus=$(enqueue "$T/BUS.mp4" "$T/out.bus" max_attempts 2)
ex=$(enqueue "$T/EXIT.mp4" "$T/out.exit" max_attempts 2)
hang=$(enqueue "$T/HANG.mp4" "$T/out.hang" max_attempts 2)
# Healthy jobs between the faulty ones are not disturbed by them.
for i in 1 2 3; do
    good[$i]=$(enqueue "$T/normal.mp4" "$T/out.good$i")
done

for id in $seg $abrt $fpe $bus $ex $hang "${good[@]}"; do
    wait_terminal "$id" 60 || { fail "job $id not terminal"; dump_job "$id"; }
done

expect_eq "SEGV: FAILED after max_attempts=3, last_signal 11" \
    "$(q "SELECT status, attempts, last_signal FROM jobs WHERE id=$seg")" \
    "FAILED|3|11"
expect_match "SEGV: last_error names the signal" \
    "$(job_field "$seg" last_error)" 'SIGSEGV'
expect_eq "SEGV: attempts rows" "$(attempt_rows "$seg")" \
    "1|RETRY|11 2|RETRY|11 3|FAILED|11 "
replaced "$seg"
# The worker's last words are kept with the attempt that crashed.
expect_match "SEGV: the attempt keeps the worker's stderr" \
    "$(q "SELECT stderr FROM attempts WHERE job_id=$seg AND attempt=1")" \
    'libfault: injecting'

expect_eq "ABORT: FAILED after 2, last_signal 6" \
    "$(q "SELECT status, attempts, last_signal FROM jobs WHERE id=$abrt")" \
    "FAILED|2|6"
expect_match "ABORT: last_error" "$(job_field "$abrt" last_error)" 'SIGABRT'
expect_eq "ABORT: attempts rows" "$(attempt_rows "$abrt")" \
    "1|RETRY|6 2|FAILED|6 "
replaced "$abrt"

expect_eq "FPE: FAILED after 2, last_signal 8" \
    "$(q "SELECT status, attempts, last_signal FROM jobs WHERE id=$fpe")" \
    "FAILED|2|8"
expect_match "FPE: last_error" "$(job_field "$fpe" last_error)" 'SIGFPE'
expect_eq "FPE: attempts rows" "$(attempt_rows "$fpe")" \
    "1|RETRY|8 2|FAILED|8 "

expect_eq "BUS: FAILED after 2, last_signal 7" \
    "$(q "SELECT status, attempts, last_signal FROM jobs WHERE id=$bus")" \
    "FAILED|2|7"
expect_match "BUS: last_error" "$(job_field "$bus" last_error)" 'SIGBUS'
expect_eq "BUS: attempts rows" "$(attempt_rows "$bus")" \
    "1|RETRY|7 2|FAILED|7 "

# exit(3) is neither a crash nor a known worker code: it may be retried
# or fail at once, but it must say "exit code 3" and set no signal.
expect_match "EXIT: FAILED, no signal" \
    "$(q "SELECT status, attempts, coalesce(last_signal, 'none')
          FROM jobs WHERE id=$ex")" '^FAILED\|[12]\|none$'
expect_match "EXIT: last_error names exit code 3" \
    "$(job_field "$ex" last_error)" 'exit(ed)? (with )?code 3'
expect_match "EXIT: attempts rows carry exit code 3, no signal" \
    "$(q "SELECT attempt, outcome, coalesce(signal, ''), exit_code
          FROM attempts WHERE job_id=$ex ORDER BY attempt" | tr '\n' ' ')" \
    '^1\|(RETRY|FAILED)\|\|3 (2\|FAILED\|\|3 )?$'

expect_eq "HANG: FAILED after 2 timeouts, last_signal 9" \
    "$(q "SELECT status, attempts, last_signal FROM jobs WHERE id=$hang")" \
    "FAILED|2|9"
expect_match "HANG: last_error" "$(job_field "$hang" last_error)" \
    'timeout after 2 s'
expect_eq "HANG: attempts rows" "$(attempt_rows "$hang")" \
    "1|RETRY|9 2|FAILED|9 "
ms=$(q "SELECT min(ms) FROM attempts WHERE job_id=$hang")
check "HANG: each attempt lasted about the timeout (min $ms ms)" \
    test "${ms:-0}" -ge 1900 -a "${ms:-0}" -lt 10000

for i in 1 2 3; do
    expect_eq "healthy job ${good[$i]} DONE in one attempt" \
        "$(q "SELECT status, attempts FROM jobs WHERE id=${good[$i]}")" \
        "DONE|1"
done
check "no job RUNNING, none left with an open attempt" test \
    "$(q "SELECT (SELECT count(*) FROM jobs WHERE status='RUNNING') +
                 (SELECT count(*) FROM attempts WHERE outcome IS NULL)")" = 0
check "no .tmp file left" no_tmp_files "$T"
after_fault "faults"
stop_daemon

say "--no-crash-retry: a crash fails the job at once"
start_daemon --worker "$FAULTY" --workers "$N" --no-crash-retry
seg2=$(enqueue "$T/segv2.mp4" "$T/out.segv2")
check_sql "no-crash-retry: SEGV FAILED at attempts=1, signal 11" \
    "SELECT status, attempts, last_signal FROM jobs WHERE id=$seg2" \
    "FAILED|1|11" 20 || dump_job "$seg2"
expect_eq "no-crash-retry: one attempts row" "$(attempt_rows "$seg2")" \
    "1|FAILED|11 "
after_fault "no-crash-retry"
stop_daemon

say "a transient crash: the input is repaired before the retry"
# The first attempt crashes for real (SIGSEGV); during the 2 s backoff the
# input is replaced atomically by a clean remux, as an operator or an
# upstream re-upload would, and the retry decodes it.
start_daemon --worker "$FAULTY" --workers "$N" --retry-delay 2
tj=$(enqueue "$T/transient.mp4" "$T/out.transient")
check_sql "transient: RETRY after the first attempt" \
    "SELECT status, attempts, last_signal FROM jobs WHERE id=$tj" \
    "RETRY|1|11" 20 || dump_job "$tj"
expect_eq "transient: first attempts row is a SIGSEGV" \
    "$(attempt_rows "$tj")" "1|RETRY|11 "
ffmpeg -nostdin -v error -i "$T/clip.mp4" -c copy -f mp4 \
    -y "$T/transient.mp4.new" || die "ffmpeg could not remux the clip"
mv -f "$T/transient.mp4.new" "$T/transient.mp4"
# Only meaningful if the retry had not started before the file changed.
expect_eq "transient: input replaced during the backoff" \
    "$(q "SELECT status, attempts FROM jobs WHERE id=$tj")" "RETRY|1"
check_sql "transient: DONE on the second attempt" \
    "SELECT status, attempts, frames_written FROM jobs WHERE id=$tj" \
    "DONE|2|5" 20 || dump_job "$tj"
expect_eq "transient: attempts rows" "$(attempt_rows "$tj")" \
    "1|RETRY|11 2|DONE| "
replaced "$tj"
check_exact transient "$T/clip.mp4" "$T/out.transient" 5
after_fault "transient"
stop_daemon

finish
