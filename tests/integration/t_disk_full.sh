#!/bin/bash
# The daemon may not write a byte for a while (a file-size limit of 0 on
# its process, set with prlimit: every write fails with EFBIG, as on a
# full disk) just as two jobs end.  Their frames cannot be written, and
# neither can any row: the COMMITs of their ends and of the claims that
# follow fail.  The daemon stays up and keeps the ends in memory; once it
# may write again it records them, with the write error, and runs the
# jobs that waited.  Nothing is lost, nothing is left RUNNING.
. "$(dirname "$0")/lib.sh"

need "$FAKE"
command -v prlimit > /dev/null || die "prlimit missing (util-linux)"
export FAKE_PID_DIR="$T/fakes"
mkdir -p "$FAKE_PID_DIR"
touch "$T/in.bin" "$T/gate"
DAEMON_LOG_PIPE=1 # the log is not a file the limit stops

start_daemon --worker "$(wrap_worker "$FAKE" FAKE_MODE=good \
    FAKE_GATE="$T/gate" FAKE_PID_DIR="$FAKE_PID_DIR")" --workers 2
for i in 0 1 2 3; do
    enqueue "$T/in.bin" "$T/out/$i" > /dev/null
done
check_sql "two jobs running, two waiting" \
    "SELECT status, count(*) FROM jobs GROUP BY 1 ORDER BY 1" \
    "PENDING|2
RUNNING|2" 10
running=$(q "SELECT group_concat(id) FROM jobs WHERE status = 'RUNNING'")

say "no write succeeds: both running jobs end now"
prlimit --pid "$DAEMON_PID" --fsize=0: ||
    die "prlimit could not set the daemon's RLIMIT_FSIZE"
rm -f "$T/gate"
sleep 3
check "daemon alive" is_running "$DAEMON_PID"
expect_eq "no row changed" \
    "$(q "SELECT group_concat(status, ',') FROM (SELECT status FROM jobs
          ORDER BY id)")" "RUNNING,RUNNING,PENDING,PENDING"
expect_eq "no attempt's end recorded" \
    "$(q "SELECT count(*) FROM attempts WHERE outcome IS NOT NULL")" 0
expect_eq "no frame file" "$(find "$T/out" -type f 2>/dev/null | wc -l)" 0
check "pool still whole" wait_workers "$DAEMON_PID" 2 2

say "writes work again"
prlimit --pid "$DAEMON_PID" --fsize=unlimited: ||
    die "prlimit could not lift the daemon's RLIMIT_FSIZE"
# The refused ends are tried again after at most 5 s (the back-off's cap).
check_sql "the two ended jobs recorded, the other two run" \
    "SELECT status, count(*) FROM jobs GROUP BY 1 ORDER BY 1" \
    "DONE|2
FAILED|2" 15
expect_eq "the failed ones are the two that ended without space" \
    "$(q "SELECT group_concat(id) FROM jobs WHERE status = 'FAILED'")" \
    "$running"
expect_eq "their error is the write's" \
    "$(q "SELECT count(*) FROM jobs WHERE status = 'FAILED'
          AND last_error LIKE 'write frame_%.jpg in $T/out/%: File too large'")" 2
expect_eq "one attempt per job" \
    "$(q "SELECT count(*), count(DISTINCT job_id) FROM attempts")" "4|4"
expect_eq "frames of the two later jobs on disk, none of the others" \
    "$(find "$T/out" -name 'frame_*.jpg' | wc -l)" 10
check "no temporary file left" no_tmp_files "$T/out"
expect_eq "the first failed commit logged, with SQLite's reason, once" \
    "$(grep -c 'sqlite COMMIT: disk I/O error: a batch of transitions was not committed' \
        "$DAEMON_LOG")" 1
check "and the first commit after it" \
    grep -Eq 'queue commits again after [0-9]+ ms \([1-9][0-9]* failed\)' \
    "$DAEMON_LOG"
stop_daemon
expect_eq "daemon exit status" "$DAEMON_RC" 0
finish
