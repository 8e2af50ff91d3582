#!/bin/bash
# Bad inputs end in a terminal status within seconds with a clear
# last_error, never a hang or a daemon crash: a missing path, a directory,
# a FIFO without writer, /dev/zero, an empty file, random bytes, an
# audio-only file and truncated mp4s; and output directories that cannot
# be made (a file in the way), found when the frames are written.  More
# bad inputs in a row than a loop turn claims do not stall the queue.
. "$(dirname "$0")/lib.sh"
need "$WORKER"

gen_clip "$T/clip.mp4"
CLIP_SRC=testsrc2=size=160x120:rate=25:duration=4 gen_clip "$T/moov_end.mp4" \
    -c:v libx264 -preset veryfast -g 25 -bf 2 -pix_fmt yuv420p
CLIP_SRC=testsrc2=size=160x120:rate=25:duration=4 gen_clip "$T/faststart.mp4" \
    -c:v libx264 -preset veryfast -g 25 -bf 2 -pix_fmt yuv420p \
    -movflags +faststart
CLIP_SRC=sine=frequency=440:duration=1 gen_clip "$T/audio.m4a" -c:a aac
mkdir "$T/dir"
mkfifo "$T/fifo"
: >"$T/empty.mp4"
head -c 100000 /dev/urandom >"$T/random.mp4"
size=$(stat -c %s "$T/moov_end.mp4")
head -c $((size / 2)) "$T/moov_end.mp4" >"$T/trunc_moov_end.mp4"
size=$(stat -c %s "$T/faststart.mp4")
head -c $((size * 6 / 10)) "$T/faststart.mp4" >"$T/trunc_faststart.mp4"

start_daemon --worker "$WORKER" --workers 2

# name|input|regex the last_error must match
cases="missing|$T/nope.mp4|No such file
dir|$T/dir|not a regular file
fifo|$T/fifo|not a regular file
devzero|/dev/zero|not a regular file
empty|$T/empty.mp4|.....
random|$T/random.mp4|.....
audio|$T/audio.m4a|[Nn]o video stream
trunc_moov_end|$T/trunc_moov_end.mp4|.....
relative|clip.mp4|not an absolute path"
declare -A ids
while IFS='|' read -r name input _; do
    ids[$name]=$(enqueue "$input" "$T/out.$name")
done <<<"$cases"
ids[trunc_faststart]=$(enqueue "$T/trunc_faststart.mp4" "$T/out.trunc_faststart")
rel_out=$(enqueue "$T/clip.mp4" "relative/out")
# output directories that cannot be made: found when the frames are written
: >"$T/a_file"
file_out=$(enqueue "$T/clip.mp4" "$T/a_file" max_attempts 1)
under_file_out=$(enqueue "$T/clip.mp4" "$T/a_file/sub" max_attempts 1)
# a frame's name taken by a directory: its rename fails (EISDIR), in
# whichever way the frames are made durable (a shared syncfs or fsyncs)
mkdir -p "$T/out.taken/frame_2.jpg" "$T/out.taken_fsync/frame_2.jpg"
taken=$(enqueue "$T/clip.mp4" "$T/out.taken" max_attempts 1)

while IFS='|' read -r name input want; do
    id=${ids[$name]}
    if ! wait_terminal "$id" 15; then
        fail "$name: not terminal after 15 s"
        dump_job "$id"
        continue
    fi
    expect_eq "$name: FAILED" "$(job_field "$id" status)" FAILED
    expect_match "$name: last_error" "$(job_field "$id" last_error)" "$want"
    # the output directory is made with the first frame, so not at all
    check "$name: no output directory made" test ! -e "$T/out.$name"
done <<<"$cases"

check "relative output_dir: terminal" wait_terminal "$rel_out" 15
expect_eq "relative output_dir refused" \
    "$(q "SELECT status, last_error FROM jobs WHERE id=$rel_out")" \
    "FAILED|output_dir relative/out: not an absolute path"

for id in $file_out $under_file_out; do
    check "output_dir under or at a file: job $id terminal" \
        wait_terminal "$id" 15
done
expect_eq "output_dir that is a file" \
    "$(q "SELECT status, last_error FROM jobs WHERE id=$file_out")" \
    "FAILED|output_dir $T/a_file: Not a directory"
expect_eq "output_dir under a file" \
    "$(q "SELECT status, last_error FROM jobs WHERE id=$under_file_out")" \
    "FAILED|output_dir $T/a_file/sub: Not a directory"

check "frame name taken by a directory: terminal" wait_terminal "$taken" 15
expect_eq "frame name taken by a directory" \
    "$(q "SELECT status, last_error FROM jobs WHERE id=$taken")" \
    "FAILED|write frame_2.jpg in $T/out.taken: Is a directory"
expect_eq "frame name taken: the frames before it are in place" \
    "$(ls "$T/out.taken" | tr '\n' ' ')" "frame_0.jpg frame_1.jpg frame_2.jpg "

say "a faststart mp4 cut at 60%: the frames that exist, or a clear failure"
id=${ids[trunc_faststart]}
if wait_terminal "$id" 15; then
    row=$(q "SELECT status, coalesce(frames_written, 0), coalesce(last_error, '')
             FROM jobs WHERE id=$id")
    IFS='|' read -r st fw err <<<"$row"
    nfiles=$(ls "$T/out.trunc_faststart" 2>/dev/null | grep -c '^frame_.*\.jpg$')
    case $st in
    DONE)
        check "trunc_faststart: DONE with fewer than 5 frames ($fw)" \
            test "$fw" -lt 5
        expect_eq "trunc_faststart: frames_written matches the files" \
            "$nfiles" "$fw" ;;
    FAILED)
        expect_match "trunc_faststart: FAILED with a clear error" "$err" '.....' ;;
    *) fail "trunc_faststart: status $st" ;;
    esac
else
    fail "trunc_faststart: not terminal after 15 s"
    dump_job "$id"
fi

check "no .tmp file in any output dir" no_tmp_files "$T"
check "daemon alive" daemon_alive
check "pool full" wait_workers "$DAEMON_PID" 2 10
id=$(enqueue "$T/clip.mp4" "$T/out.good")
check_sql "a good job afterwards ends DONE" \
    "SELECT status, frames_written FROM jobs WHERE id=$id" "DONE|5" 15
stop_daemon

start_daemon --worker "$WORKER" --workers 1 --sync-output fsync
taken=$(enqueue "$T/clip.mp4" "$T/out.taken_fsync" max_attempts 1)
check "--sync-output fsync: frame name taken: terminal" \
    wait_terminal "$taken" 15
expect_eq "--sync-output fsync: frame name taken by a directory" \
    "$(q "SELECT status, last_error FROM jobs WHERE id=$taken")" \
    "FAILED|write frame_2.jpg in $T/out.taken_fsync: Is a directory"
check "--sync-output fsync: no .tmp file left" no_tmp_files "$T"
stop_daemon

# More bad inputs in a row than one turn claims (64): the turn ends to
# let the loop breathe, and the next one claims on by itself, with no
# write of anyone else's to wake it.
say "100 missing inputs in a row, then a good one"
start_daemon --worker "$WORKER" --workers 2
q "INSERT INTO jobs(input, output_dir, max_attempts)
   SELECT $(sql_quote "$T/missing-") || value || '.mp4',
          $(sql_quote "$T/out.missing-") || value, 1
   FROM generate_series(1, 100);
   INSERT INTO jobs(input, output_dir) VALUES
   ($(sql_quote "$T/clip.mp4"), $(sql_quote "$T/out.after-missing"))"
good=$(q "SELECT id FROM jobs WHERE output_dir = $(sql_quote "$T/out.after-missing")")
check_sql "the 100 FAILED" \
    "SELECT count(*) FROM jobs WHERE output_dir LIKE '%/out.missing-%'
     AND status = 'FAILED'" 100 15
check_sql "the good one after them DONE" \
    "SELECT status, frames_written FROM jobs WHERE id = $good" "DONE|5" 15 ||
    dump_job "$good"
stop_daemon
finish
