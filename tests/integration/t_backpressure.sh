#!/bin/bash
# Workers that produce faster than the disk syncs must not make the daemon
# hoard: ended jobs whose frames are still syncing are bounded (SYNC_AHEAD
# per slot and SYNC_AHEAD_BYTES in all, dispatch.c), so a flood of instant
# jobs keeps the daemon's descriptors and memory flat and every job ends
# DONE.  Before the bound, this flood piled up thousands of ended jobs,
# each with an open output directory, until open() failed with EMFILE.
# The same flood keeps the queue's WAL short although checkpoints run
# beside the loop's commits (daemon/checkpoint.c): a checkpointer that
# never lets the WAL start over left it at hundreds of MiB.
. "$(dirname "$0")/lib.sh"
need "$FAKE"

# watch_until_ended N: until N jobs are DONE or FAILED (2 min at most),
# samples the daemon's peak descriptors, RSS (KiB) and WAL size (bytes).
watch_until_ended() {
    local end=$((SECONDS + 120)) fds rss wal
    max_fds=0 max_rss=0 max_wal=0
    while [ "$(q "SELECT count(*) FROM jobs
                  WHERE status IN ('DONE', 'FAILED')")" -lt "$1" ] &&
        [ "$SECONDS" -lt "$end" ]; do
        fds=$(ls "/proc/$DAEMON_PID/fd" 2>/dev/null | wc -l)
        rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$DAEMON_PID/status")
        wal=$(stat -c %s "$DB-wal" 2>/dev/null || echo 0)
        [ "$fds" -gt "$max_fds" ] && max_fds=$fds
        [ "${rss:-0}" -gt "$max_rss" ] && max_rss=$rss
        [ "$wal" -gt "$max_wal" ] && max_wal=$wal
        sleep 0.05
    done
}

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
watch_until_ended "$JOBS"
expect_eq "all $JOBS jobs DONE" \
    "$(q "SELECT count(*) FROM jobs WHERE status='DONE'")" "$JOBS"
# About 36 with 4 jobs syncing per slot and 4 threads, 53 with 16 and 8,
# 156 with 64 (2 x 64 output directories held open, and the rest).
check "daemon descriptors stayed bounded: peak $max_fds (< 192)" \
    test "$max_fds" -lt 192
check "daemon memory stayed flat: peak RSS $max_rss KiB (< 32 MiB)" \
    test "$max_rss" -lt 32768
# It grows in steps of one checkpoint interval (1000 pages, about 5 MiB)
# each time a start-over is missed, which a loaded machine makes more
# likely: 5.7, 10.3, 15.5 and 20.3 MiB peaks seen.  Unbounded, it was
# hundreds of MiB within seconds.
check "the WAL stayed short: peak $((max_wal / 1024)) KiB (< 32 MiB)" \
    test "$max_wal" -lt $((32 << 20))
check "no .tmp file left" no_tmp_files "$T/out"
stop_daemon

# Big frames: 64 ended jobs per slot would hold 512 MiB of 4 x 1 MiB frames;
# the byte bound (SYNC_AHEAD_BYTES, 32 MiB) stops claiming first.  Its
# worst case here: 32 MiB, a frame from each slot past it, each slot's
# receive buffer, and the daemon itself (8 MiB).  37-40 MiB measured;
# 55-109 MiB with the byte bound taken out.
BIG=100
rm -f "$DB" "$DB-wal" "$DB-shm"
mkdir "$T/big"
start_daemon --worker "$(wrap_worker "$FAKE" FAKE_MODE=big \
    FAKE_BYTES=$((1 << 20)))" --workers 2
q "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c
                           WHERE i < $BIG)
   INSERT INTO jobs(input, output_dir, frames)
   SELECT '$T/clip.mp4', '$T/big/' || i, 4 FROM c;"
watch_until_ended "$BIG"
expect_eq "all $BIG big-frame jobs DONE" \
    "$(q "SELECT count(*) FROM jobs WHERE status='DONE'")" "$BIG"
check "4 MiB jobs: peak RSS $((max_rss / 1024)) MiB (< 64 MiB)" \
    test "$max_rss" -lt $((64 << 10))
expect_eq "every frame whole" \
    "$(find "$T/big" -name 'frame_*.jpg' -size $((1 << 20))c | wc -l)" \
    $((BIG * 4))
stop_daemon
finish
