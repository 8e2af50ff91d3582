#!/bin/bash
# Output on the file systems the daemon treats differently, each a real
# one on a loop device: ext2 (no journal: every frame and directory gets
# its own fsync), ext4 with a journal, xfs and btrfs (a syncfs shared by
# the jobs that end together, daemon/output.c output_fs_syncs_all).  On
# each, jobs end DONE with their five frames and nothing temporary left,
# and strace of the daemon shows the sync path that file system must get:
# fsyncs of the job's files on ext2 and no syncfs there, a syncfs on the
# others; an interrupted run unmounts lazily.  Mounting needs root: run
# as anyone else, the test runs itself again through sudo (as `make test`
# installs packages), and fails without it.
if [ "$(id -u)" -ne 0 ]; then
    sudo -n true 2> /dev/null || {
        echo "t_filesystems: needs root or sudo to mount loop file systems" >&2
        exit 1
    }
    exec sudo -n bash "$0" "$@"
fi
. "$(dirname "$0")/lib.sh"
need "$WORKER"
command -v strace > /dev/null || die "strace missing"

gen_clip "$T/clip.mp4"

# mkfs_for FS IMAGE: the file system made on IMAGE.
mkfs_for() {
    case $1 in
    ext2) mkfs.ext2 -q -F "$2" ;;
    ext4) mkfs.ext4 -q -F -O has_journal "$2" ;;
    xfs) mkfs.xfs -q -f "$2" ;;
    btrfs) mkfs.btrfs -q -f "$2" ;;
    esac
}

for fs in ext2 ext4 xfs btrfs; do
    say "$fs"
    img=$T/$fs.img
    mnt=$T/mnt.$fs
    # xfs wants at least 300 MiB; sparse, so it costs what is written.
    truncate -s 320M "$img"
    mkfs_for "$fs" "$img" > "$T/mkfs.$fs.log" 2>&1 ||
        { fail "mkfs $fs: $(tail -n 3 "$T/mkfs.$fs.log")"; continue; }
    mkdir -p "$mnt"
    if ! mount -t "$fs" -o loop "$img" "$mnt" 2> "$T/mount.$fs.log"; then
        fail "mount $fs: $(cat "$T/mount.$fs.log")"
        continue
    fi
    # Lazy: on an interrupted run the daemon, killed only after the exit
    # hooks, still holds the mount, and rm -rf of $T must not enter it.
    on_exit "umount -l '$mnt' 2>/dev/null"
    expect_eq "mounted as $fs" "$(findmnt -n -o FSTYPE "$mnt")" "$fs"

    start_daemon --workers 2
    # -y names each descriptor's file: only syncs of the mount count
    # (the queue's own database is on $T's file system).
    # -ff: a file per thread, so that no call is split by another's.
    strace -ff -qq -y -e trace=fsync,fdatasync,syncfs -p "$DAEMON_PID" \
        -o "$T/strace.$fs" &
    sp=$!
    track_pid "$sp"
    # strace is attached once the daemon's threads show it as tracer.
    for _ in $(seq 100); do
        grep -q "^TracerPid:[[:space:]]*$sp\$" "/proc/$DAEMON_PID/status" &&
            break
        sleep 0.05
    done
    check "$fs: strace attached" \
        grep -q "^TracerPid:[[:space:]]*$sp\$" "/proc/$DAEMON_PID/status"
    ids=()
    for i in 1 2 3 4 5 6; do
        ids+=("$(enqueue "$T/clip.mp4" "$mnt/jobs/out.$i")")
    done
    check_sql "$fs: 6 jobs DONE with 5 frames each" \
        "SELECT count(*) FROM jobs WHERE id IN ($(IFS=,; echo "${ids[*]}"))
         AND status = 'DONE' AND frames_written = 5" 6 20
    files=$(find "$mnt/jobs" -name 'frame_*.jpg' | wc -l)
    expect_eq "$fs: 30 frame files" "$files" 30
    check "$fs: no temporary file left" no_tmp_files "$mnt"
    bad=0
    for f in "$mnt"/jobs/out.*/frame_*.jpg; do
        is_jpeg "$f" || bad=$((bad + 1))
    done
    expect_eq "$fs: every frame a whole JPEG" "$bad" 0
    stop_daemon
    kill -TERM "$sp" 2> /dev/null
    wait "$sp" 2> /dev/null
    fsyncs=$(cat "$T/strace.$fs".* | grep -E "^f(data)?sync\([0-9]+<$mnt[/>]" |
        grep -c ' = 0$')
    syncfs=$(cat "$T/strace.$fs".* | grep -E "^syncfs\([0-9]+<$mnt[/>]" |
        grep -c ' = 0$')
    if [ "$fs" = ext2 ]; then
        # 5 frames and the job's directory, 6 jobs; the parents besides.
        check "$fs: each frame and directory fsync'ed ($fsyncs fsyncs)" \
            test "$fsyncs" -ge 36
        expect_eq "$fs: no syncfs" "$syncfs" 0
    else
        check "$fs: frames made durable by syncfs ($syncfs syncfs)" \
            test "$syncfs" -ge 1
        expect_eq "$fs: no fsync" "$fsyncs" 0
    fi
    if umount "$mnt"; then
        rm -f "$img"
    else
        fail "umount $fs"
    fi
done
finish
