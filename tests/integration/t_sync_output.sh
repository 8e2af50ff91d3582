#!/bin/bash
# Durability of the frames, and its switch: by default every frame file is
# fsync'ed before its rename and the output directory once before the job
# is DONE; with --sync-output no the daemon makes no fsync at all for a
# job (the frames are still renamed into place whole).  Counted, and their
# order checked, with strace on the daemon's threads.
. "$(dirname "$0")/lib.sh"
need "$WORKER"
command -v strace > /dev/null || die "strace missing (make test installs it)"

gen_clip "$T/clip.mp4"

# fsyncs_for_one_job NAME OUTDIR FLAGS...: sets FSYNCS to the
# fsync/fdatasync calls of the daemon while it runs one 5-frame job.
fsyncs_for_one_job() {
    local name=$1 out=$2 spid id
    shift 2
    start_daemon --worker "$WORKER" --workers 1 "$@"
    # -z: successful calls only, so a mkdirat is a directory made.
    strace -f -qq -y -z \
        -e trace=fsync,fdatasync,rename,renameat,renameat2,mkdir,mkdirat \
        -o "$T/strace.$name" \
        -p "$DAEMON_PID" 2> /dev/null &
    spid=$!
    track_pid "$spid"
    sleep 0.5 # strace attaches to every thread
    id=$(enqueue "$T/clip.mp4" "$out")
    check_sql "$name: job DONE with 5 frames" \
        "SELECT status, frames_written FROM jobs WHERE id=$id" "DONE|5" 20
    sleep 0.2
    kill -INT "$spid"
    wait "$spid" 2> /dev/null
    stop_daemon
    FSYNCS=$(grep -c 'fsync\|fdatasync' "$T/strace.$name")
}

# sync_order NAME: "R U D": renames of a frame, renames of a frame not
# fsync'ed before, fsyncs of the output directory after the last rename.
sync_order() {
    awk -v dir="$T/out.$1" '
        /fsync\(/ {
            p = $0; sub(/^[^<]*</, "", p); sub(/>.*/, "", p)
            if (p == dir) { if (r > 0) d++ } else { n = p; sub(/.*\//, "", n); ok[n] = 1 }
        }
        /rename/ {
            t = $0; sub(/^[^"]*"/, "", t); sub(/".*/, "", t)
            r++; if (!(t in ok)) u++; d = 0
        }
        END { print r + 0, u + 0, d + 0 }' "$T/strace.$1"
}

# made_unsynced NAME: "M U": directories made, and how many of their
# parents were not fsync'ed after the mkdir.
made_unsynced() {
    awk '
        /mkdirat\(/ { p = $0; sub(/^[^<]*</, "", p); sub(/>.*/, "", p)
            want[p] = 1; m++ }
        /fsync\(/ { p = $0; sub(/^[^<]*</, "", p); sub(/>.*/, "", p)
            delete want[p] }
        END { u = 0; for (p in want) u++; print m + 0, u }' "$T/strace.$1"
}

fsyncs_for_one_job synced "$T/out.synced"
check "default: $FSYNCS fsyncs for 5 frames and their directory (>= 6)" \
    test "$FSYNCS" -ge 6
expect_eq "default: renames / of files not fsync'ed / directory fsyncs after" \
    "$(sync_order synced)" "5 0 1"
expect_eq "default: the output directory made, its parent fsync'ed" \
    "$(made_unsynced synced)" "1 0"
fsyncs_for_one_job nested "$T/nest/a/b"
expect_eq "default: three directories made, each parent fsync'ed after" \
    "$(made_unsynced nested)" "3 0"
check "default: the frames of the nested job are there" \
    is_jpeg "$T/nest/a/b/frame_4.jpg"
fsyncs_for_one_job unsynced "$T/out.unsynced" --sync-output no
expect_eq "--sync-output no: no fsync" "$FSYNCS" 0
expect_eq "--sync-output no: the directory made all the same" \
    "$(made_unsynced unsynced)" "1 1"
check "--sync-output no: frames complete" is_jpeg "$T/out.unsynced/frame_4.jpg"
check "no .tmp file left" no_tmp_files "$T"
finish
