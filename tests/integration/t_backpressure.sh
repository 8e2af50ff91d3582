#!/bin/bash
# Workers that produce faster than the disk syncs must not make the daemon
# hoard: ended jobs whose frames are still syncing are bounded (SYNC_AHEAD
# per slot, dispatch.c), so a flood of instant jobs keeps the daemon's
# descriptors and memory flat and every job ends DONE.  Before the bound,
# this flood piled up thousands of ended jobs, each with an open output
# directory, until open() failed with EMFILE.  The same flood keeps the
# queue's WAL short although checkpoints run beside the loop's commits
# (daemon/checkpoint.c): a checkpointer that never lets the WAL start
# over left it at hundreds of MiB.
. "$(dirname "$0")/lib.sh"
need "$FAKE"

JOBS=20000
gen_clip "$T/clip.mp4"
mkdir "$T/out"
start_daemon --worker "$(wrap_worker "$FAKE" FAKE_MODE=good)" --workers 2
q "BEGIN;
   WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c
                           WHERE i < $JOBS)
   INSERT INTO jobs(input, output_dir, frames)
   SELECT '$T/clip.mp4', '$T/out', 1 FROM c;
   COMMIT;"
max_fds=0
max_rss=0
max_wal=0
end=$((SECONDS + 120))
while [ "$(q "SELECT count(*) FROM jobs WHERE status IN ('DONE', 'FAILED')")" \
    -lt "$JOBS" ] && [ "$SECONDS" -lt "$end" ]; do
    fds=$(ls "/proc/$DAEMON_PID/fd" 2>/dev/null | wc -l)
    rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$DAEMON_PID/status")
    [ "$fds" -gt "$max_fds" ] && max_fds=$fds
    [ "${rss:-0}" -gt "$max_rss" ] && max_rss=$rss
    wal=$(stat -c %s "$DB-wal" 2>/dev/null || echo 0)
    [ "$wal" -gt "$max_wal" ] && max_wal=$wal
    sleep 0.1
done
expect_eq "all $JOBS jobs DONE" \
    "$(q "SELECT count(*) FROM jobs WHERE status='DONE'")" "$JOBS"
check "daemon descriptors stayed bounded: peak $max_fds (< 64)" \
    test "$max_fds" -lt 64
check "daemon memory stayed flat: peak RSS $max_rss KiB (< 32 MiB)" \
    test "$max_rss" -lt 32768
check "the WAL stayed short: peak $((max_wal / 1024)) KiB (< 16 MiB)" \
    test "$max_wal" -lt $((16 << 20))
check "no .tmp file left" no_tmp_files "$T/out"
stop_daemon
finish
