#!/usr/bin/env bash
# Generates the benchmark corpora of issue 4 with the ffmpeg CLI,
# deterministically (fixed test patterns, fixed encoder settings and thread
# counts, bitexact muxing).  Files that exist are kept, so a second run
# only checks them.  Usage: bench/corpus.sh DIR [mixed|tiny|long|crashy|all]
#
#   mixed/   40 files, in pairs of the same kind (so a round-robin split
#            over 2 processes gives both the same work):
#              14 x H.264 640x360 10 s, GOP 250 (one keyframe), 3 B-frames
#               8 x H.264 1280x720 20 s, GOP 250, 3 B-frames
#               6 x H.264 1920x1080 10 s, GOP 250, 3 B-frames
#               6 x HEVC 1280x720 10 s, GOP 250, B-frames (x265 ultrafast)
#               6 x VP9 640x360 10 s (webm), GOP 250
#   tiny/    500 x H.264 160x120 1 s, GOP 25, 2 B-frames
#   long/    2 x H.264 1280x720 5 min, GOP 280, 3 B-frames: the targets
#            (every 1500th frame) fall 0, 100, 200, 20 and 120 frames after
#            a keyframe, not on keyframes
#   crashy/  every tenth tiny clip (index % 10 == 3: 50 files) remuxed
#            with -metadata comment=FAULT_SEGV: the test fault injector
#            (tests/faults/libfault.so) segfaults the worker that opens it.
#            The crashy job list is tiny's with those 50 files swapped in.
# All video is 25 fps testsrc2, each file starting at another point of the
# pattern.  Every corpus directory gets manifest.tsv:
#   path <TAB> true frame count (ffprobe -count_frames) <TAB> WxH <TAB> codec
set -euo pipefail
dir=$1
what=${2:-all}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
# One generator at a time (two runs would write the same temp files).
exec 9> "$dir/.lock"
flock 9

# gen OUT SIZE SECONDS OFFSET CODEC: one clip, written atomically.
gen() {
    local out=$1 size=$2 secs=$3 off=$4 codec=$5 enc
    [ -s "$out" ] && return 0
    case $codec in
    h264) enc=(-c:v libx264 -preset veryfast -g 250 -bf 3 -threads 2) ;;
    h264long) enc=(-c:v libx264 -preset veryfast -g 280 -bf 3 -threads 2) ;;
    h264tiny) enc=(-c:v libx264 -preset veryfast -g 25 -bf 2 -threads 1) ;;
    hevc) enc=(-c:v libx265 -preset ultrafast -tag:v hvc1
        -x265-params "log-level=error:pools=2:frame-threads=1:keyint=250:min-keyint=250:bframes=3") ;;
    vp9) enc=(-c:v libvpx-vp9 -deadline realtime -cpu-used 8 -g 250
        -b:v 1M -threads 2 -row-mt 0) ;;
    *) echo "corpus: unknown codec $codec" >&2; return 1 ;;
    esac
    ffmpeg -nostdin -v error -f lavfi \
        -i "testsrc2=size=$size:rate=25,trim=start_frame=$off,setpts=PTS-STARTPTS" -t "$secs" \
        "${enc[@]}" -pix_fmt yuv420p -map_metadata -1 -fflags +bitexact \
        -flags:v +bitexact -y "$out.tmp.${out##*.}"
    mv "$out.tmp.${out##*.}" "$out"
}
export -f gen

# manifest DIR: true frame counts (decoded, not the container's claim).
manifest() {
    local d=$1 f n wh codec
    [ -s "$d/manifest.tsv" ] && return 0
    : > "$d/manifest.tsv.tmp"
    for f in "$d"/*.mp4 "$d"/*.webm; do
        [ -e "$f" ] || continue
        IFS=, read -r codec wh n < <(ffprobe -v error -count_frames \
            -select_streams v:0 -show_entries \
            stream=codec_name,width,height,nb_read_frames -of csv=p=0 "$f" |
            awk -F, '{ print $1 "," $2 "x" $3 "," $4 }')
        printf '%s\t%s\t%s\t%s\n' "$f" "$n" "$wh" "$codec" >> "$d/manifest.tsv.tmp"
    done
    mv "$d/manifest.tsv.tmp" "$d/manifest.tsv"
}

mixed() {
    local d=$dir/mixed i=0 k kinds
    mkdir -p "$d"
    # kind:count; files are made in pairs of one kind.
    kinds="h264_360p:14 h264_720p:8 h264_1080p:6 hevc_720p:6 vp9_360p:6"
    for spec in $kinds; do
        local kind=${spec%%:*} count=${spec##*:}
        for ((k = 0; k < count; k++)); do
            local out off=$((i * 13))
            out=$(printf '%s/m%02d_%s' "$d" "$i" "$kind")
            case $kind in
            h264_360p) gen "$out.mp4" 640x360 10 "$off" h264 ;;
            h264_720p) gen "$out.mp4" 1280x720 20 "$off" h264 ;;
            h264_1080p) gen "$out.mp4" 1920x1080 10 "$off" h264 ;;
            hevc_720p) gen "$out.mp4" 1280x720 10 "$off" hevc ;;
            vp9_360p) gen "$out.webm" 640x360 10 "$off" vp9 ;;
            esac
            i=$((i + 1))
        done
    done
    manifest "$d"
}

tiny() {
    local d=$dir/tiny
    mkdir -p "$d"
    seq 0 499 | awk -v d="$d" '{ printf "%s/t%03d.mp4 %d\n", d, $1, $1 * 7 }' |
        while read -r f off; do [ -s "$f" ] || echo "$f $off"; done |
        xargs -r -P "$(nproc)" -L 1 bash -c 'gen "$1" 160x120 1 "$2" h264tiny' _
    manifest "$d"
}

long() {
    local d=$dir/long
    mkdir -p "$d"
    gen "$d/l0_h264_720p.mp4" 1280x720 300 0 h264long
    gen "$d/l1_h264_720p.mp4" 1280x720 300 977 h264long
    manifest "$d"
}

crashy() {
    local d=$dir/crashy i f
    tiny
    mkdir -p "$d"
    for ((i = 3; i < 500; i += 10)); do
        f=$(printf 't%03d.mp4' "$i")
        [ -s "$d/$f" ] && continue
        ffmpeg -nostdin -v error -i "$dir/tiny/$f" -map 0 -c copy \
            -metadata comment=FAULT_SEGV -fflags +bitexact -y "$d/$f.tmp.mp4"
        mv "$d/$f.tmp.mp4" "$d/$f"
    done
    manifest "$d"
}

case $what in
mixed | tiny | long | crashy) "$what" ;;
all) mixed; tiny; long; crashy ;;
*) echo "usage: $0 DIR [mixed|tiny|long|crashy|all]" >&2; exit 64 ;;
esac
