#!/usr/bin/env bash
# Longer inputs inside the sandbox.  Indexes of more than 128 frames made
# glibc's qsort call sysinfo, which the first allow-list lacked: every
# job on a 10 s clip died by SIGSYS while the short test clips passed.
# One clip per demuxer/decoder family, 12 s each, all sandboxed, exact.
. "$(dirname "$0")/lib.sh"

src=testsrc2=size=160x120:rate=25:duration=12
CLIP_SRC=$src gen_clip "$T/h264.mp4" -c:v libx264 -preset veryfast -g 250 -bf 3 -pix_fmt yuv420p
CLIP_SRC=$src gen_clip "$T/hevc.mkv" -c:v libx265 -preset ultrafast -x265-params log-level=error -g 100
CLIP_SRC=$src gen_clip "$T/vp9.webm" -c:v libvpx-vp9 -deadline realtime -cpu-used 8 -g 100 -b:v 200k
CLIP_SRC=$src gen_clip "$T/mpeg4.avi" -c:v mpeg4 -q:v 4 -g 50 -bf 2

start_daemon --worker "$WORKER" --workers 2
declare -A ids
for c in h264.mp4 hevc.mkv vp9.webm mpeg4.avi; do
    ids[$c]=$(enqueue "$T/$c" "$T/out.$c" "frames, max_attempts" "7, 1")
done
for c in h264.mp4 hevc.mkv vp9.webm mpeg4.avi; do
    id=${ids[$c]}
    wait_terminal "$id" 60 || { fail "$c: not terminal"; continue; }
    expect_eq "$c: DONE in the sandbox, 7 frames" \
        "$(q "SELECT status, frames_written, coalesce(last_signal, '')
              FROM jobs WHERE id=$id")" "DONE|7|"
    check_exact "$c" "$T/$c" "$T/out.$c" 7
done
check "no worker died by SIGSYS" test -z "$(grep SIGSYS "$DAEMON_LOG")"
stop_daemon
finish
