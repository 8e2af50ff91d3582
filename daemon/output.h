/*
 * Durable, atomic frame files: the supervisor writes the JPEG bytes a
 * worker returns, so a reader never sees a partial frame.  frameshieldd.
 *
 * A file goes through three steps, so that a batch of them can take each
 * step together: all written, then all synced, then all renamed.  On
 * ext4, the first fsync of a new file also writes its directory; taken
 * one file at a time, every rename dirtied the directory again and every
 * next fsync wrote it once more.
 */
#ifndef FS_OUTPUT_H
#define FS_OUTPUT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* frame_<index>.jpg on its way, under a temporary name of its own. */
struct output_file {
    int fd; /* -1 once closed */
    uint32_t index;
    char tmp[96];
};

/*
 * Creates the temporary file in dirfd and writes data into it.  Returns
 * 0, or -1 with errno set and nothing left behind.
 */
int output_create(int dirfd, uint32_t index, const uint8_t *data, size_t len,
                  struct output_file *);

/* fsyncs (when is_durable) and closes the file.  0, or -1 with errno. */
int output_sync(struct output_file *, int is_durable);

/* Renames the closed file into place.  0, or -1 with errno. */
int output_publish(int dirfd, struct output_file *);

/* Closes the file if open and removes it, keeping errno. */
void output_discard(int dirfd, struct output_file *);

/* fsyncs the directory so the renames survive a crash.  0 or -1. */
int output_sync_dir(int dirfd);

/*
 * Whether one syncfs(2) of fd's file system makes its files and names at
 * least as durable as an fsync of each would, and if so its device in
 * *dev.  True of local block file systems that write back everything
 * dirty and then flush (ext3/4, xfs, btrfs, f2fs) and of tmpfs; not of
 * ext2, whose syncfs leaves the disk's cache unflushed, of FUSE or SMB,
 * where syncfs may not reach the server, nor of anything unknown.
 */
int output_fs_syncs_all(int fd, dev_t *dev);

#endif
