#!/bin/bash
# A version 3 queue (the PENDING index held rows enqueued for later) is
# upgraded in place by the daemon's start: the old index goes, the new
# one comes, the jobs already queued run in priority order, a due one
# among them, and one enqueued for later keeps its time.  The CLI does
# not upgrade it: a daemon not yet restarted still claims through the old
# index.
. "$(dirname "$0")/lib.sh"
need "$WORKER"

gen_clip "$T/clip.mp4"
now=$(($(date +%s%N) / 1000000))

say "a version 3 database, as that schema left it"
sqlite3 "$DB" < "$REPO/sql/schema.sql"
q "DROP INDEX jobs_pending_now; DROP INDEX jobs_retry_now;
   DROP INDEX jobs_pending_waiting; DROP INDEX jobs_retry_waiting;
   CREATE INDEX jobs_pending ON jobs (priority DESC, id, next_attempt_at)
       WHERE status = 'PENDING';
   CREATE INDEX jobs_retry_due ON jobs (next_attempt_at, priority)
       WHERE status = 'RETRY';
   CREATE INDEX jobs_pending_later ON jobs (next_attempt_at)
       WHERE status = 'PENDING' AND next_attempt_at IS NOT NULL;
   PRAGMA user_version = 3;"
add() { # NAME PRIORITY NEXT_ATTEMPT_AT
    enqueue "$T/clip.mp4" "$T/out.$1" "priority, next_attempt_at" "$2, $3" \
        > /dev/null
}
add plain-p1 1 NULL
add due-p5 5 $((now - 1000))
enqueue "$T/clip.mp4" "$T/out.retry-p3" \
    "priority, status, attempts, next_attempt_at" "3, 'RETRY', 1, $((now - 500))" \
    > /dev/null
add later-p9 9 $((now + 3600000))
add plain-p7 7 NULL

say "the CLI leaves it to the daemon"
out=$("$CLI" --db "$DB" status 2>&1)
rc=$?
expect_eq "frameshield status on a version 3 queue: exit status" "$rc" 1
expect_match "and says why" "$out" 'version 3 is older .*restart frameshieldd'
expect_eq "still version 3, old index there" \
    "$(q "PRAGMA user_version; SELECT count(*) FROM sqlite_master
          WHERE name = 'jobs_pending'")" "3
1"

start_daemon --worker "$WORKER" --workers 1
expect_eq "schema version after the start" "$(q "PRAGMA user_version")" 4
expect_eq "old indexes gone, new ones there" \
    "$(q "SELECT group_concat(name) FROM (SELECT name FROM sqlite_master
          WHERE name LIKE 'jobs_pending%' OR name LIKE 'jobs_retry%'
          ORDER BY name)")" \
    jobs_pending_now,jobs_pending_waiting,jobs_retry_now,jobs_retry_waiting
check_sql "the four runnable jobs DONE" \
    "SELECT count(*) FROM jobs WHERE status = 'DONE'" 4 20
expect_eq "in priority order, the due ones among them" \
    "$(q "SELECT group_concat(name, ' ') FROM (SELECT substr(output_dir,
          length('$T/out.') + 1) AS name FROM jobs j WHERE status = 'DONE'
          ORDER BY (SELECT min(rowid) FROM attempts a
                    WHERE a.job_id = j.id))")" "plain-p7 due-p5 retry-p3 plain-p1"
expect_eq "the one enqueued for later waits, its time kept" \
    "$(q "SELECT status, next_attempt_at FROM jobs
          WHERE output_dir = '$T/out.later-p9'")" "PENDING|$((now + 3600000))"
stop_daemon
finish
