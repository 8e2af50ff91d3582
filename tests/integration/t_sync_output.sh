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

# fsyncs_for_one_job NAME FLAGS...: sets FSYNCS to the fsync/fdatasync
# calls of the daemon while it runs one 5-frame job.
fsyncs_for_one_job() {
    local name=$1 spid id
    shift
    start_daemon --worker "$WORKER" --workers 1 "$@"
    strace -f -qq -y -e trace=fsync,fdatasync,rename,renameat,renameat2 \
        -o "$T/strace.$name" \
        -p "$DAEMON_PID" 2> /dev/null &
    spid=$!
    track_pid "$spid"
    sleep 0.5 # strace attaches to every thread
    id=$(enqueue "$T/clip.mp4" "$T/out.$name")
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

fsyncs_for_one_job synced
check "default: $FSYNCS fsyncs for 5 frames and their directory (>= 6)" \
    test "$FSYNCS" -ge 6
expect_eq "default: renames / of files not fsync'ed / directory fsyncs after" \
    "$(sync_order synced)" "5 0 1"
fsyncs_for_one_job unsynced --sync-output no
expect_eq "--sync-output no: no fsync" "$FSYNCS" 0
check "--sync-output no: frames complete" is_jpeg "$T/out.unsynced/frame_4.jpg"
check "no .tmp file left" no_tmp_files "$T"
finish
