#!/bin/bash
# The worker sandbox (issue 3), seen from outside: a live worker runs under
# seccomp (mode 2) with no_new_privs, not as root, with its limits, an
# empty environment and only fds 0-3; escape attempts made mid-decode by
# the fault injector (open, socket, execve, fork) are killed by the filter
# and recorded as sandbox violations while the daemon and the other
# workers carry on; a memory bomb, a pixel bomb and an oversize input fail
# cleanly; --sandbox no really turns it all off (so the checks can fail).
. "$(dirname "$0")/lib.sh"
need "$WORKER" "$REPO/build/tests/libfault.so"
"$DAEMON" --help 2>&1 | grep -q -- --memory-limit-mb ||
    die "$DAEMON has no --memory-limit-mb: sandbox flags not built yet"

N=2
gen_clip "$T/clip.mp4"
ln "$T/clip.mp4" "$T/normal.mp4"
for m in OPEN SOCKET EXEC FORK MEMBOMB; do
    fault_clip "$T/clip.mp4" "$T/$m.mp4" "FAULT_$m"
done

# status_field PID NAME: the first value of "NAME:" in /proc/PID/status.
status_field() {
    awk -v k="$2:" '$1 == k { print $2; exit }' "/proc/$1/status" 2>/dev/null
}

# ids_field PID NAME: the four ids of the Uid: or Gid: line, space-separated.
ids_field() {
    awk -v k="$2:" '$1 == k { print $2, $3, $4, $5; exit }' \
        "/proc/$1/status" 2>/dev/null
}

# limit_of PID NAME: "SOFT HARD" of the /proc/PID/limits line NAME.
limit_of() {
    grep "^$2 " "/proc/$1/limits" 2>/dev/null | awk '{ print $(NF-2), $(NF-1) }'
}

# wait_seccomp PID MODE: until the worker is in seccomp mode MODE (it
# enters the sandbox on its own, right after start-up).
wait_seccomp() {
    local end=$((SECONDS + 5))
    while [ "$(status_field "$1" Seccomp)" != "$2" ]; do
        [ "$SECONDS" -ge "$end" ] && return 1
        sleep 0.05
    done
}

# attempt_rows ID: "attempt|outcome|signal" per attempt, space-separated.
attempt_rows() {
    q "SELECT attempt, outcome, coalesce(signal, '')
       FROM attempts WHERE job_id=$1 ORDER BY attempt" | tr '\n' ' '
}

# attempt_stderr ID: the captured stderr of every attempt of job ID.
attempt_stderr() {
    q "SELECT coalesce(stderr, '') FROM attempts WHERE job_id=$1"
}

# ---------------------------------------------------------------------------
say "a live, idle worker is confined"
start_daemon --worker "$WORKER" --workers "$N"
warm=$(enqueue "$T/normal.mp4" "$T/out.warm")
check_sql "a job runs DONE in the sandbox" \
    "SELECT status, frames_written FROM jobs WHERE id=$warm" "DONE|5" 20 ||
    dump_job "$warm"
check "pool of $N workers" wait_workers "$DAEMON_PID" "$N" 10
workers=$(workers "$DAEMON_PID")
for w in $workers; do
    wait_seccomp "$w" 2
    expect_eq "worker $w: Seccomp" "$(status_field "$w" Seccomp)" 2
    expect_eq "worker $w: NoNewPrivs" "$(status_field "$w" NoNewPrivs)" 1
    if [ "$(id -u)" -eq 0 ]; then
        uids=$(ids_field "$w" Uid)
        gids=$(ids_field "$w" Gid)
        check "worker $w: no uid is 0 (Uid: $uids)" \
            test -n "$uids" -a -z "$(echo "$uids" | tr ' ' '\n' | grep -x 0)"
        check "worker $w: no gid is 0 (Gid: $gids)" \
            test -n "$gids" -a -z "$(echo "$gids" | tr ' ' '\n' | grep -x 0)"
    else
        say "not root: the uid check needs root"
    fi
    expect_eq "worker $w: Max address space" \
        "$(limit_of "$w" 'Max address space')" "1073741824 1073741824"
    expect_eq "worker $w: Max file size" "$(limit_of "$w" 'Max file size')" "0 0"
    expect_eq "worker $w: Max open files" "$(limit_of "$w" 'Max open files')" "8 8"
    expect_eq "worker $w: Max core file size (--core-dumps no)" \
        "$(limit_of "$w" 'Max core file size')" "0 0"
    expect_eq "worker $w: environment bytes" \
        "$(wc -c <"/proc/$w/environ" 2>/dev/null)" 0
    expect_eq "worker $w: open fds while idle" \
        "$(ls "/proc/$w/fd" 2>/dev/null | sort -n | tr '\n' ' ')" "0 1 2 3 "
    expect_eq "worker $w: working directory" \
        "$(readlink "/proc/$w/cwd" 2>/dev/null)" /
    if [ "$(readlink "/proc/$w/ns/net")" != "$(readlink "/proc/$DAEMON_PID/ns/net")" ]; then
        say "worker $w has a network namespace of its own"
    else
        say "worker $w shares the daemon's network namespace (kernel refused unshare)"
    fi
done
stop_daemon

# ---------------------------------------------------------------------------
say "escape attempts mid-decode die by SIGSYS; the rest carries on"
start_daemon --worker "$FAULTY" --workers "$N"
declare -A esc
good=()
for m in OPEN SOCKET EXEC FORK; do
    esc[$m]=$(enqueue "$T/$m.mp4" "$T/out.$m" max_attempts 1)
    good[${#good[@]}]=$(enqueue "$T/normal.mp4" "$T/out.good.$m")
done
for id in "${esc[@]}" "${good[@]}"; do
    wait_terminal "$id" 30 || { fail "job $id not terminal"; dump_job "$id"; }
done
for m in OPEN SOCKET EXEC FORK; do
    id=${esc[$m]}
    expect_eq "$m: FAILED after its one attempt, last_signal 31" \
        "$(q "SELECT status, attempts, last_signal FROM jobs WHERE id=$id")" \
        "FAILED|1|31"
    expect_match "$m: last_error says sandbox violation" \
        "$(job_field "$id" last_error)" '^sandbox violation: SIGSYS \(signal 31\)'
    expect_eq "$m: attempts row" "$(attempt_rows "$id")" "1|FAILED|31 "
    # Killed at the injected call, not earlier by some other one.
    check "$m: the worker reached the injected call (its stderr)" \
        grep -q 'libfault: injecting' <<<"$(attempt_stderr "$id")"
    pid=$(q "SELECT worker_pid FROM attempts WHERE job_id=$id")
    check "$m: the killed worker $pid is gone" wait_gone "${pid:-0}" 5
done
for id in "${good[@]}"; do
    expect_eq "job $id beside the escapes: DONE in one attempt" \
        "$(q "SELECT status, attempts, frames_written FROM jobs WHERE id=$id")" \
        "DONE|1|5"
done
check "no 'libfault: ESCAPED' in the daemon log" \
    test -z "$(grep 'libfault: ESCAPED' "$DAEMON_LOG")"
check "no 'libfault: DENIED' in the daemon log (killed, not refused)" \
    test -z "$(grep 'libfault: DENIED' "$DAEMON_LOG")"
after_fault escapes
stop_daemon

# ---------------------------------------------------------------------------
say "a memory bomb hits --memory-limit-mb 256 and fails cleanly"
start_daemon --worker "$FAULTY" --workers "$N" --memory-limit-mb 256
for w in $(workers "$DAEMON_PID"); do
    wait_seccomp "$w" 2
    expect_eq "worker $w: Max address space" \
        "$(limit_of "$w" 'Max address space')" "268435456 268435456"
done
bomb=$(enqueue "$T/MEMBOMB.mp4" "$T/out.bomb")
wait_terminal "$bomb" 60 || { fail "memory bomb job not terminal"; dump_job "$bomb"; }
expect_eq "MEMBOMB: FAILED without a signal" \
    "$(q "SELECT status, coalesce(last_signal, 'none') FROM jobs WHERE id=$bomb")" \
    "FAILED|none"
expect_match "MEMBOMB: last_error says memory limit" \
    "$(job_field "$bomb" last_error)" 'memory limit'
expect_eq "MEMBOMB: no attempt ended by a signal" \
    "$(q "SELECT count(*) FROM attempts WHERE job_id=$bomb AND signal IS NOT NULL")" 0
mb=$(attempt_stderr "$bomb" | sed -n 's/.*libfault: malloc failed after \([0-9]*\) MiB.*/\1/p' | head -n 1)
check "MEMBOMB: malloc failed below the limit (after ${mb:-?} MiB)" \
    test -n "$mb" -a "${mb:-999}" -lt 256
rss=$(status_field "$DAEMON_PID" VmRSS)
check "daemon RSS stays small (${rss:-?} kB < 65536)" test "${rss:-999999}" -lt 65536
after_fault membomb
stop_daemon

# ---------------------------------------------------------------------------
say "frames above --max-megapixels 1 are refused before decoding"
CLIP_SRC=testsrc2=size=1920x1080:rate=25:duration=1 gen_clip "$T/hd1080.mp4"
CLIP_SRC=testsrc2=size=1280x720:rate=25:duration=1 gen_clip "$T/hd720.mp4"
# Marked to crash at its first packet: only a refusal before decoding
# leaves it without a SIGSEGV.
fault_clip "$T/hd1080.mp4" "$T/hd1080_segv.mp4" FAULT_SEGV
start_daemon --worker "$FAULTY" --workers "$N" --max-megapixels 1
big=$(enqueue "$T/hd1080.mp4" "$T/out.1080")
bigseg=$(enqueue "$T/hd1080_segv.mp4" "$T/out.1080segv")
ok720=$(enqueue "$T/hd720.mp4" "$T/out.720")
for id in $big $bigseg $ok720; do
    wait_terminal "$id" 30 || { fail "job $id not terminal"; dump_job "$id"; }
done
expect_eq "1920x1080: FAILED at once, no retry, no signal" \
    "$(q "SELECT status, attempts, coalesce(last_signal, 'none') FROM jobs WHERE id=$big")" \
    "FAILED|1|none"
expect_match "1920x1080: last_error says too large" \
    "$(job_field "$big" last_error)" 'too large'
expect_eq "1920x1080 marked FAULT_SEGV: refused before its first packet" \
    "$(q "SELECT status, attempts, coalesce(last_signal, 'none') FROM jobs WHERE id=$bigseg")" \
    "FAILED|1|none"
expect_match "1920x1080 marked FAULT_SEGV: last_error says too large" \
    "$(job_field "$bigseg" last_error)" 'too large'
expect_eq "1280x720 (0.92 megapixels) under the limit: DONE" \
    "$(q "SELECT status, frames_written FROM jobs WHERE id=$ok720")" "DONE|5"
after_fault megapixels
stop_daemon

# ---------------------------------------------------------------------------
say "inputs above --max-input-mb 1 are refused"
# Raw video: 160x120 yuv420p is 28800 bytes a frame, 100 frames > 1 MiB.
CLIP_SRC=testsrc2=size=160x120:rate=25:duration=4 \
    gen_clip "$T/big.mkv" -c:v rawvideo -pix_fmt yuv420p
size=$(stat -c %s "$T/big.mkv")
[ "$size" -gt 1048576 ] || die "big.mkv is only $size bytes"
start_daemon --worker "$WORKER" --workers "$N" --max-input-mb 1
huge=$(enqueue "$T/big.mkv" "$T/out.big")
wait_terminal "$huge" 20 || { fail "big input job not terminal"; dump_job "$huge"; }
expect_eq "$size-byte input: FAILED" "$(job_field "$huge" status)" FAILED
expect_match "$size-byte input: last_error" "$(job_field "$huge" last_error)" \
    'input too large'
after_fault max-input
stop_daemon

# ---------------------------------------------------------------------------
say "--sandbox no: the same checks see an unconfined worker"
start_daemon --worker "$FAULTY" --workers "$N" --sandbox no
check "pool of $N workers" wait_workers "$DAEMON_PID" "$N" 10
sleep 0.5 # as long as a sandboxed worker would need to confine itself
for w in $(workers "$DAEMON_PID"); do
    expect_eq "unsandboxed worker $w: Seccomp" "$(status_field "$w" Seccomp)" 0
done
# The control for the escapes above: unconfined, the injected open()
# succeeds and the injector says so.
open=$(enqueue "$T/OPEN.mp4" "$T/out.open.nosandbox" max_attempts 1)
wait_terminal "$open" 20 || { fail "job $open not terminal"; dump_job "$open"; }
expect_eq "OPEN unsandboxed: FAILED by exit code 99, no signal" \
    "$(q "SELECT status, coalesce(signal, 'none'), exit_code
          FROM jobs JOIN attempts ON job_id=id WHERE id=$open")" \
    "FAILED|none|99"
check "OPEN unsandboxed: 'libfault: ESCAPED open' in the daemon log" \
    grep -q 'libfault: ESCAPED open' "$DAEMON_LOG"
after_fault nosandbox
stop_daemon
finish
