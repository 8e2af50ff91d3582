/*
 * Durable, atomic frame files: the supervisor writes the JPEG bytes a
 * worker returns, so a reader never sees a partial frame.  frameshieldd.
 */
#ifndef FS_OUTPUT_H
#define FS_OUTPUT_H

#include <stddef.h>
#include <stdint.h>

/*
 * Writes frame_<index>.jpg in dirfd through frame_<index>.jpg.tmp:
 * write, fsync, rename.  When is_durable is 0 the fsync is skipped.
 * Returns 0, or -1 with errno set and no temporary file left behind.
 */
int output_write_frame(int dirfd, uint32_t index, const uint8_t *data,
                       size_t len, int is_durable);

/* fsyncs the directory so the renames survive a crash.  0 or -1. */
int output_sync_dir(int dirfd);

#endif
