#!/bin/bash
# Durability of the frames, and its switch.  By default, on a file system
# where a syncfs covers what an fsync would (this one: ext4 or tmpfs),
# the frames of a job are written under temporary names, a syncfs makes
# them durable, they are renamed, and a later syncfs makes the names
# durable before the job is DONE: no fsync at all.  With more than 64 MiB
# of the machine's memory dirty, or --sync-output fsync, every frame file
# is fsync'ed before its rename, the directory once before DONE, and each
# directory made is fsync'ed into its parent.  --sync-output no makes no
# sync of any kind.  Counted, and their order checked, with strace on the
# daemon's threads.
. "$(dirname "$0")/lib.sh"
need "$WORKER"
command -v strace > /dev/null || die "strace missing (make test installs it)"

gen_clip "$T/clip.mp4"

# trace_one_job NAME OUTDIR FLAGS...: the daemon's sync, rename, mkdir,
# file creation and WAL write calls while it runs one 5-frame job, in
# $T/strace.NAME; sets FSYNCS and SYNCFS to their counts.
trace_one_job() {
    local name=$1 out=$2 spid id
    shift 2
    start_daemon --worker "$WORKER" --workers 1 "$@"
    # -z: successful calls only, so a mkdirat is a directory made.
    strace -f -qq -y -z \
        -e trace=fsync,fdatasync,syncfs,rename,renameat,renameat2,mkdir,mkdirat,openat,pwrite64 \
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
    FSYNCS=$(grep -c 'fsync(\|fdatasync(' "$T/strace.$name")
    SYNCFS=$(grep -c 'syncfs(' "$T/strace.$name")
}

# sync_order NAME: "R U D": renames of a frame, renames of a frame not
# fsync'ed before, fsyncs of the output directory after the last rename.
sync_order() {
    awk -v dir="$T/out.$1" '
        /[^c]fsync\(/ {
            p = $0; sub(/^[^<]*</, "", p); sub(/>.*/, "", p)
            if (p == dir) { if (r > 0) d++ } else { n = p; sub(/.*\//, "", n); ok[n] = 1 }
        }
        /rename/ {
            t = $0; sub(/^[^"]*"/, "", t); sub(/".*/, "", t)
            r++; if (!(t in ok)) u++; d = 0
        }
        END { print r + 0, u + 0, d + 0 }' "$T/strace.$1"
}

# group_order NAME: "C R E A W": temporary frame files created, renames,
# renames of a file not created before a syncfs that preceded the rename,
# syncfs calls after the last rename, and WAL writes (the DONE commit)
# after the last syncfs.
group_order() {
    awk '
        /openat\(.*\.tmp".*O_CREAT/ { t = $0; sub(/^[^"]*"/, "", t)
            sub(/".*/, "", t); c++; made[t] = 1 }
        /syncfs\(/ { for (t in made) synced[t] = 1; a++; w = 0 }
        /rename/ { t = $0; sub(/^[^"]*"/, "", t); sub(/".*/, "", t)
            r++; if (!(t in synced)) e++; a = 0 }
        /pwrite64\(.*-wal>/ { w++ }
        END { print c + 0, r + 0, e + 0, a + 0, w + 0 }' "$T/strace.$1"
}

# made_unsynced NAME: "M U": directories made, and how many of their
# parents were not fsync'ed after the mkdir.
made_unsynced() {
    awk '
        /mkdirat\(/ { p = $0; sub(/^[^<]*</, "", p); sub(/>.*/, "", p)
            want[p] = 1; m++ }
        /[^c]fsync\(/ { p = $0; sub(/^[^<]*</, "", p); sub(/>.*/, "", p)
            delete want[p] }
        END { u = 0; for (p in want) u++; print m + 0, u }' "$T/strace.$1"
}

# syncfs_after_mkdir NAME: syncfs calls after the last mkdirat.
syncfs_after_mkdir() {
    awk '/mkdirat\(/ { n = 0 } /syncfs\(/ { n++ } END { print n + 0 }' \
        "$T/strace.$1"
}

# is_fallen_back: the daemon just traced sent its job to fsyncs, as it
# must when another process dirtied more than 64 MiB since our sync; the
# grouped order cannot be checked that time.
is_fallen_back() {
    grep -q 'jobs fsync their own files' "$DAEMON_LOG" &&
        say "skipped: the machine held more than 64 MiB dirty during the job"
}

# The grouped path needs a machine with little dirty memory.
sync

trace_one_job grouped "$T/out.grouped"
if ! is_fallen_back; then
expect_eq "default: no fsync" "$FSYNCS" 0
check "default: $SYNCFS syncfs calls (>= 2)" test "$SYNCFS" -ge 2
read -r c r e a w <<< "$(group_order grouped)"
expect_eq "default: 5 temporary files made, 5 renamed" "$c $r" "5 5"
expect_eq "default: renamed before a syncfs made its data durable" "$e" 0
check "default: a syncfs after the last rename ($a)" test "$a" -ge 1
check "default: the DONE commit after the last syncfs ($w WAL writes)" \
    test "$w" -ge 1
expect_eq "default: the output directory made, no parent fsync" \
    "$(made_unsynced grouped)" "1 1"
check "default: a syncfs after the mkdir" \
    test "$(syncfs_after_mkdir grouped)" -ge 1
check "default: frames complete" is_jpeg "$T/out.grouped/frame_4.jpg"
grep -q 'output durability: syncfs per group' "$DAEMON_LOG" &&
    ok "default: the log says the output is grouped" ||
    fail "default: the log says the output is grouped"
fi

trace_one_job nested "$T/nest/a/b"
if ! is_fallen_back; then
expect_eq "default: three directories made, no fsync" \
    "$(made_unsynced nested) $FSYNCS" "3 3 0"
check "default: a syncfs after the last mkdir" \
    test "$(syncfs_after_mkdir nested)" -ge 1
fi
check "default: the frames of the nested job are there" \
    is_jpeg "$T/nest/a/b/frame_4.jpg"

trace_one_job fsynced "$T/out.fsynced" --sync-output fsync
check "--sync-output fsync: $FSYNCS fsyncs for 5 frames and their directory (>= 6)" \
    test "$FSYNCS" -ge 6
expect_eq "--sync-output fsync: no syncfs" "$SYNCFS" 0
expect_eq "--sync-output fsync: renames / of files not fsync'ed / directory fsyncs after" \
    "$(sync_order fsynced)" "5 0 1"
expect_eq "--sync-output fsync: the output directory made, its parent fsync'ed" \
    "$(made_unsynced fsynced)" "1 0"
trace_one_job fsnested "$T/fsnest/a/b" --sync-output fsync
expect_eq "--sync-output fsync: three directories made, each parent fsync'ed after" \
    "$(made_unsynced fsnested)" "3 0"

# 128 MiB written and not synced: the kernel holds them dirty for 30 s
# (dirty_expire_centisecs), below its background threshold here.  A
# syncfs now would write them too: the job fsyncs its own files instead.
# tmpfs pages are never dirty: the file goes on a disk-backed file system.
dirty_dir=$T
[ "$(stat -f -c %T "$dirty_dir")" = tmpfs ] && dirty_dir=$REPO/build
dd if=/dev/zero of="$dirty_dir/dirty.$$" bs=1M count=128 status=none
dirty=$(awk '/^(Dirty|Writeback):/ { s += $2 } END { print int(s / 1024) }' \
    /proc/meminfo)
if [ "$(stat -f -c %T "$dirty_dir")" = tmpfs ]; then
    say "skipped: $T and $REPO/build are both on tmpfs, nothing can be dirty"
elif [ "$dirty" -gt 64 ]; then
    trace_one_job dirty "$T/out.dirty"
    expect_eq "$dirty MiB dirty: renames / of files not fsync'ed / directory fsyncs after" \
        "$(sync_order dirty)" "5 0 1"
    expect_eq "$dirty MiB dirty: no syncfs" "$SYNCFS" 0
    expect_eq "$dirty MiB dirty: the output directory made, its parent fsync'ed" \
        "$(made_unsynced dirty)" "1 0"
    grep -q 'MiB dirty: jobs fsync their own files' "$DAEMON_LOG" &&
        ok "$dirty MiB dirty: the log says why" ||
        fail "$dirty MiB dirty: the log says why"
else
    fail "128 MiB written, but only $dirty MiB dirty: the test cannot tell"
fi
rm -f "$dirty_dir/dirty.$$" # unlinked: its dirty pages are dropped

trace_one_job unsynced "$T/out.unsynced" --sync-output no
expect_eq "--sync-output no: no fsync, no syncfs" "$FSYNCS $SYNCFS" "0 0"
expect_eq "--sync-output no: the directory made all the same" \
    "$(made_unsynced unsynced)" "1 1"
check "--sync-output no: frames complete" is_jpeg "$T/out.unsynced/frame_4.jpg"
check "no .tmp file left" no_tmp_files "$T"
finish
