#!/bin/bash
# The operator CLI (bin/frameshield) against the same database the daemon
# uses, every result checked with sqlite3: enqueue, status, list, show,
# retry ID, retry --failed, cancel.
. "$(dirname "$0")/lib.sh"
need "$WORKER" "$CLI"

fs() { "$CLI" --db "$DB" "$@"; }
fsq() { fs "$@" >/dev/null; }
# data_ids: ids of the data rows in list output (lines starting with a
# number), space-separated.
data_ids() { awk '$1 ~ /^[0-9]+$/ { printf "%s ", $1 }'; }

gen_clip "$T/clip.mp4"
mkdir "$T/work"
cp "$T/clip.mp4" "$T/work/rel.mp4"
start_daemon --worker "$WORKER" --workers 2

say "enqueue"
id1=$(fs enqueue "$T/clip.mp4" "$T/out1" --frames 3 --mode keyframe \
    --quality 70 --priority 5 --max-attempts 4)
expect_match "enqueue prints the new id" "$id1" '^[0-9]+$'
expect_eq "enqueue stored every option" \
    "$(q "SELECT input, output_dir, frames, mode, quality, priority,
                 max_attempts FROM jobs WHERE id=$id1")" \
    "$T/clip.mp4|$T/out1|3|keyframe|70|5|4"
check_sql "CLI job runs DONE with 3 frames" \
    "SELECT status, frames_written FROM jobs WHERE id=$id1" "DONE|3" 15
id_def=$(fs enqueue "$T/clip.mp4" "$T/out.def")
expect_eq "enqueue defaults" \
    "$(q "SELECT frames, mode, quality, priority, max_attempts
          FROM jobs WHERE id=$id_def")" "5|accurate|90|0|3"
id_rel=$(cd "$T/work" && fs enqueue rel.mp4 outrel)
expect_eq "a relative input is stored as an absolute path" \
    "$(job_field "$id_rel" input)" "$T/work/rel.mp4"
check_sql "relative paths: job DONE" \
    "SELECT status FROM jobs WHERE id=$id_rel" DONE 15
check "relative output dir is resolved against the caller's directory" \
    test -f "$T/work/outrel/frame_0.jpg"
expect_eq "output_dir is stored as an absolute path" \
    "$(job_field "$id_rel" output_dir)" "$T/work/outrel"
for bad in "--frames 0" "--frames x" "--mode fast" "--quality 101"; do
    # shellcheck disable=SC2086
    if fs enqueue "$T/clip.mp4" "$T/outbad" $bad >/dev/null 2>&1; then
        fail "enqueue $bad accepted"
    else
        ok "enqueue $bad rejected"
    fi
done
expect_eq "rejected enqueues inserted nothing" \
    "$(q "SELECT count(*) FROM jobs WHERE output_dir='$T/outbad'")" 0

id2=$(fs enqueue "$T/missing-2.mp4" "$T/out2")
id3=$(fs enqueue "$T/missing-3.mp4" "$T/out3")
id4=$(fs enqueue "$T/missing-4.mp4" "$T/out4")
for id in $id2 $id3 $id4 $id_def; do
    wait_terminal "$id" 15 || fail "job $id not terminal"
done
stop_daemon

say "status"
want=$(q "SELECT status || ' ' || count(*) FROM jobs GROUP BY status
          ORDER BY status")
got=$(fs status | awk 'NF == 2 && $2 != 0 { print $1, $2 }' | sort)
expect_eq "status matches the database" "$(echo $got)" "$(echo $want)"
check "status lists nothing but STATUS COUNT lines" \
    test -z "$(fs status | awk 'NF != 2 || $2 !~ /^[0-9]+$/')"

say "list"
expect_eq "list shows every job" "$(fs list | data_ids)" \
    "$(q "SELECT id FROM jobs ORDER BY id" | tr '\n' ' ')"
expect_eq "list --status FAILED" "$(fs list --status FAILED | data_ids)" \
    "$(q "SELECT id FROM jobs WHERE status='FAILED' ORDER BY id" | tr '\n' ' ')"
expect_eq "list --status DONE --limit 1" \
    "$(fs list --status DONE --limit 1 | data_ids | wc -w)" 1
expect_eq "list --limit 2" "$(fs list --limit 2 | data_ids | wc -w)" 2

say "show"
out=$(fs show "$id2")
err=$(job_field "$id2" last_error)
pid=$(q "SELECT coalesce(worker_pid, 'none') FROM attempts WHERE job_id=$id2")
check "show prints the status" grep -q FAILED <<<"$out"
check "show prints last_error ($err)" grep -qF "$err" <<<"$out"
check "show prints the input" grep -qF "$T/missing-2.mp4" <<<"$out"
check "show prints the attempts section" grep -qi attempt <<<"$out"
if [ "$pid" != none ]; then
    check "show prints the attempt's worker pid $pid" grep -qw "$pid" <<<"$out"
fi
if fs show 999999 >/dev/null 2>&1; then
    fail "show of a missing job succeeds"
else
    ok "show of a missing job fails"
fi

say "retry and cancel"
check "retry ID succeeds" fsq retry "$id2"
expect_eq "retry ID requeued only that job" \
    "$(q "SELECT group_concat(id || ':' || status, ' ') FROM
          (SELECT * FROM jobs WHERE id IN ($id2, $id3, $id4) ORDER BY id)")" \
    "$id2:PENDING $id3:FAILED $id4:FAILED"
if fs retry "$id1" >/dev/null 2>&1; then
    fail "retry of a DONE job succeeds"
else
    ok "retry of a DONE job is refused"
fi
expect_eq "the DONE job stays DONE" "$(job_field "$id1" status)" DONE
check "retry --failed succeeds" fsq retry --failed
expect_eq "retry --failed requeued the FAILED jobs" \
    "$(q "SELECT count(*) FROM jobs WHERE status='FAILED'") $(q "SELECT group_concat(status) FROM jobs WHERE id IN ($id3, $id4)")" \
    "0 PENDING,PENDING"
check "cancel ID succeeds" fsq cancel "$id2"
expect_eq "cancel marks the job FAILED 'cancelled'" \
    "$(q "SELECT status, last_error FROM jobs WHERE id=$id2")" \
    "FAILED|cancelled"
if fs cancel "$id1" >/dev/null 2>&1; then
    fail "cancel of a DONE job succeeds"
else
    ok "cancel of a DONE job is refused"
fi
expect_eq "the DONE job stays DONE" "$(job_field "$id1" status)" DONE

say "the daemon honours what the CLI did"
start_daemon --worker "$WORKER" --workers 2
for id in $id3 $id4; do
    check_sql "requeued job $id runs again and fails again" \
        "SELECT status, (SELECT count(*) FROM attempts WHERE job_id=$id)
         FROM jobs WHERE id=$id" "FAILED|2" 15
done
sleep 0.5
expect_eq "cancelled job not run again" \
    "$(q "SELECT status, last_error FROM jobs WHERE id=$id2")" \
    "FAILED|cancelled"
stop_daemon

if "$CLI" >/dev/null 2>&1; then fail "no arguments: exit 0"; else ok "no arguments: usage, non-zero exit"; fi
finish
