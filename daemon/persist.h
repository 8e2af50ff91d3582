/*
 * A job's frames made durable off the event loop: each JPEG is written
 * (tmp, fsync, rename) in libuv's threadpool as it arrives, the directory
 * is fsynced once at the end, and the owner is told when all of it is on
 * disk.  frameshieldd.
 */
#ifndef FS_PERSIST_H
#define FS_PERSIST_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct persist;

/*
 * Called once, on the loop, when every write has ended: err is 0 or the
 * first errno, why its description.  The persist is freed after it.
 */
typedef void (*persist_done_cb)(void *arg, int err, const char *why);

/* Takes ownership of dirfd.  label names the directory in messages. */
struct persist *persist_new(uv_loop_t *, int dirfd, const char *label,
                            int is_synced);

/* Queues a copy of one frame.  Failures are reported through done. */
void persist_frame(struct persist *, uint32_t index, const uint8_t *jpeg,
                   size_t len);

/*
 * No more frames.  When the queued writes are done (and, if do_sync, the
 * directory is fsynced), calls done(arg, ...) and frees the persist.
 */
void persist_finish(struct persist *, int do_sync, persist_done_cb done,
                    void *arg);

#endif
