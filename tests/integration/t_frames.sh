#!/bin/bash
# Frame exactness with the real daemon and worker: the files of an
# accurate-mode job are exactly frames i * max(1, total // 5), checked by
# PSNR against ffmpeg's own select=eq(n\,K) on an H.264 mp4 with B-frames
# and GOP 50, a VP9 webm, an H.264 mkv, MPEG-4 with B-frames in AVI
# (packets without pts) and an intra-refresh H.264 mp4 (its "keyframes"
# are recovery points, from which nothing decodes for a while); keyframe
# mode delivers the last keyframe at or before each position.  A last target too damaged to decode is stood in
# for by the frame after it.  With the worker's CLI: an MP4 without stss
# still gets its real keyframes, and one cut short gets no frame for the
# positions past the cut.
. "$(dirname "$0")/lib.sh"
need "$WORKER"

say "making clips"
CLIP_SRC=testsrc2=size=160x120:rate=25:duration=4 gen_clip "$T/gop50.mp4" \
    -c:v libx264 -preset veryfast -g 50 -keyint_min 50 -sc_threshold 0 \
    -bf 2 -pix_fmt yuv420p
CLIP_SRC=testsrc2=size=160x120:rate=25:duration=2 gen_clip "$T/vp9.webm" \
    -c:v libvpx-vp9 -deadline realtime -cpu-used 8 -g 20 -b:v 300k \
    -pix_fmt yuv420p
CLIP_SRC=testsrc2=size=160x120:rate=30:duration=2 gen_clip "$T/h264.mkv" \
    -c:v libx264 -preset veryfast -g 30 -bf 3 -pix_fmt yuv420p
CLIP_SRC=testsrc2=size=176x144:rate=25:duration=2 gen_clip "$T/mpeg4.avi" \
    -c:v mpeg4 -q:v 3 -g 12 -bf 2
# 320x240: at 160x120 the refresh sweep is short enough that the seek to the
# recovery point before frame 80 still shows it.
CLIP_SRC=testsrc2=size=320x240:rate=25:duration=4 gen_clip "$T/refresh.mp4" \
    -c:v libx264 -preset veryfast -x264-params intra-refresh=1:keyint=25 \
    -pix_fmt yuv420p

bframes=$(ffprobe -v error -select_streams v:0 -show_entries frame=pict_type \
    -of default=nw=1:nk=1 "$T/gop50.mp4" | grep -c '^B')
check "the mp4 really has B-frames ($bframes)" test "$bframes" -gt 10
expect_eq "the mp4 has keyframes at 0 and 50 only" \
    "$(ffprobe -v error -select_streams v:0 -show_entries frame=key_frame \
        -of default=nw=1:nk=1 "$T/gop50.mp4" | grep -n '^1' | cut -d: -f1 |
        awk '{ printf "%s%d", sep, $1 - 1; sep = "," }')" "0,50"

start_daemon --worker "$WORKER"

declare -A ids
for c in gop50.mp4 vp9.webm h264.mkv mpeg4.avi refresh.mp4; do
    ids[$c]=$(enqueue "$T/$c" "$T/out.$c" "frames, mode" "5, 'accurate'")
done
ids[key]=$(enqueue "$T/gop50.mp4" "$T/out.key" "frames, mode" "5, 'keyframe'")

for c in gop50.mp4 vp9.webm h264.mkv mpeg4.avi refresh.mp4 key; do
    id=${ids[$c]}
    say "$c: job $id"
    if check_sql "$c: DONE, 5 frames written, first attempt" \
        "SELECT status, frames_written, attempts, coalesce(last_error, '')
         FROM jobs WHERE id=$id" "DONE|5|1|" 30; then
        :
    else
        dump_job "$id"
        continue
    fi
    expect_eq "$c: one attempts row, DONE with 5 frames" \
        "$(q "SELECT attempt, outcome, frames_written FROM attempts
              WHERE job_id=$id")" "1|DONE|5"
    expect_eq "$c: exactly frame_0..4.jpg in the output dir" \
        "$(ls "$T/out.$c" | tr '\n' ' ')" \
        "frame_0.jpg frame_1.jpg frame_2.jpg frame_3.jpg frame_4.jpg "
    for i in 0 1 2 3 4; do
        is_jpeg "$T/out.$c/frame_$i.jpg" ||
            fail "$c: frame_$i.jpg is not a complete JPEG"
    done
    [ "$c" = key ] || check_exact "$c" "$T/$c" "$T/out.$c" 5
done

say "keyframe mode: the last keyframe at or before each position"
total=$(count_frames "$T/gop50.mp4")
ks=$(positions "$total" 5)
kfs=$(keyframes_before "$T/gop50.mp4" $ks | tr '\n' ' ')
expect_eq "keyframes before positions $(echo $ks)" "$kfs" "0 0 0 50 50 "
ref_frames "$T/gop50.mp4" "$T/ref.key" 0 1 50 51 || fail "keyframe references"
i=0
for kf in $kfs; do
    p=$(psnr "$T/out.key/frame_$i.jpg" "$T/ref.key/ref_$kf.png")
    pn=$(psnr "$T/out.key/frame_$i.jpg" "$T/ref.key/ref_$((kf + 1)).png")
    if ge "$p" 28 && gt "$p" "$pn"; then
        ok "keyframe: frame_$i.jpg is keyframe $kf (PSNR $p dB, next $pn)"
    else
        fail "keyframe: frame_$i.jpg vs keyframe $kf: PSNR $p dB (next frame $pn)"
    fi
    i=$((i + 1))
done

check "no .tmp file left" no_tmp_files "$T"
check "daemon alive" daemon_alive
stop_daemon

# The decoder is drained once the last target's packets are in (nothing
# after it is decoded).  When that frame is too damaged to come out, the
# frame after the gap stands in for it, as for the other targets.
say "a last target too damaged to decode"
cp "$T/gop50.mp4" "$T/damaged.mp4"
last=$(positions "$(count_frames "$T/gop50.mp4")" 5 | tail -n 1)
read -r pos size < <(ffprobe -v error -select_streams v:0 \
    -show_entries packet=pts,pos,size -of compact=p=0:nk=0 "$T/gop50.mp4" |
    sed 's/|/ /g' | awk '{ for (i = 1; i <= NF; i++) { split($i, kv, "=")
        v[kv[1]] = kv[2] } print v["pts"], v["pos"], v["size"] }' |
    sort -n | awk -v n="$last" 'NR == n + 1 { print $2, $3 }')
head -c "$size" /dev/zero | tr '\0' '\377' |
    dd of="$T/damaged.mp4" bs=1 seek="$pos" conv=notrunc status=none
out=$("$WORKER" --extract "$T/damaged.mp4" "$T/out.damaged" --verbose 2>&1)
expect_eq "all five frames delivered" \
    "$(grep -c '^index=' <<< "$out")" 5
got=$(sed -n 's/^index=4 frame=\([0-9]*\) .*/\1/p' <<< "$out")
check "the last one is the frame after target $last (got ${got:-none})" \
    test "${got:-0}" -gt "$last"

# delivered CLIP MODE: the frame numbers the worker delivers, comma-separated.
delivered() {
    rm -rf "$T/out.cli"
    "$WORKER" --extract "$1" "$T/out.cli" --mode "$2" --verbose 2>/dev/null |
        sed -n 's/^index=[0-9]* frame=\([0-9]*\) .*/\1/p' | paste -sd, -
}

# Without an stss box the demuxer flags every sample a keyframe; only the
# H.264 parser tells the real ones, so the worker must keep it there.
say "an MP4 without stss"
CLIP_SRC=testsrc2=size=160x120:rate=25:duration=8 gen_clip "$T/nostss.mp4" \
    -c:v libx264 -preset veryfast -g 50 -keyint_min 50 -sc_threshold 0 \
    -bf 2 -pix_fmt yuv420p
python3 - "$T/nostss.mp4" <<'PY' || die "could not rename the stss box"
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
i = b.rindex(b"stss")  # the moov box follows the media data
b[i:i + 4] = b"free"
open(p, "wb").write(b)
PY
expect_eq "keyframe mode: the real keyframes before 0 40 80 120 160" \
    "$(delivered "$T/nostss.mp4" keyframe)" "0,0,50,100,150"
expect_eq "accurate mode: exactly the positions" \
    "$(delivered "$T/nostss.mp4" accurate)" "0,40,80,120,160"

# An MP4 cut in half (moov first): positions past the cut get no frame,
# in either mode, rather than one from earlier in the file.
say "an MP4 cut short"
CLIP_SRC=testsrc2=size=160x120:rate=25:duration=20 gen_clip "$T/whole.mp4" \
    -c:v libx264 -preset veryfast -g 25 -bf 2 -pix_fmt yuv420p \
    -movflags +faststart
head -c "$(($(stat -c %s "$T/whole.mp4") / 2))" "$T/whole.mp4" > "$T/cut.mp4"
for m in accurate keyframe; do
    got=$(delivered "$T/cut.mp4" "$m")
    expect_match "$m mode: frames of the first three positions only" \
        "$got" '^0,100,200$'
done
finish
