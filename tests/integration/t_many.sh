#!/bin/bash
# 200 clips enqueued with the sqlite3 CLI in one transaction all end DONE
# with 5 frames each: every output is a JPEG, ten jobs hold the exact
# frames (PSNR against ffmpeg's select=eq(n\,K)), and every other job's
# frames are byte for byte those of a checked job of the same clip, so
# all 1000 frames are exact.
. "$(dirname "$0")/lib.sh"
need "$WORKER"

say "making 5 distinct clips"
mkdir "$T/clips" "$T/in"
CLIP_SRC=testsrc2=size=160x120:rate=25:duration=2 gen_clip "$T/clips/c0.mp4" \
    -c:v libx264 -preset veryfast -g 25 -bf 2 -pix_fmt yuv420p
CLIP_SRC=testsrc2=size=320x240:rate=30:duration=1 gen_clip "$T/clips/c1.mp4" \
    -c:v libx264 -preset veryfast -g 10 -bf 3 -pix_fmt yuv420p
CLIP_SRC=testsrc2=size=160x120:rate=24:duration=3 gen_clip "$T/clips/c2.mkv" \
    -c:v libx264 -preset veryfast -g 48 -bf 2 -pix_fmt yuv420p
CLIP_SRC=testsrc2=size=160x120:rate=25:duration=2 gen_clip "$T/clips/c3.webm" \
    -c:v libvpx-vp9 -deadline realtime -cpu-used 8 -g 25 -b:v 300k
CLIP_SRC=testsrc2=size=176x144:rate=25:duration=2 gen_clip "$T/clips/c4.mov" \
    -c:v mpeg4 -q:v 3 -g 12 -bf 2
clips=(c0.mp4 c1.mp4 c2.mkv c3.webm c4.mov)

# 200 names, hard links to the 5 clips.
sql="BEGIN;"
for i in $(seq 0 199); do
    c=${clips[$((i % 5))]}
    ln "$T/clips/$c" "$T/in/v$i.${c#*.}"
    sql="$sql INSERT INTO jobs(input, output_dir)
              VALUES('$T/in/v$i.${c#*.}', '$T/out/v$i');"
done
sql="$sql COMMIT;"

start_daemon --worker "$WORKER" --workers 2
t0=$(date +%s%N)
q "$sql"
expect_eq "200 rows enqueued in one transaction" \
    "$(q "SELECT count(*) FROM jobs")" 200
if check_sql "all 200 DONE with frames_written=5" \
    "SELECT count(*) FROM jobs WHERE status='DONE' AND frames_written=5" \
    200 150; then
    ms=$((($(date +%s%N) - t0) / 1000000))
    say "200 jobs in $ms ms ($(awk -v ms="$ms" 'BEGIN { printf "%.1f", 200000 / ms }') files/s)"
else
    q "SELECT status, count(*) FROM jobs GROUP BY status" | sed 's/^/  /'
fi
expect_eq "each in a single attempt" \
    "$(q "SELECT count(*) FROM jobs WHERE attempts=1")" 200

say "outputs"
bad=0
nfiles=0
for i in $(seq 0 199); do
    for f in 0 1 2 3 4; do
        p="$T/out/v$i/frame_$f.jpg"
        # The first two bytes of a JPEG: FF D8 (read without a process).
        if [ -s "$p" ] && LC_ALL=C IFS= read -r -N 2 magic <"$p" &&
            [ "$magic" = $'\xff\xd8' ]; then
            nfiles=$((nfiles + 1))
        else
            bad=$((bad + 1))
            [ "$bad" -le 5 ] && fail "$p missing or not a JPEG"
        fi
    done
done
expect_eq "1000 frame files, all JPEG" "$nfiles" 1000
expect_eq "nothing else in the output dirs" \
    "$(find "$T/out" -type f | wc -l)" 1000

say "exact frames on a sample of ten jobs"
for i in 0 1 2 3 4 57 98 141 172 199; do
    c=${clips[$((i % 5))]}
    check_exact "v$i($c)" "$T/clips/$c" "$T/out/v$i" 5
    for f in 0 1 2 3 4; do
        is_jpeg "$T/out/v$i/frame_$f.jpg" ||
            fail "v$i/frame_$f.jpg is not a complete JPEG"
    done
done

say "every job's frames equal a checked job's of the same clip"
differ=$(cd "$T/out" && md5sum v*/frame_*.jpg | awk -v n=${#clips[@]} '
    { split($2, a, "[v/]"); i = a[2]; f = $2; sub(/^v[0-9]+\//, "", f)
      key = (i % n) "/" f
      if (!(key in ref)) { if (i < n) ref[key] = $1 }
      sum[i "/" f] = $1; cl[i "/" f] = key }
    END { bad = 0
          for (k in sum) if (sum[k] != ref[cl[k]]) bad++
          print bad }')
expect_eq "frames differing from their clip's checked job" "$differ" 0

rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$DAEMON_PID/status")
check "daemon RSS after 200 jobs: $rss KiB (< 32 MiB)" test "$rss" -lt 32768
stop_daemon
finish
