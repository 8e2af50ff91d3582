#!/usr/bin/env bash
# Generates the benchmark corpus with the ffmpeg CLI, deterministically:
#   bench/corpus.sh DIR small N   N clips of 320x240, 4 s, H.264 GOP 50 + B-frames
# Existing files are kept, so repeated runs reuse the corpus.
set -euo pipefail
dir=$1 kind=$2 n=$3
mkdir -p "$dir"
case $kind in
small)
    for i in $(seq 0 $((n - 1))); do
        f="$dir/small_$i.mp4"
        [ -s "$f" ] && continue
        # Each clip starts at another point of the pattern: distinct files.
        ffmpeg -nostdin -v error -f lavfi \
            -i "testsrc2=size=320x240:rate=25,trim=start_frame=$((i * 7))" \
            -t 4 -c:v libx264 -preset veryfast -g 50 -bf 2 \
            -pix_fmt yuv420p -threads 1 -y "$f.tmp.mp4"
        mv "$f.tmp.mp4" "$f"
    done
    ;;
*)
    echo "unknown corpus kind: $kind" >&2
    exit 64
    ;;
esac
