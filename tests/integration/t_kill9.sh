#!/bin/bash
# Recovery after kill -9 of the daemon mid-run: the jobs it left RUNNING go
# back to the queue with their history (the interrupted attempts are
# marked INTERRUPTED), nothing is lost or stuck, and everything ends DONE.
. "$(dirname "$0")/lib.sh"
need "$WORKER" "$REPO/build/tests/libfault.so"

gen_clip "$T/clip.mp4"
# The marker is in the file's content: links of a marked clip carry it.
fault_clip "$T/clip.mp4" "$T/slow.mp4" FAULT_SLOW
for i in $(seq 1 20); do
    ln "$T/slow.mp4" "$T/slow_$i.mp4"
done

# Every job takes 3 s in the first daemon's workers: it is killed long
# before any finishes.
start_daemon --worker "$(fault_worker FS_FAULT_SLOW_MS=3000)" --workers 2
q "BEGIN; $(for i in $(seq 1 20); do
    echo "INSERT INTO jobs(input, output_dir)
          VALUES('$T/slow_$i.mp4', '$T/out/$i');"
done) COMMIT;"
check_sql "two jobs RUNNING" \
    "SELECT count(*) FROM jobs WHERE status='RUNNING'" 2 10
running=$(q "SELECT id FROM jobs WHERE status='RUNNING' ORDER BY id" | tr '\n' ' ')
workers=$(descendants "$DAEMON_PID")
say "kill -9 daemon $DAEMON_PID while jobs $running run on workers" $workers
kill -KILL "$DAEMON_PID"
wait "$DAEMON_PID" 2>/dev/null
# Its workers are orphans now; end them by pid.
for w in $workers; do
    track_pid "$w"
    kill -KILL "$w" 2>/dev/null
    check "orphaned worker $w killed" wait_gone "$w" 5
done
expect_eq "right after the kill: the jobs are still marked RUNNING" \
    "$(q "SELECT id FROM jobs WHERE status='RUNNING' ORDER BY id" |
        tr '\n' ' ')" "$running"

say "restart on the same database"
start_daemon --worker "$(fault_worker FS_FAULT_SLOW_MS=100)" --workers 2
check_sql "all 20 jobs end DONE" \
    "SELECT count(*) FROM jobs WHERE status='DONE' AND frames_written=5" \
    20 60
expect_eq "20 jobs, none lost" "$(q "SELECT count(*) FROM jobs")" 20
expect_eq "none stuck RUNNING or open" \
    "$(q "SELECT (SELECT count(*) FROM jobs WHERE status!='DONE') +
                 (SELECT count(*) FROM attempts WHERE outcome IS NULL)")" 0
for id in $running; do
    expect_eq "job $id: interrupted attempt kept, then DONE" \
        "$(q "SELECT group_concat(attempt || ':' || outcome, ' ') FROM
              (SELECT * FROM attempts WHERE job_id=$id ORDER BY attempt)")" \
        "1:INTERRUPTED 2:DONE"
    expect_eq "job $id: attempts counts both" \
        "$(job_field "$id" attempts)" 2
done
expect_eq "every other job: one attempt" \
    "$(q "SELECT count(*) FROM jobs WHERE attempts=1")" 18
for i in $(seq 1 20); do
    [ "$(ls "$T/out/$i" 2>/dev/null | grep -c '^frame_[0-4]\.jpg$')" = 5 ] ||
        fail "job output $i: not 5 frame files"
done
check "no .tmp file left" no_tmp_files "$T/out"
stop_daemon
finish
