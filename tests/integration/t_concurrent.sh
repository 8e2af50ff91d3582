#!/bin/bash
# sqlite3 CLI inserts running concurrently with processing lose nothing:
# three shell loops insert 100 rows each, one sqlite3 process per row,
# while the daemon claims and finishes jobs; all 300 end DONE and no
# insert ever sees "database is locked".
. "$(dirname "$0")/lib.sh"
need "$WORKER"

CLIP_SRC=testsrc2=size=160x120:rate=25:duration=1 gen_clip "$T/clip.mp4"
mkdir "$T/in"
for l in a b c; do
    for i in $(seq 1 100); do ln "$T/clip.mp4" "$T/in/$l$i.mp4"; done
done

start_daemon --worker "$WORKER" --workers 2

inserter() {
    local l=$1 i errs=0
    for i in $(seq 1 100); do
        sqlite3 -cmd '.timeout 5000' "$DB" \
            "INSERT INTO jobs(input, output_dir, frames)
             VALUES('$T/in/$l$i.mp4', '$T/out/$l$i', 2)" \
            2>>"$T/insert.$l.err" || errs=$((errs + 1))
    done
    echo "$errs" >"$T/insert.$l.failed"
}
loops=()
for l in a b c; do
    inserter "$l" &
    loops+=($!)
    track_pid "$!"
done
for p in "${loops[@]}"; do wait "$p"; done

for l in a b c; do
    expect_eq "loop $l: every sqlite3 insert succeeded" \
        "$(cat "$T/insert.$l.failed")" 0
    check "loop $l: no 'database is locked'" \
        test -z "$(grep -i 'locked\|busy' "$T/insert.$l.err")"
done
expect_eq "300 rows inserted" "$(q "SELECT count(*) FROM jobs")" 300
check_sql "all 300 end DONE with 2 frames" \
    "SELECT count(*) FROM jobs WHERE status='DONE' AND frames_written=2" \
    300 120 ||
    q "SELECT status, count(*) FROM jobs GROUP BY status" | sed 's/^/  /'
for l in a b c; do
    expect_eq "loop $l: 100 distinct inputs done" \
        "$(q "SELECT count(DISTINCT input) FROM jobs
              WHERE input LIKE '$T/in/$l%' AND status='DONE'")" 100
done
expect_eq "600 frame files" \
    "$(find "$T/out" -name 'frame_*.jpg' | wc -l)" 600
check "no .tmp file left" no_tmp_files "$T/out"
stop_daemon
finish
