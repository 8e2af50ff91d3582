#!/usr/bin/env bash
# The benchmark of issue 4: frameshield against the ways frames are
# extracted today, on the same corpora in the same run, 2 parallel slots.
# Regenerates bench/RESULTS.md; every figure in it comes from this run.
#
# usage: bench/run.sh [RUNS]          (make bench runs it with the defaults)
# environment:
#   BENCH_RUNS=5          interleaved runs per method and corpus (median;
#                         runs here differ by 10 % and more, 3 were too few)
#   BENCH_THUMB_RUNS=1    runs of ffmpegthumbnailer (in no goal; 2500
#                         process starts per tiny run cost minutes)
#   BENCH_SLOTS=2         parallel slots of every method (daemon workers)
#   BENCH_CORPORA="mixed tiny long crashy"
#   BENCH_EXACT_TINY=100  tiny/crashy files checked for frame-exactness
#                         (mixed and long: all files)
#   BENCH_CLAIMS=5000     timed claims per queue scenario
#   BENCH_OUT=bench/RESULTS.md
#
# Methods (the clock of each is described in RESULTS.md):
#   seed          bench/seed.py: SEED.txt's multiprocessing + OpenCV, fork
#   ffmpeg        ffmpeg CLI, select=eq(n\,K)+..., -threads 1, xargs -P
#   thumb         ffmpegthumbnailer at 0/20/40/60/80 %, xargs -P
#   inproc[-kf]   frameshield-worker --extract-list, one process per slot
#   fs[-kf]       frameshieldd (accurate / keyframe jobs)
#   fs-nosandbox  frameshieldd --sandbox no
#   fs-fsync      frameshieldd --sync-output fsync (each file fsync'ed,
#                 no syncfs shared between jobs)
#   fs-nosync     frameshieldd --sync-output no (frames not synced)
#   fs-clean      frameshieldd --worker tests/faults/faulty-worker
#                 --no-crash-retry -v on the tiny corpus
#   fs-crashy     the same on the crashy corpus (10% SIGSEGV)
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
cd "$REPO"
# shellcheck source=bench/lib.sh
. bench/lib.sh

RUNS=${1:-${BENCH_RUNS:-5}}
THUMB_RUNS=${BENCH_THUMB_RUNS:-1}
SLOTS=${BENCH_SLOTS:-2}
CORPORA=${BENCH_CORPORA:-mixed tiny long crashy}
EXACT_TINY=${BENCH_EXACT_TINY:-100}
CLAIMS=${BENCH_CLAIMS:-5000}
OUT=${BENCH_OUT:-bench/RESULTS.md}
CORPUS=$REPO/bench/.corpus
T=$BENCH_TMP
T0=$(date +%s)
load_start=$(cut -d' ' -f1-3 /proc/loadavg)

for tool in ffmpeg ffprobe ffmpegthumbnailer sqlite3 strace "$PY"; do
    command -v "$tool" > /dev/null ||
        { echo "bench: $tool missing (make bench installs it)" >&2; exit 1; }
done
"$PY" -c 'import cv2' ||
    { echo "bench: $PY cannot import cv2 (python3-opencv)" >&2; exit 1; }
for f in bin/frameshieldd bin/frameshield-worker build/tests/fake_worker \
    build/tests/libfault.so build/daemon/queue.o build/libcommon.a; do
    [ -e "$f" ] || { echo "bench: $f missing: make all tests" >&2; exit 1; }
done

# Other sessions may rebuild the tree meanwhile: fingerprint the binaries.
fingerprint() {
    sha256sum bin/frameshieldd bin/frameshield-worker build/tests/libfault.so \
        build/tests/fake_worker build/daemon/queue.o | sha256sum | cut -c1-12
}
bins_start=$(fingerprint)

# --- corpora and job lists --------------------------------------------------
say "corpora in $CORPUS (generated once, then reused)"
corpus_t0=$(date +%s)
for c in $CORPORA; do bench/corpus.sh "$CORPUS" "$c"; done
corpus_secs=$(($(date +%s) - corpus_t0))

# jobs.CORPUS: INPUT <TAB> TRUE_FRAMES <TAB> NAME, in the corpus's order.
for c in mixed tiny long; do
    [ -s "$CORPUS/$c/manifest.tsv" ] || continue
    awk -F'\t' '{ n = split($1, a, "/"); sub(/\.[^.]*$/, "", a[n])
        print $1 "\t" $2 "\t" a[n] }' "$CORPUS/$c/manifest.tsv" > "$T/jobs.$c"
done
# crashy: tiny's list with the 50 FAULT_SEGV files swapped in.
[ -s "$CORPUS/crashy/manifest.tsv" ] &&
awk -F'\t' 'NR == FNR { n = split($1, a, "/"); faulty[a[n]] = $1; next }
    { n = split($1, a, "/"); if (a[n] in faulty) $1 = faulty[a[n]]; print }' \
    OFS='\t' "$CORPUS/crashy/manifest.tsv" "$T/jobs.tiny" > "$T/jobs.crashy"

methods_of() {
    case $1 in
    mixed) echo "seed ffmpeg thumb inproc inproc-kf fs fs-kf fs-nosandbox" ;;
    tiny) echo "seed ffmpeg thumb inproc fs fs-nosandbox fs-fsync fs-nosync" ;;
    long) echo "seed ffmpeg thumb inproc inproc-kf fs fs-kf" ;;
    crashy) echo "fs-clean fs-crashy" ;;
    esac
}
jobs_of() { # the job list a method runs on
    if [ "$1" = crashy ] && [ "$2" = fs-clean ]; then
        echo "$T/jobs.tiny"
    else
        echo "$T/jobs.$1"
    fi
}

# Per corpus and method, the inputs each method needs, made before any clock.
for c in $CORPORA; do
    for m in $(methods_of "$c"); do
        j=$(jobs_of "$c" "$m")
        o=$T/out/$c/$m
        k=$T/in/$c.$m
        mkdir -p "$T/in"
        awk -F'\t' -v o="$o" '{ print $1 "\t" o "/" $3 }' "$j" > "$k.list"
        case $m in
        ffmpeg)
            # xargs -L 1 unescapes one level: \\, reaches ffmpeg as \,
            awk -F'\t' -v o="$o" '{ s = int($2 / 5); if (s < 1) s = 1; e = ""
                for (i = 0; i < 5; i++) if (i * s < $2)
                    e = e (e == "" ? "" : "+") "eq(n\\\\," i * s ")"
                print "-i " $1 " -vf select=" e " -vsync 0 -threads 1" \
                    " -q:v 2 -start_number 0 " o "/" $3 "/frame_%d.jpg" }' \
                "$j" > "$k.args"
            ;;
        thumb)
            awk -F'\t' -v o="$o" '{ for (i = 0; i < 5; i++)
                print "-i " $1 " -o " o "/" $3 "/frame_" i ".jpg -t " \
                    i * 20 "% -s 0" }' "$j" > "$k.args"
            ;;
        inproc | inproc-kf)
            for ((s = 0; s < SLOTS; s++)); do
                awk -v n="$SLOTS" -v s="$s" '(NR - 1) % n == s' "$k.list" \
                    > "$k.part$s"
                if [ "$m" = inproc-kf ]; then
                    echo "--extract-list $k.part$s --mode keyframe"
                else
                    echo "--extract-list $k.part$s"
                fi
            done > "$k.args"
            ;;
        fs*)
            mode=accurate
            [ "$m" = fs-kf ] && mode=keyframe
            # max_attempts 1: a job that fails makes the run invalid (the
            # report says so) instead of timing 10 s + 40 s of retry backoff.
            {
                echo "BEGIN;"
                awk -F'\t' -v md="$mode" -v q="'" '{
                    print "INSERT INTO jobs(input, output_dir, mode, max_attempts)" \
                        " VALUES(" q $1 q ", " q $2 q ", " q md q ", 1);" }' "$k.list"
                echo "COMMIT;"
            } > "$k.sql"
            ;;
        esac
    done
done

# --- one timed run of one method --------------------------------------------
# Appends "corpus method run wall cpu files frames failed" to results.tsv.
RESULTS=$T/results.tsv
: > "$RESULTS"

daemon_flags() {
    case $1 in
    fs | fs-kf) echo "" ;;
    fs-nosandbox) echo "--sandbox no" ;;
    fs-fsync) echo "--sync-output fsync" ;;
    fs-nosync) echo "--sync-output no" ;;
    fs-clean | fs-crashy)
        echo "--worker $REPO/tests/faults/faulty-worker --no-crash-retry -v" ;;
    esac
}

run_one() {
    local c=$1 m=$2 r=$3 k=$T/in/$1.$2 o=$T/out/$1/$2 files line wall cpu
    local frames=0 failed=0 mem=
    files=$(wc -l < "$k.list")
    # Out of the way, not deleted: on this machine's ext4 (no journal)
    # every file made within minutes of a mass delete scans past the
    # deleted inodes (recently_deleted), which charged one run's cleanup to
    # whichever method ran next.  bench_cleanup deletes it all at the end.
    if [ -e "$o" ]; then
        mkdir -p "$T/trash"
        mv "$o" "$(mktemp -d "$T/trash/$c.$m.XXXXXX")/"
    fi
    # Methods that do not fsync (seed, ffmpeg CLI, in-process, fs-nosync)
    # leave their writeback behind, for whichever run the kernel's flusher
    # lands in: each run starts with none.
    sync
    # And with its inputs in the page cache: this VM pages out what was
    # not touched for a minute (DAMON), so whichever method ran first
    # after another corpus read its inputs from disk, and a fast method
    # loses more of its time that way than a slow one (tiny, cold against
    # warm: the daemon 522-529 against 561-589 files/s, ffmpeg CLI
    # 29.1-29.8 against 29.7-30.0).
    cut -f1 "$k.list" | xargs cat > /dev/null
    mkdir -p "$T/mem" "$T/keep"
    # The two methods the isolation ratio compares carry the same sampler.
    case $m in
    seed | fs | inproc) mem=$T/mem/$c.$m.$r ;;
    esac
    case $m in
    seed)
        "$PY" bench/measure.py cmd --mem "$mem" -- "$PY" bench/seed.py \
            "$k.list" "$SLOTS" > "$T/keep/$c.$m.out" 2> "$T/keep/$c.$m.err"
        # the seed's own clock: after interpreter start and import cv2
        line=$(grep '^files=' "$T/keep/$c.$m.out")
        wall=$(sed 's/.* wall=\([^ ]*\).*/\1/' <<< "$line")
        cpu=$(sed 's/.* cpu=\([^ ]*\).*/\1/' <<< "$line")
        frames=$(sed 's/.* frames=\([^ ]*\).*/\1/' <<< "$line")
        failed=$((files - $(sed 's/.* ok=\([^ ]*\).*/\1/' <<< "$line")))
        ;;
    ffmpeg | thumb)
        # output directories exist before the clock (neither tool makes them)
        cut -f2 "$k.list" | xargs mkdir -p
        local cmd=(ffmpeg -nostdin -v error -threads 1)
        [ "$m" = thumb ] && cmd=(ffmpegthumbnailer)
        "$PY" bench/measure.py cmd --out "$T/keep/$c.$m.time" -- \
            xargs -a "$k.args" -P "$SLOTS" -L 1 "${cmd[@]}" \
            > /dev/null 2> "$T/keep/$c.$m.err"
        line=$(cat "$T/keep/$c.$m.time")
        wall=$(sed 's/wall=\([^ ]*\).*/\1/' <<< "$line")
        cpu=$(sed 's/.* cpu=\([^ ]*\).*/\1/' <<< "$line")
        frames=$(find "$o" -name 'frame_*.jpg' | wc -l)
        failed=$(cut -f2 "$k.list" | while read -r d; do
            [ -e "$d/frame_0.jpg" ] || echo x; done | wc -l)
        ;;
    inproc | inproc-kf)
        "$PY" bench/measure.py cmd ${mem:+--mem "$mem"} \
            --out "$T/keep/$c.$m.time" -- \
            xargs -a "$k.args" -P "$SLOTS" -L 1 bin/frameshield-worker \
            > "$T/keep/$c.$m.stats" 2> "$T/keep/$c.$m.err"
        line=$(cat "$T/keep/$c.$m.time")
        wall=$(sed 's/wall=\([^ ]*\).*/\1/' <<< "$line")
        cpu=$(sed 's/.* cpu=\([^ ]*\).*/\1/' <<< "$line")
        # "frames=F decoded=D total=T decoder=new|reused in=IN" per file done
        frames=$(awk '{ sub(/^frames=/, "", $1); s += $1 } END { print s + 0 }' \
            "$T/keep/$c.$m.stats")
        failed=$((files - $(grep -c '^frames=' "$T/keep/$c.$m.stats" || true)))
        awk '{ for (i = 1; i <= NF; i++) { split($i, kv, "=")
                if (kv[1] == "decoded") d += kv[2]; if (kv[1] == "frames") f += kv[2] } }
            END { print d + 0, f + 0 }' "$T/keep/$c.$m.stats" > "$T/keep/$c.$m.decoded"
        ;;
    fs*)
        local db=$T/db/$c.$m.db n
        mkdir -p "$T/db"
        rm -f "$db" "$db-wal" "$db-shm" "$db.lock"
        # shellcheck disable=SC2046
        start_daemon "$db" "$T/keep/$c.$m.$r.log" --workers "$SLOTS" \
            $(daemon_flags "$m")
        line=$("$PY" bench/measure.py daemon "$db" "$k.sql" "$files" \
            "$DAEMON_PID" ${mem:+--mem "$mem"})
        stop_daemon
        wall=$(sed 's/wall=\([^ ]*\).*/\1/' <<< "$line")
        cpu=$(sed 's/.* cpu=//' <<< "$line")
        read -r frames failed < <(sqlite3 -separator ' ' "$db" \
            "SELECT coalesce(sum(frames_written), 0),
                    sum(status != 'DONE') FROM jobs")
        n=$(sqlite3 "$db" "SELECT count(*) FROM jobs WHERE status NOT IN ('DONE','FAILED')")
        [ "$n" = 0 ] || { echo "bench: $c $m: $n jobs not terminal" >&2; exit 1; }
        sqlite3 -separator ' ' "$db" "SELECT coalesce(sum(frames_decoded), 0),
            coalesce(sum(frames_written), 0) FROM attempts
            WHERE outcome = 'DONE'" > "$T/keep/$c.$m.decoded"
        if [ "$m" = fs-crashy ]; then
            cp "$db" "$T/keep/$c.$m.$r.db"
            sqlite3 "$T/keep/$c.$m.$r.db" "PRAGMA journal_mode=DELETE" > /dev/null
        fi
        rm -f "$db" "$db-wal" "$db-shm"
        ;;
    esac
    [ -n "$wall" ] || { echo "bench: $c $m run $r: no timing" >&2; exit 1; }
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$c" "$m" "$r" "$wall" "$cpu" \
        "$files" "$frames" "$failed" >> "$RESULTS"
    say "$c $m run $r: $(awk -v w="$wall" -v n="$files" \
        'BEGIN { printf "%.2f files/s", n / w }') (${wall}s, cpu ${cpu}s," \
        "frames $frames, failed $failed)"
}

# --- the interleaved runs ---------------------------------------------------
for r in $(seq "$RUNS"); do
    for c in $CORPORA; do
        read -r -a ms <<< "$(methods_of "$c")"
        n=${#ms[@]}
        # Rotated each run, and reversed every other run: no method always
        # goes first, and no method always runs before another (the
        # machine drifts within a run, and the in-process loop came before
        # the daemon in 4 of 5 runs).
        for ((i = 0; i < n; i++)); do
            j=$i
            [ $((r % 2)) -eq 0 ] && j=$((n - 1 - i))
            m=${ms[$(((j + r - 1) % n))]}
            [ "$m" = thumb ] && [ "$r" -gt "$THUMB_RUNS" ] && continue
            run_one "$c" "$m" "$r"
        done
    done
done

# --- frame-exactness of the last run's output -------------------------------
say "frame-exactness against ffmpeg select=eq(n\\,K) references"
mkdir -p "$T/exact"
for c in $CORPORA; do
    for m in $(methods_of "$c"); do
        j=$(jobs_of "$c" "$m")
        case $c in
        tiny | crashy)
            # every (500 / EXACT_TINY)th clip, skipping the FAULT_SEGV ones
            awk -F'\t' -v e="$EXACT_TINY" 'BEGIN { s = int(500 / e); if (s < 1) s = 1 }
                $1 !~ /\/crashy\// && (NR - 1) % s == 0' "$j" ;;
        *) cat "$j" ;;
        esac | awk -F'\t' -v o="$T/out/$c/$m" '{ print $1 "\t" $2 "\t" o "/" $3 }' \
            > "$T/exact/$c.$m.list"
        "$PY" bench/exact.py "$CORPUS/refs/$c" "$T/exact/$c.$m.list" \
            "$T/exact/$c.$m.details" > "$T/exact/$c.$m"
        say "exact $c $m: $(cat "$T/exact/$c.$m")"
    done
done

# --- sandbox: what the seccomp filter costs per job -------------------------
# The fs / fs-nosandbox rows above cannot resolve a few per cent on a shared
# machine; the filter only taxes system calls, so measure that tax per call
# (bench/seccomp_cost.c, the worker's own sandbox_enter) and count the calls
# a worker makes per job (strace -c on a live worker over 100 tiny jobs).
say "sandbox: per-call cost of the worker's filter, calls per job"
mkdir -p "$T/sandbox"
cc -O2 -std=gnu11 -Icommon -Iworker -o "$T/seccomp_cost" bench/seccomp_cost.c \
    build/worker/sandbox.o build/libcommon.a -lseccomp
tiny0=$(head -n 1 "$T/jobs.tiny" | cut -f1)
for i in 1 2 3; do
    "$T/seccomp_cost" "$tiny0" | cat
done > "$T/sandbox/percall"
head -n 100 "$T/jobs.tiny" | awk -F'\t' -v o="$T/sandbox/out" -v q="'" '
    BEGIN { print "BEGIN;" }
    { print "INSERT INTO jobs(input, output_dir, max_attempts) VALUES(" q $1 q \
          ", " q o "/" $3 q ", 1);" }
    END { print "COMMIT;" }' > "$T/sandbox/jobs.sql"
start_daemon "$T/sandbox/db" "$T/keep/strace.log" --workers 1
# the daemon's child is the zygote; the worker is the zygote's child
worker=$(pgrep -P "$(pgrep -P "$DAEMON_PID" | head -n 1)" | head -n 1)
[ -n "$worker" ] || { echo "bench: no worker under the zygote" >&2; exit 1; }
strace -c -p "$worker" -o "$T/sandbox/strace" 2> /dev/null &
strace_pid=$!
track "$strace_pid"
sleep 0.5 # strace attaches
"$PY" bench/measure.py daemon "$T/sandbox/db" "$T/sandbox/jobs.sql" 100 \
    "$DAEMON_PID" > /dev/null
kill -INT "$strace_pid"
wait "$strace_pid" || true
stop_daemon
awk '$NF == "total" { print "calls_per_job=" $(NF - 1) / 100 }' \
    "$T/sandbox/strace" > "$T/sandbox/calls"
[ -s "$T/sandbox/calls" ] || { echo "bench: strace counted nothing" >&2; exit 1; }
say "sandbox: $(tr '\n' ' ' < "$T/sandbox/percall")$(cat "$T/sandbox/calls")"
rm -rf "$T/sandbox/out" "$T/sandbox/db"*

# --- queue measurements -----------------------------------------------------
say "queue: claim latency with a million rows"
cc -O2 -std=gnu11 -Icommon -Idaemon -Ibuild -o "$T/claimlat" bench/claimlat.c \
    build/daemon/queue.o build/libcommon.a -lsqlite3
mkdir -p "$T/queue"
# make_db DB SQL-SELECT-OF-ROWS: schema, then a million rows in one INSERT
make_db() {
    rm -f "$1" "$1-wal" "$1-shm"
    sqlite3 "$1" < sql/schema.sql
    sqlite3 "$1" "PRAGMA journal_mode=WAL;
        WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c
                                 WHERE i < 1000000)
        INSERT INTO jobs(input, output_dir, frames, status, attempts,
                         frames_written, started_at, finished_at,
                         next_attempt_at) $2;" > /dev/null
}
now_ms=$(($(date +%s) * 1000))
# pending: 1M PENDING; done900k: 900k DONE + 100k PENDING (a queue with a
# history); retry10k: 980k DONE, then 10k RETRY still backing off ahead of
# 10k PENDING (each claim walks past the waiting RETRY rows); later100k:
# 890k DONE, 100k PENDING enqueued for tomorrow at priority 10, 10k
# PENDING at 0 (before schema version 4 each claim walked past the 100k);
# retrydue100k: 890k DONE, 100k RETRY all due a minute ago (a mass
# transient failure), 10k PENDING (before version 4 each claim sorted the
# 100k by priority; now each moves 16 of them into the priority order).
make_db "$T/queue/pending.db" "SELECT $(sql_quote "$tiny0"), $(sql_quote "$T/noop-out"),
    1, 'PENDING', 0, NULL, NULL, NULL, NULL FROM c"
make_db "$T/queue/done900k.db" "SELECT '/videos/clip_' || i || '.mp4', '/out/' || i, 5,
    CASE WHEN i <= 900000 THEN 'DONE' ELSE 'PENDING' END,
    i <= 900000, CASE WHEN i <= 900000 THEN 5 END,
    CASE WHEN i <= 900000 THEN $now_ms - 3600000 + i / 1000 END,
    CASE WHEN i <= 900000 THEN $now_ms - 3600000 + i / 1000 + 200 END, NULL FROM c"
make_db "$T/queue/retry10k.db" "SELECT '/videos/clip_' || i || '.mp4', '/out/' || i, 5,
    CASE WHEN i <= 980000 THEN 'DONE' WHEN i <= 990000 THEN 'RETRY' ELSE 'PENDING' END,
    i <= 990000, CASE WHEN i <= 980000 THEN 5 END,
    CASE WHEN i <= 990000 THEN $now_ms - 3600000 END,
    CASE WHEN i <= 990000 THEN $now_ms - 3500000 END,
    CASE WHEN i > 980000 AND i <= 990000 THEN $now_ms + 86400000 END FROM c"
make_db "$T/queue/later100k.db" "SELECT '/videos/clip_' || i || '.mp4', '/out/' || i, 5,
    CASE WHEN i <= 890000 THEN 'DONE' ELSE 'PENDING' END,
    i <= 890000, CASE WHEN i <= 890000 THEN 5 END,
    CASE WHEN i <= 890000 THEN $now_ms - 3600000 END,
    CASE WHEN i <= 890000 THEN $now_ms - 3500000 END,
    CASE WHEN i > 890000 AND i <= 990000 THEN $now_ms + 86400000 END FROM c"
sqlite3 "$T/queue/later100k.db" \
    "UPDATE jobs SET priority = 10 WHERE next_attempt_at IS NOT NULL"
make_db "$T/queue/retrydue100k.db" "SELECT '/videos/clip_' || i || '.mp4', '/out/' || i, 5,
    CASE WHEN i <= 890000 THEN 'DONE' WHEN i <= 990000 THEN 'RETRY' ELSE 'PENDING' END,
    i <= 990000, CASE WHEN i <= 890000 THEN 5 END,
    CASE WHEN i <= 990000 THEN $now_ms - 3600000 END,
    CASE WHEN i <= 990000 THEN $now_ms - 3500000 END,
    CASE WHEN i > 890000 AND i <= 990000 THEN $now_ms - 60000 END FROM c"
for s in pending done900k retry10k later100k retrydue100k; do
    cp "$T/queue/$s.db" "$T/queue/claim.db"
    rm -f "$T/queue/claim.db-wal" "$T/queue/claim.db-shm"
    "$T/claimlat" "$T/queue/claim.db" "$CLAIMS" > "$T/queue/claim.$s"
    say "claim $s: $(cat "$T/queue/claim.$s")"
done
rm -f "$T/queue/claim.db"*

say "queue: state transitions with a no-op decode, 1M queued rows"
printf '#!/bin/sh\nFAKE_MODE=good exec %s "$@"\n' "$REPO/build/tests/fake_worker" \
    > "$T/fake-good"
chmod +x "$T/fake-good"
mkdir -p "$T/noop-out"
# Three 8 s windows per variant, alternating (each its own daemon start):
# one window swung between 4,200 and 5,200 transitions/s across benches.
# default makes the frames durable as the daemon does by default (a
# syncfs shared by the jobs that end together, here); fsync fsyncs each
# frame and the directory; nosync leaves them unsynced: the queue and the
# IPC alone.  sync(1) first: the three 1M-row databases just made (and
# the window before) are still being written back, and the daemon's
# syncs queued behind that (a first window at 2,700 transitions/s, the
# next at 4,000).
for i in 1 2 3; do
    for v in default fsync nosync; do
        sync
        flags=()
        [ "$v" = fsync ] && flags=(--sync-output fsync)
        [ "$v" = nosync ] && flags=(--sync-output no)
        start_daemon "$T/queue/pending.db" "$T/keep/noop.$v.$i.log" \
            --workers "$SLOTS" --worker "$T/fake-good" "${flags[@]}"
        mem=()
        [ "$v.$i" = default.1 ] && mem=(--mem "$T/queue/rate.mem")
        "$PY" bench/measure.py rate "$T/queue/pending.db" "$DAEMON_PID" 2 8 \
            "${mem[@]}" > "$T/queue/rate.$v.$i"
        stop_daemon
        say "no-op ($v) window $i: $(cat "$T/queue/rate.$v.$i")"
    done
done
rm -f "$T/queue/"*.db*

say "queue: notice latency of an external INSERT, idle CPU"
start_daemon "$T/queue/notice.db" "$T/keep/notice.log" --workers "$SLOTS"
"$PY" bench/measure.py notice "$T/queue/notice.db" "$DAEMON_PID" 20 "$tiny0" \
    "$T/notice-out" > "$T/queue/notice"
failed=$(sqlite3 "$T/queue/notice.db" "SELECT count(*) FROM jobs WHERE status != 'DONE'")
stop_daemon
say "notice: $(tr '\n' ' ' < "$T/queue/notice") (not DONE: $failed)"

# --- the report -------------------------------------------------------------
elapsed=$(($(date +%s) - T0))
{
    echo "command=$(env | grep '^BENCH_' | grep -v '^BENCH_COMMAND=' | sort |
        tr '\n' ' ')${BENCH_COMMAND:-bench/run.sh${1:+ $1}}"
    echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "cpus=$(nproc)"
    echo "cpu_model=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
    echo "mem_gib=$(awk '/MemTotal/ { printf "%.0f", $2 / 1048576 }' /proc/meminfo)"
    echo "kernel=$(uname -r)"
    echo "os=$(. /etc/os-release && echo "$PRETTY_NAME")"
    echo "load_start=$load_start"
    echo "load_end=$(cut -d' ' -f1-3 /proc/loadavg)"
    echo "ffmpeg=$(ffmpeg -version | head -n 1 | cut -d' ' -f3)"
    echo "opencv=$("$PY" -c 'import cv2; print(cv2.__version__)')"
    echo "python=$("$PY" -c 'import sys; print(sys.version.split()[0])')"
    echo "thumbnailer=$(ffmpegthumbnailer -v 2>&1 | head -n 1 | awk '{ print $NF }')"
    echo "sqlite=$(sqlite3 --version | cut -d' ' -f1)"
    echo "git=$(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet HEAD -- daemon worker common sql 2>/dev/null || echo '+uncommitted changes')"
    echo "runs=$RUNS"
    echo "thumb_runs=$THUMB_RUNS"
    echo "slots=$SLOTS"
    echo "corpora=$CORPORA"
    echo "exact_tiny=$EXACT_TINY"
    echo "claims=$CLAIMS"
    echo "elapsed_s=$elapsed"
    echo "bins_start=$bins_start"
    echo "bins_end=$(fingerprint)"
    echo "corpus_s=$corpus_secs"
} > "$T/meta"
"$PY" bench/report.py "$T" "$CORPUS" > "$OUT"
say "wrote $OUT in $((elapsed / 60)) min $((elapsed % 60)) s"
cat "$OUT"
