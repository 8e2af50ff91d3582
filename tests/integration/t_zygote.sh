#!/bin/bash
# The zygote (the fork server the workers come from, common/zygote.h):
# workers are its children and come back within milliseconds of a crash;
# if the zygote itself is killed, its workers die with it, their attempts
# end INTERRUPTED (the pool's fault, not the input's: requeued at once,
# whatever --crash-retry says), a new zygote comes up, the pool refills
# and the jobs are DONE.  The daemon never goes down.
. "$(dirname "$0")/lib.sh"
need "$WORKER" "$REPO/build/tests/libfault.so"

N=2
gen_clip "$T/clip.mp4"
ln "$T/clip.mp4" "$T/normal.mp4"
fault_clip "$T/clip.mp4" "$T/segv.mp4" FAULT_SEGV
fault_clip "$T/clip.mp4" "$T/slow.mp4" FAULT_SLOW

# A descriptor the daemon's parent leaves open: the zygote must not keep it.
exec 9< /dev/null
start_daemon --worker "$(fault_worker FS_FAULT_SLOW_MS=60000)" \
    --workers "$N" --no-crash-retry -v
exec 9<&-
zygote=$(children "$DAEMON_PID")
daemon_nice=$(ps -o ni= -p "$DAEMON_PID" | tr -d ' ')
WORKER_NICE=$((daemon_nice + 5 > 19 ? 19 : daemon_nice + 5))
expect_eq "one child of the daemon: the zygote" \
    "$(echo "$zygote" | grep -c .)" 1
check "its $N children are the workers" wait_workers "$DAEMON_PID" "$N" 10
for w in $(workers "$DAEMON_PID"); do
    expect_eq "worker $w is sandboxed (forked, then seccomp)" \
        "$(awk '/^Seccomp:/ { print $2 }' "/proc/$w/status")" 2
    # daemon/config.h WORKER_NICE_DEFAULT: the loop stays ahead of them
    expect_eq "worker $w 5 nice levels below the daemon" \
        "$(ps -o ni= -p "$w" | tr -d ' ')" "$WORKER_NICE"
done

say "a crash: the worker is replaced by a fork, not an exec"
seg=$(enqueue "$T/segv.mp4" "$T/out.segv" max_attempts 1)
wait_terminal "$seg" 20 || fail "segv job not terminal"
expect_eq "crash recorded" \
    "$(q "SELECT status, last_signal FROM jobs WHERE id=$seg")" "FAILED|11"
check "pool back to $N" wait_workers "$DAEMON_PID" "$N" 5
# How fast that is belongs to bench/ (RESULTS.md: respawn); here, that
# the replacement is a fork of the same zygote, not a new exec.
expect_eq "the zygote is unchanged" "$(children "$DAEMON_PID")" "$zygote"
for w in $(workers "$DAEMON_PID"); do
    expect_eq "worker $w is the zygote's child" \
        "$(awk '/^PPid:/ { print $2 }' "/proc/$w/status")" "$zygote"
    expect_eq "worker $w, after the respawn, 5 nice levels below" \
        "$(ps -o ni= -p "$w" | tr -d ' ')" "$WORKER_NICE"
done

say "64 crashes: the zygote execs itself anew (common/zygote.c LAYOUT_CRASHES)"
# Forks share the zygote's layout; a fresh exec moves every library.
lib_base() { awk '/libavcodec/ { split($1, a, "-"); print a[1]; exit }' \
    "/proc/$1/maps"; }
fds() { find "/proc/$1/fd" -mindepth 1 -printf '%f\n' | sort -n | tr '\n' ' '; }
base0=$(lib_base "$zygote")
check "libavcodec found in the zygote's maps" test -n "$base0"
# 0-2, its socket, its signalfd: nothing inherited from the test's shell.
expect_eq "the zygote's descriptors" "$(fds "$zygote")" "0 1 2 3 4 "
comm0=$(cat "/proc/$zygote/comm")
# A job that stays running on one worker across the exec, and ends by a
# signal the new image must report with its exact status.
held=$(enqueue "$T/slow.mp4" "$T/out.held" max_attempts 1)
check_sql "held job RUNNING" "SELECT status FROM jobs WHERE id=$held" \
    RUNNING 10
held_pid=$(job_field "$held" worker_pid)
{
    echo "BEGIN;"
    for i in $(seq 64); do
        echo "INSERT INTO jobs(input, output_dir, max_attempts)
              VALUES('$T/segv.mp4', '$T/out.c$i', 1);"
    done
    echo "COMMIT;"
} | sqlite3 -cmd '.timeout 5000' "$DB"
check_sql "64 crash jobs FAILED with SIGSEGV on the other worker" \
    "SELECT count(*) FROM jobs WHERE output_dir LIKE '$T/out.c%'
     AND status = 'FAILED' AND last_signal = 11" 64 60
check "the exec is logged" wait_log "exec'ing anew" 5
expect_eq "once" "$(grep -c "exec'ing anew" "$DAEMON_LOG")" 1
expect_eq "the zygote keeps its pid" "$(children "$DAEMON_PID")" "$zygote"
base1=$(lib_base "$zygote")
check "libavcodec moved ($base0 -> $base1)" \
    test -n "$base1" -a "$base1" != "$base0"
expect_eq "the new image's descriptors" "$(fds "$zygote")" "0 1 2 3 4 "
expect_eq "and its name ($comm0, not exe)" "$(cat "/proc/$zygote/comm")" \
    "$comm0"
# The exec came after the replacement fork that followed the 64th crash
# (the one above and 63 of these); the replacement after one more crash
# surely comes from the new image.
segv=$(enqueue "$T/segv.mp4" "$T/out.c65" max_attempts 1)
wait_terminal "$segv" 20 || fail "65th crash job not terminal"
check "pool back to $N" wait_workers "$DAEMON_PID" "$N" 5
for w in $(workers "$DAEMON_PID"); do
    [ "$w" = "$held_pid" ] && continue
    expect_eq "worker $w forked from the new image" "$(lib_base "$w")" "$base1"
done
expect_eq "the held job's worker lived through the exec" \
    "$(awk '/^PPid:/ { print $2 }' "/proc/$held_pid/status" 2>/dev/null)" \
    "$zygote"
expect_eq "and kept the old layout" "$(lib_base "$held_pid")" "$base0"
kill -SEGV "$held_pid"
check_sql "its crash reported by the new image: FAILED, signal 11" \
    "SELECT status || '|' || last_signal FROM jobs WHERE id=$held" \
    "FAILED|11" 10
check "pool back to $N after it" wait_workers "$DAEMON_PID" "$N" 5
ok_job=$(enqueue "$T/normal.mp4" "$T/out.after")
check_sql "a clean job after the exec is DONE" \
    "SELECT status || '|' || frames_written FROM jobs WHERE id=$ok_job" \
    "DONE|5" 20

say "kill -9 of the zygote while two jobs run (60 s each)"
a=$(enqueue "$T/slow.mp4" "$T/out.a")
b=$(enqueue "$T/slow.mp4" "$T/out.b")
check_sql "both RUNNING" \
    "SELECT count(*) FROM jobs WHERE id IN ($a, $b) AND status='RUNNING'" 2 10
old_workers=$(workers "$DAEMON_PID")
# The daemon is stopped meanwhile, so only the kernel can end the workers:
# their parent-death signal, which must survive the switch to nobody.
kill -STOP "$DAEMON_PID"
kill -KILL "$zygote"
for w in $old_workers; do
    check "worker $w died with its zygote (daemon stopped)" wait_gone "$w" 3
done
# The retries read a clip without the fault marker: they end quickly.
cp "$T/normal.mp4" "$T/slow.mp4.new" && mv "$T/slow.mp4.new" "$T/slow.mp4"
kill -CONT "$DAEMON_PID"
check_sql "both attempts end INTERRUPTED by SIGKILL, requeued" \
    "SELECT group_concat(outcome || ':' || signal) FROM attempts
     WHERE job_id IN ($a, $b) AND attempt = 1" \
    "INTERRUPTED:9,INTERRUPTED:9" 10
check "daemon alive" daemon_alive
check "the loss is logged" grep -q "zygote $zygote killed by signal 9" \
    "$DAEMON_LOG"
check "pool refilled to $N" wait_workers "$DAEMON_PID" "$N" 10
new=$(children "$DAEMON_PID")
check "a new zygote ($new, was $zygote)" test -n "$new" -a "$new" != "$zygote"
check_sql "both jobs DONE on their second attempt" \
    "SELECT group_concat(status || ':' || attempts) FROM jobs
     WHERE id IN ($a, $b)" "DONE:2,DONE:2" 30
stop_daemon
finish
