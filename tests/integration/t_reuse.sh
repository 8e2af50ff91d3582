#!/bin/bash
# A worker hands its decoder, flushed, to the next job whose stream is
# configured alike (worker/decode.c, spare).  That must never change a
# frame: each clip of a run through one process, in an order that mixes
# reuse, a damaged clip, a clip with its parameter sets repeated in-band
# and a change of size, gives byte for byte the JPEGs a fresh process
# gives for that clip alone.  And the decoder of a damaged clip, or of one
# with in-band parameter sets, is not handed on.
. "$(dirname "$0")/lib.sh"
need "$WORKER"

say "making clips"
x264=(-c:v libx264 -preset veryfast -g 25 -bf 2 -pix_fmt yuv420p
    -movflags +faststart)
CLIP_SRC=testsrc2=size=160x120:rate=25:duration=2 gen_clip "$T/a.mp4" "${x264[@]}"
CLIP_SRC=mandelbrot=size=160x120:rate=25 gen_clip "$T/b.mp4" -t 2 "${x264[@]}"
CLIP_SRC=smptebars=size=160x120:rate=25:duration=2 gen_clip "$T/c.mp4" "${x264[@]}"
CLIP_SRC=testsrc2=size=176x144:rate=25:duration=2 gen_clip "$T/d.mp4" "${x264[@]}"
# SPS and PPS again before every keyframe, inside the samples
CLIP_SRC=rgbtestsrc=size=160x120:rate=25:duration=2 gen_clip "$T/r.mp4" \
    "${x264[@]}" -x264-params repeat-headers=1
# b with 4 KiB of its coded frames overwritten by 0xff bytes
cp "$T/b.mp4" "$T/x.mp4"
size=$(stat -c %s "$T/x.mp4")
head -c 4096 /dev/zero | tr '\0' '\377' |
    dd of="$T/x.mp4" bs=1 seek=$((size / 2)) conv=notrunc status=none

order=(a b x c d a b r a)
: > "$T/list"
for i in "${!order[@]}"; do
    c=${order[$i]}
    mkdir -p "$T/run/$i" "$T/alone/$i"
    ln -s "$T/$c.mp4" "$T/in$i.mp4" # a name of its own in the stats lines
    printf '%s\t%s\n' "$T/in$i.mp4" "$T/run/$i" >> "$T/list"
    "$WORKER" --extract "$T/in$i.mp4" "$T/alone/$i" --frames 7 > /dev/null ||
        fail "clip $c alone: exit $?"
done
"$WORKER" --extract-list "$T/list" --frames 7 > "$T/stats" 2> "$T/err" ||
    fail "the list run: exit $?"

for i in "${!order[@]}"; do
    c=${order[$i]}
    n=$(find "$T/run/$i" -name 'frame_*.jpg' | wc -l)
    [ "$c" = x ] || expect_eq "clip $i ($c): 7 frames" "$n" 7
    check "clip $i ($c): the same JPEGs as from a fresh process" \
        diff -r "$T/alone/$i" "$T/run/$i"
done

# decoder I: how clip I's job got its decoder
decoder() { grep " in=$T/in$1.mp4\$" "$T/stats" | grep -o 'decoder=[a-z]*'; }
expect_eq "the first clip opens a decoder" "$(decoder 0)" decoder=new
expect_eq "a clip configured alike takes it over" "$(decoder 1)" \
    decoder=reused
expect_eq "the damaged clip takes it over" "$(decoder 2)" decoder=reused
expect_eq "but does not hand it on" "$(decoder 3)" decoder=new
expect_eq "another size opens a new one" "$(decoder 4)" decoder=new
expect_eq "and the first size after it too" "$(decoder 5)" decoder=new
expect_eq "which the next clip alike reuses" "$(decoder 6)" decoder=reused
expect_eq "the clip with in-band SPS/PPS takes it over" "$(decoder 7)" \
    decoder=reused
expect_eq "but does not hand it on" "$(decoder 8)" decoder=new
finish
