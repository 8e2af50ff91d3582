#!/bin/bash
# A file system whose writeback fails: syncfs reports EIO once (made to
# by build/tests/libsyncfail.so, preloaded into the daemon, when a flag
# file exists, after 1 s as a failing disk takes), and the next syncfs
# succeeds, as the kernel reports such an error once.  The jobs whose
# frames that cycle was to make durable fail, and so do the jobs that
# ended meanwhile and waited for the next cycle: their data may have been
# in that writeback, and no later syncfs would say so.  Each ends FAILED
# with the error in last_error and none of its files left; the daemon
# logs it and stays up, and the next jobs are DONE.
. "$(dirname "$0")/lib.sh"

SYNCFAIL="$REPO/build/tests/libsyncfail.so"
need "$FAKE"
need "$SYNCFAIL"
touch "$T/in.bin"
# The grouped path needs a machine with little dirty memory (a build just
# before leaves more than the 64 MiB under which jobs share a syncfs).
sync

LD_PRELOAD=$SYNCFAIL FS_FAULT_SYNCFS_EIO="$T/eio" \
    FS_FAULT_SYNCFS_DELAY_MS=1000 \
    start_daemon --worker "$(wrap_worker "$FAKE" FAKE_MODE=good)"
check "frames grouped under syncfs" \
    grep -q 'output durability: syncfs per group' "$DAEMON_LOG"

say "a disk that syncs"
id=$(enqueue "$T/in.bin" "$T/out/ok0")
check_sql "job DONE with 5 frames" \
    "SELECT status, frames_written FROM jobs WHERE id=$id" "DONE|5" 15

say "a disk whose writeback fails"
sync
touch "$T/eio"
# One transaction: all eight are claimed at once and end within the 1 s
# the failing syncfs takes, not one sqlite3 start apart.
q "INSERT INTO jobs(input, output_dir, max_attempts)
   SELECT $(sql_quote "$T/in.bin"), $(sql_quote "$T/out/bad") || value, 1
   FROM generate_series(1, 8)"
check_sql "all eight FAILED" \
    "SELECT count(*) FROM jobs WHERE output_dir LIKE '%/bad%'
     AND status = 'FAILED'" 8 20
expect_eq "each with the sync error in last_error" \
    "$(q "SELECT count(*) FROM jobs WHERE status = 'FAILED'
          AND last_error LIKE 'sync %/out/bad%: Input/output error'")" 8
expect_eq "no file of theirs left, not even a temporary one" \
    "$(find "$T/out" -path "$T/out/bad*" -type f | wc -l)" 0
expect_eq "the DONE job's frames untouched" \
    "$(find "$T/out/ok0" -name 'frame_*.jpg' | wc -l)" 5
check "the failed writeback logged" \
    grep -q 'output: syncfs on device [0-9]*:[0-9]* failed: Input/output error' \
    "$DAEMON_LOG"
check "jobs that waited for the next cycle failed with it" \
    grep -Eq 'and [1-9][0-9]* waiting for the next one with them' "$DAEMON_LOG"
check "daemon alive" daemon_alive

check "the error was reported once" test ! -e "$T/eio"
check "no job fell back on its own fsyncs (dirty memory)" \
    test "$(grep -c 'jobs fsync their own files' "$DAEMON_LOG")" -eq 0

say "the disk syncs again"
id=$(enqueue "$T/in.bin" "$T/out/ok1")
check_sql "a new job DONE with 5 frames" \
    "SELECT status, frames_written FROM jobs WHERE id=$id" "DONE|5" 15
expect_eq "its frames on disk" \
    "$(find "$T/out/ok1" -name 'frame_*.jpg' | wc -l)" 5
expect_eq "nothing left RUNNING or PENDING" \
    "$(q "SELECT count(*) FROM jobs WHERE status IN ('RUNNING', 'PENDING')")" 0
stop_daemon
finish
