#!/usr/bin/env bash
# The daemon under the unit's main restrictions, emulated with bwrap since
# no test machine boots systemd: read-only root, a writable state
# directory and data directory only, private /tmp and /dev, no network,
# an unprivileged uid, /proc/meminfo hidden (ProcSubset=pid).  Real jobs,
# a real crash and a refused path; the frames grouped under a shared
# syncfs all the same, the dirty-memory guard reading /sys instead.
. "$(dirname "$0")/lib.sh"
command -v bwrap >/dev/null || die "bwrap (bubblewrap) missing"

state=$T/state
data=$T/data
mkdir -p "$state" "$data/in" "$data/out"
gen_clip "$data/in/a.mp4"
fault_clip "$data/in/a.mp4" "$data/in/segv.mp4" FAULT_SEGV
DB=$state/q.db

DAEMON_LOG=$T/daemon.log
# The checkout comes back read-only after the private /tmp, in case it
# lives under /tmp itself (a CI clone may).
bwrap --ro-bind / / --dev /dev --proc /proc --ro-bind /dev/null /proc/meminfo \
    --tmpfs /tmp \
    --ro-bind "$REPO" "$REPO" \
    --bind "$state" "$state" --bind "$data" "$data" \
    --unshare-net --unshare-ipc --unshare-pid --unshare-uts \
    --unshare-user --uid 65534 --gid 65534 \
    --die-with-parent --new-session \
    "$DAEMON" --db "$DB" --workers 2 --retry-delay 0 --worker "$FAULTY" \
    --input-roots "$data/in" --output-roots "$data/out" \
    </dev/null >"$DAEMON_LOG" 2>&1 &
DAEMON_PID=$!
track_pid "$DAEMON_PID"
wait_log 'ready workers=' 20 || die "daemon not ready under bwrap: $(tail -n 5 "$DAEMON_LOG")"

good=$(enqueue "$data/in/a.mp4" "$data/out/a")
crash=$(enqueue "$data/in/segv.mp4" "$data/out/c" max_attempts 2)
escape=$(enqueue "/etc/passwd" "$data/out/e")
outside=$(enqueue "$data/in/a.mp4" "$T/not-bound")
for id in $good $crash $escape $outside; do
    wait_terminal "$id" 30 || { fail "job $id not terminal"; dump_job "$id"; }
done
expect_eq "job DONE under bwrap" \
    "$(q "SELECT status, frames_written FROM jobs WHERE id=$good")" "DONE|5"
check "frames on disk" is_jpeg "$data/out/a/frame_4.jpg"
check "frames grouped under syncfs without /proc/meminfo" \
    grep -q 'output durability: syncfs per group' "$DAEMON_LOG"
expect_eq "crash recorded under bwrap" \
    "$(q "SELECT status, attempts, last_signal FROM jobs WHERE id=$crash")" \
    "FAILED|2|11"
expect_match "input outside input_roots refused" \
    "$(job_field "$escape" last_error)" 'outside input_roots'
expect_match "output outside output_roots refused" \
    "$(job_field "$outside" last_error)" 'outside output_roots'
# bwrap forwards no signals: find the daemon among its descendants (its
# pid as seen from here) and stop it directly, as systemd would.
inner=
for c in $(children "$DAEMON_PID"); do
    for p in $c $(children "$c"); do
        [ "$(cat "/proc/$p/comm" 2>/dev/null)" = frameshieldd ] && inner=$p
    done
done
[ -n "$inner" ] || die "daemon not found under bwrap $DAEMON_PID"
kill -TERM "$inner"
wait_daemon_exit 20 || fail "bwrap'd daemon did not exit"
check "drained and exited cleanly" grep -q 'stopped exit=0' "$DAEMON_LOG"

# Neither /proc/meminfo nor /sys: the guard cannot read the dirty memory,
# so every job fsyncs its own files.
rm -f "$DB" "$DB-wal" "$DB-shm"
DAEMON_LOG=$T/daemon.blind.log
bwrap --ro-bind / / --dev /dev --proc /proc --ro-bind /dev/null /proc/meminfo \
    --tmpfs /sys --tmpfs /tmp --ro-bind "$REPO" "$REPO" \
    --bind "$state" "$state" --bind "$data" "$data" \
    --unshare-pid --die-with-parent --new-session \
    "$DAEMON" --db "$DB" --workers 1 --worker "$WORKER" \
    </dev/null >"$DAEMON_LOG" 2>&1 &
DAEMON_PID=$!
track_pid "$DAEMON_PID"
wait_log 'ready workers=' 20 || die "daemon not ready under bwrap: $(tail -n 5 "$DAEMON_LOG")"
check "no dirty counts: fsync per file, and the log says why" \
    grep -q 'output durability: fsync per file and directory (dirty memory unreadable' "$DAEMON_LOG"
good=$(enqueue "$data/in/a.mp4" "$data/out/blind")
wait_terminal "$good" 30 || { fail "job $good not terminal"; dump_job "$good"; }
expect_eq "no dirty counts: job DONE" \
    "$(q "SELECT status, frames_written FROM jobs WHERE id=$good")" "DONE|5"
kill -KILL "$DAEMON_PID"
wait "$DAEMON_PID" 2>/dev/null
finish
