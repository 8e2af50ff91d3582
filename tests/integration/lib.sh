# Helpers sourced by tests/integration/t_*.sh (bash): a private temp dir,
# test clips made with the ffmpeg CLI, the real daemon started and stopped
# by pid, sqlite3 queries, PSNR, and ok/fail bookkeeping.  Everything a
# script starts is killed by pid and $T is removed when the script exits.

set -u

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
DAEMON="$REPO/bin/frameshieldd"
WORKER="$REPO/bin/frameshield-worker"
CLI="$REPO/bin/frameshield"
FAULTY="$REPO/tests/faults/faulty-worker"
FAKE="$REPO/build/tests/fake_worker"
TEST_NAME=$(basename "$0" .sh)

T=$(mktemp -d "${TMPDIR:-/tmp}/fs-$TEST_NAME.XXXXXX") || exit 1
DB="$T/q.db"
FAILS=0
CHECKS=0
DAEMON_PID=
DAEMON_LOG=
DAEMON_RC=
DAEMON_STARTS=0
TRACKED_PIDS=()
EXIT_HOOKS=()

# --- bookkeeping ----------------------------------------------------------

say() { printf '# %s\n' "$*"; }
ok() { CHECKS=$((CHECKS + 1)); printf 'ok   %s\n' "$*"; }
fail() {
    CHECKS=$((CHECKS + 1))
    FAILS=$((FAILS + 1))
    printf 'FAIL %s\n' "$*"
}
# die MSG: a failure after which the script cannot go on.
die() {
    fail "$*"
    finish
}

# check DESCRIPTION COMMAND...: ok if the command succeeds.
check() {
    local what=$1
    shift
    if "$@"; then ok "$what"; else fail "$what"; fi
}

# expect_eq WHAT GOT WANT
expect_eq() {
    if [ "$2" = "$3" ]; then
        ok "$1 ($2)"
    else
        fail "$1: got '$2', want '$3'"
    fi
}

# expect_match WHAT GOT REGEX (extended regex)
expect_match() {
    if printf '%s' "$2" | grep -Eq -- "$3"; then
        ok "$1 ($2)"
    else
        fail "$1: got '$2', want match for /$3/"
    fi
}

# finish: prints the verdict and exits; the EXIT trap cleans up.
finish() {
    if [ "$FAILS" -gt 0 ]; then
        if [ -n "$DAEMON_LOG" ] && [ -f "$DAEMON_LOG" ]; then
            echo "--- last daemon log lines ($DAEMON_LOG)"
            tail -n 25 "$DAEMON_LOG"
        fi
        echo "$TEST_NAME: $FAILS of $CHECKS checks failed"
        exit 1
    fi
    echo "$TEST_NAME: all $CHECKS checks passed"
    exit 0
}

# --- processes ------------------------------------------------------------

track_pid() { TRACKED_PIDS+=("$1"); }

# on_exit CMD: run CMD (eval'd) during cleanup, before the pids are killed.
on_exit() { EXIT_HOOKS+=("$1"); }

# is_running PID: alive and not a zombie.
is_running() {
    local st
    [ -r "/proc/$1/stat" ] || return 1
    st=$(sed -e 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)
    [ -n "$st" ] && [ "$st" != Z ]
}

# children PID: live (non-zombie) child pids of PID, one a line.
children() {
    local c
    for c in $(cat /proc/"$1"/task/*/children 2>/dev/null); do
        is_running "$c" && echo "$c"
    done
}

# workers PID: live worker pids of daemon PID, the children of its zygote.
workers() {
    local z
    for z in $(children "$1"); do
        children "$z"
    done
}

# descendants PID: every live process under PID, parents first.
descendants() {
    local c
    for c in $(children "$1"); do
        echo "$c"
        descendants "$c"
    done
}

worker_count() { workers "$1" | wc -l; }

# wait_workers PID N TIMEOUT_S: until daemon PID has exactly N live workers.
wait_workers() {
    local end=$((SECONDS + $3)) n
    while :; do
        n=$(worker_count "$1")
        [ "$n" -eq "$2" ] && return 0
        [ "$SECONDS" -ge "$end" ] && {
            echo "  worker count of $1 is $n, want $2" >&2
            return 1
        }
        sleep 0.1
    done
}

# wait_gone PID TIMEOUT_S: until PID is no longer running.
wait_gone() {
    local end=$((SECONDS + $2))
    while is_running "$1"; do
        [ "$SECONDS" -ge "$end" ] && return 1
        sleep 0.05
    done
    return 0
}

# kill_tree PID: SIGKILL PID and everything under it, by pid.
kill_tree() {
    local kids
    kids=$(descendants "$1")
    kill -KILL "$1" $kids 2>/dev/null
    return 0
}

# cpu_ticks PID: utime + stime in clock ticks (/proc/PID/stat 14, 15).
cpu_ticks() {
    sed -e 's/^.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'
}

cleanup() {
    local p kids
    trap - EXIT INT TERM
    for p in "${EXIT_HOOKS[@]}"; do
        eval "$p"
    done
    for p in "${TRACKED_PIDS[@]}"; do
        is_running "$p" || continue
        kids=$(descendants "$p")
        kill -KILL "$p" $kids 2>/dev/null
    done
    for p in "${TRACKED_PIDS[@]}"; do
        wait "$p" 2>/dev/null
    done
    rm -rf "$T"
}
trap cleanup EXIT
trap 'echo "$TEST_NAME: interrupted"; exit 1' INT TERM

# --- daemon ---------------------------------------------------------------

# start_daemon_bg [flags]: starts bin/frameshieldd on $DB without waiting.
# Sets DAEMON_PID and DAEMON_LOG (one log file per start).  The default
# flags come first, so a test's own flags win.  With DAEMON_LOG_PIPE=1
# the daemon writes its log into a pipe that a cat copies to the file,
# as into journald's: a limit on the daemon's file writes spares it.
start_daemon_bg() {
    local out
    DAEMON_STARTS=$((DAEMON_STARTS + 1))
    DAEMON_LOG="$T/daemon.$DAEMON_STARTS.log"
    out=$DAEMON_LOG
    if [ -n "${DAEMON_LOG_PIPE:-}" ]; then
        out="$T/daemon.$DAEMON_STARTS.fifo"
        mkfifo "$out"
        : > "$DAEMON_LOG"
        # Ends by itself when the daemon closes the pipe.
        cat "$out" >> "$DAEMON_LOG" &
        track_pid $!
    fi
    # Its working directory is inside $T, so that anything it wrongly
    # writes relative to its cwd is cleaned up too.
    mkdir -p "$T/cwd"
    (cd "$T/cwd" && exec "$DAEMON" --db "$DB" --workers "${WORKERS:-2}" \
        --retry-delay 0 "$@" </dev/null >>"$out" 2>&1) &
    DAEMON_PID=$!
    track_pid "$DAEMON_PID"
}

# wait_log REGEX TIMEOUT_S [FILE]: until a line of the log matches.
wait_log() {
    local end=$((SECONDS + $2)) f=${3:-$DAEMON_LOG}
    while ! grep -Eq -- "$1" "$f" 2>/dev/null; do
        [ "$SECONDS" -ge "$end" ] && return 1
        sleep 0.05
    done
    return 0
}

# start_daemon [flags]: starts the daemon and waits for "ready workers=".
start_daemon() {
    local end
    start_daemon_bg "$@"
    end=$((SECONDS + ${READY_TIMEOUT:-15}))
    while ! grep -q 'ready workers=' "$DAEMON_LOG" 2>/dev/null; do
        if ! is_running "$DAEMON_PID"; then
            wait "$DAEMON_PID"
            die "daemon exited ($?) before ready: $(tail -n 5 "$DAEMON_LOG")"
        fi
        [ "$SECONDS" -ge "$end" ] && die "daemon not ready after ${READY_TIMEOUT:-15} s"
        sleep 0.05
    done
}

# wait_daemon_exit TIMEOUT_S: reaps the daemon; DAEMON_RC gets its status.
wait_daemon_exit() {
    if ! wait_gone "$DAEMON_PID" "$1"; then
        DAEMON_RC=timeout
        return 1
    fi
    wait "$DAEMON_PID"
    DAEMON_RC=$?
    return 0
}

# stop_daemon [TIMEOUT_S]: SIGTERM by pid and wait for exit 0; on timeout
# SIGKILL it and its workers and record a failure.  Returns the status.
stop_daemon() {
    local t=${1:-15} kids
    is_running "$DAEMON_PID" || {
        fail "daemon $DAEMON_PID not running at stop"
        wait "$DAEMON_PID" 2>/dev/null
        return 1
    }
    kids=$(descendants "$DAEMON_PID")
    kill -TERM "$DAEMON_PID"
    if ! wait_daemon_exit "$t"; then
        kill -KILL "$DAEMON_PID" $kids 2>/dev/null
        wait "$DAEMON_PID" 2>/dev/null
        fail "daemon did not exit within $t s of SIGTERM (killed)"
        return 1
    fi
    if [ "$DAEMON_RC" -ne 0 ]; then
        fail "daemon exited with status $DAEMON_RC after SIGTERM"
        return 1
    fi
    return 0
}

daemon_alive() { is_running "$DAEMON_PID"; }

# wrap_worker BIN NAME=VALUE...: prints the path of a new wrapper in $T
# that runs BIN with these variables set.  The daemon starts workers with
# an empty environment, so this is how settings reach a test worker.
# fault_worker NAME=VALUE...: the same for the fault injector's wrapper
# (FS_FAULT_SLOW_MS=..., FS_FAULT_START=die).
# Use: --worker "$(fault_worker FS_FAULT_SLOW_MS=4000)"
wrap_worker() {
    local bin=$1 a w
    shift
    w=$(mktemp "$T/worker.XXXXXX") || die "mktemp in $T"
    {
        echo '#!/bin/sh'
        for a in "$@"; do printf 'export %q\n' "$a"; done
        printf 'exec %q "$@"\n' "$bin"
    } >"$w" && chmod 755 "$w" || die "cannot write $w"
    echo "$w"
}

fault_worker() { wrap_worker "$FAULTY" "$@"; }

# Fakes started with FAKE_PID_DIR=$T/fakes* note their pids there: every
# one that ever ran is killed by pid when the script exits.
kill_fakes() {
    local f
    for f in "$T"/fakes*/*; do
        [ -e "$f" ] && kill -KILL "${f##*/}" 2>/dev/null
    done
    return 0
}
on_exit kill_fakes

# after_fault LABEL: the daemon is up, the pool is back to $N workers and
# a clean job ($T/normal.mp4) still ends DONE with 5 frames.
after_fault() {
    local id
    check "$1: daemon alive" daemon_alive
    check "$1: pool back to $N workers" wait_workers "$DAEMON_PID" "$N" 10
    id=$(enqueue "$T/normal.mp4" "$T/out.after.$1")
    check_sql "$1: a normal job afterwards ends DONE" \
        "SELECT status, frames_written FROM jobs WHERE id=$id" "DONE|5" 20 ||
        dump_job "$id"
}

# --- queue ----------------------------------------------------------------

q() { sqlite3 -cmd '.timeout 5000' "$DB" "$1"; }

# wait_sql SQL EXPECTED TIMEOUT_S: until q SQL prints EXPECTED.
wait_sql() {
    local end=$((SECONDS + $3)) got
    while :; do
        got=$(q "$1" 2>&1)
        [ "$got" = "$2" ] && return 0
        if [ "$SECONDS" -ge "$end" ]; then
            echo "  wait_sql timed out after $3 s: $1" >&2
            echo "  got:  $(printf '%s' "$got" | head -c 400)" >&2
            echo "  want: $2" >&2
            return 1
        fi
        sleep 0.1
    done
}

# check_sql WHAT SQL EXPECTED TIMEOUT_S: ok once q SQL prints EXPECTED.
check_sql() {
    if wait_sql "$2" "$3" "$4"; then
        ok "$1 ($(printf '%s' "$3" | tr '\n' ' '))"
    else
        fail "$1"
    fi
}

# hold_lock: a sqlite3 CLI client takes the queue's write lock, inserts a
# row, and holds on until $T/hold is removed, then rolls back (LOCK_PID;
# wait for it after removing $T/hold).
hold_lock() {
    rm -f "$T/locked"
    touch "$T/hold"
    (
        printf 'BEGIN IMMEDIATE;\n'
        printf "INSERT INTO jobs(input, output_dir) VALUES('/x', '/y');\n"
        printf '.shell touch %q; while [ -e %q ]; do sleep 0.05; done\n' \
            "$T/locked" "$T/hold"
        printf 'ROLLBACK;\n'
    ) | sqlite3 "$DB" &
    LOCK_PID=$!
    track_pid "$LOCK_PID"
    local end=$((SECONDS + 10))
    while [ ! -e "$T/locked" ] && [ "$SECONDS" -lt "$end" ]; do
        sleep 0.05
    done
    check "the lock is held" test -e "$T/locked"
}

# sql_quote STR: STR as an SQL string literal.
sql_quote() { printf "'%s'" "$(printf '%s' "$1" | sed "s/'/''/g")"; }

# enqueue INPUT OUTDIR [COLUMNS VALUES]: plain INSERT, prints the new id.
# e.g. enqueue in.mp4 out "mode, frames" "'keyframe', 3"
enqueue() {
    local cols="input, output_dir" vals
    vals="$(sql_quote "$1"), $(sql_quote "$2")"
    if [ $# -ge 4 ]; then
        cols="$cols, $3"
        vals="$vals, $4"
    fi
    q "INSERT INTO jobs($cols) VALUES($vals); SELECT last_insert_rowid();"
}

# job_field ID COLUMN
job_field() { q "SELECT $2 FROM jobs WHERE id=$1"; }

# wait_terminal ID TIMEOUT_S: until the job is DONE or FAILED.
wait_terminal() {
    wait_sql "SELECT status IN ('DONE','FAILED') FROM jobs WHERE id=$1" 1 "$2"
}

# dump_job ID: the row and its attempts, for failure messages.
dump_job() {
    q "SELECT 'job', * FROM jobs WHERE id=$1;
       SELECT 'attempt', * FROM attempts WHERE job_id=$1 ORDER BY attempt" |
        sed 's/^/  /'
}

# --- media ----------------------------------------------------------------

# gen_clip OUT [ffmpeg output args]: a test clip from a lavfi source.
# Defaults: 2 s of testsrc2 at 160x120, 25 fps, H.264 with B-frames and
# GOP 25.  CLIP_SRC overrides the lavfi source graph.
gen_clip() {
    local out=$1
    shift
    local src=${CLIP_SRC:-testsrc2=size=160x120:rate=25:duration=2}
    if [ $# -eq 0 ]; then
        set -- -c:v libx264 -preset veryfast -g 25 -bf 2 -pix_fmt yuv420p
    fi
    ffmpeg -nostdin -v error -f lavfi -i "$src" "$@" -y "$out" ||
        die "ffmpeg could not make $out"
}

# fault_clip SRC OUT MARKER: OUT is SRC remuxed (no re-encoding) with
# MARKER (FAULT_SEGV, FAULT_OPEN, ...) as the container's comment tag,
# which is where tests/faults/fault.c looks for it.  Works for mp4/mkv.
fault_clip() {
    ffmpeg -nostdin -v error -i "$1" -c copy -metadata comment="$3" \
        -y "$2" || die "ffmpeg could not make $2 ($3)"
}

# count_frames CLIP: frames decoded by ffprobe.
count_frames() {
    ffprobe -v error -select_streams v:0 -count_frames \
        -show_entries stream=nb_read_frames -of csv=p=0 "$1" | tr -d ' ,\n'
}

# ref_frames CLIP DIR K...: writes DIR/ref_K.png for each frame number K,
# selected with ffmpeg's select=eq(n\,K) in one decoding pass.
ref_frames() {
    local clip=$1 dir=$2 expr= k i=1 sorted
    shift 2
    mkdir -p "$dir/seq"
    sorted=$(printf '%s\n' "$@" | sort -n -u)
    for k in $sorted; do
        expr="$expr${expr:++}eq(n\\,$k)"
    done
    ffmpeg -nostdin -v error -i "$clip" -vf "select=$expr" -vsync 0 \
        -y "$dir/seq/%d.png" || return 1
    for k in $sorted; do
        mv "$dir/seq/$i.png" "$dir/ref_$k.png" || return 1
        i=$((i + 1))
    done
    rmdir "$dir/seq"
}

# positions TOTAL FRAMES: the frame numbers a job extracts,
# i * max(1, TOTAL // FRAMES) for i = 0..FRAMES-1, one a line.
positions() {
    local step=$(($1 / $2)) i
    [ "$step" -lt 1 ] && step=1
    for ((i = 0; i < $2; i++)); do echo $((i * step)); done
}

# keyframes_before CLIP K...: for each K, the number of the last
# keyframe (in display order) at or before K, one a line.
keyframes_before() {
    local clip=$1
    shift
    # Not csv: side data (SEI) adds stray lines there.
    ffprobe -v error -select_streams v:0 -show_entries frame=key_frame \
        -of default=nw=1:nk=1 "$clip" | awk -v ks="$*" '
        { key[NR - 1] = ($1 == 1) }
        END {
            n = split(ks, k, " ")
            for (i = 1; i <= n; i++) {
                for (f = k[i]; f > 0 && !key[f]; f--) ;
                print f
            }
        }'
}

# check_exact LABEL CLIP OUTDIR FRAMES: OUTDIR/frame_<i>.jpg is frame
# number i * max(1, total // FRAMES) of CLIP: PSNR >= 28 dB against that
# frame (ffmpeg select=eq(n\,K)) and at least 3 dB better than against
# frames K-1 and K+1.
check_exact() {
    local label=$1 clip=$2 out=$3 frames=$4 total ks k i=0 p pn n refs
    total=$(count_frames "$clip")
    ks=$(positions "$total" "$frames")
    refs="$T/ref.$label"
    # shellcheck disable=SC2046
    ref_frames "$clip" "$refs" $(for k in $ks; do
        [ "$k" -gt 0 ] && echo $((k - 1))
        echo "$k"
        [ $((k + 1)) -lt "$total" ] && echo $((k + 1))
    done) || { fail "$label: reference frames"; return 1; }
    for k in $ks; do
        p=$(psnr "$out/frame_$i.jpg" "$refs/ref_$k.png")
        if ge "$p" 28; then
            ok "$label: frame_$i.jpg is frame $k of $total (PSNR $p dB)"
        else
            fail "$label: frame_$i.jpg vs frame $k of $total: PSNR $p dB < 28"
        fi
        for n in $((k - 1)) $((k + 1)); do
            [ -f "$refs/ref_$n.png" ] || continue
            pn=$(psnr "$out/frame_$i.jpg" "$refs/ref_$n.png")
            gt "$p" "$(awk -v a="$pn" 'BEGIN { print a + 3 }')" ||
                fail "$label: frame_$i.jpg: PSNR vs frame $k ($p) not clearly above vs frame $n ($pn)"
        done
        i=$((i + 1))
    done
}

# psnr A B: average PSNR in dB (99 when identical, 0 if it cannot compare).
psnr() {
    local v
    v=$(ffmpeg -nostdin -nostats -i "$1" -i "$2" -lavfi psnr -f null - 2>&1 |
        grep -o 'average:[0-9.a-z]*' | tail -n 1 | cut -d: -f2)
    case $v in
    inf) echo 99 ;;
    '') echo 0 ;;
    *) echo "$v" ;;
    esac
}

# ge A B: A >= B as decimals.
ge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a >= b) }'; }
gt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a > b) }'; }

# is_jpeg FILE: starts with FF D8 and ends with FF D9.
is_jpeg() {
    [ -s "$1" ] &&
        [ "$(head -c 2 "$1" | od -An -tx1 | tr -d ' \n')" = ffd8 ] &&
        [ "$(tail -c 2 "$1" | od -An -tx1 | tr -d ' \n')" = ffd9 ]
}

# no_tmp_files DIR: no *.tmp left anywhere below DIR.
no_tmp_files() { [ -z "$(find "$1" -name '*.tmp' 2>/dev/null)" ]; }

# --- preconditions ------------------------------------------------------

# need FILE...: the named executables must be built.
need() {
    local b
    for b in "$@"; do
        [ -x "$b" ] || die "$b is not built (run make all tests)"
    done
}

need "$DAEMON"
command -v sqlite3 >/dev/null || die "sqlite3 CLI missing"
command -v ffmpeg >/dev/null || die "ffmpeg CLI missing"
