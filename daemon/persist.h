/*
 * A job's frames made durable off the event loop: the JPEGs are written
 * (tmp, fsync or a shared syncfs, rename) in libuv's threadpool in the
 * order they arrive, the directory is made if need be and made durable,
 * and the owner is told when all of it is on disk.  frameshieldd.
 */
#ifndef FS_PERSIST_H
#define FS_PERSIST_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "confine.h"

struct persist;

/*
 * Called once, on the loop, when every write has ended: err is 0 or the
 * first errno, why its description.  The persist is freed after it.
 */
typedef void (*persist_done_cb)(void *arg, int err, const char *why);

/*
 * Frames for directory path, opened (and made) beneath roots when the
 * first one is written; roots must outlive the persist.  is_durable: on
 * disk before done is called; may_group: through one syncfs shared with
 * other jobs (syncgroup.h) where the file system allows it, else by an
 * fsync of each file and of the directory.  NULL with errno set when out
 * of memory or path is too long.
 */
struct persist *persist_new(uv_loop_t *, const struct roots *roots,
                            const char *path, int is_durable,
                            int may_group);

/* Queues a copy of one frame.  Failures are reported through done. */
void persist_frame(struct persist *, uint32_t index, const uint8_t *jpeg,
                   size_t len);

/* Bytes of frames queued or being written, all jobs together. */
size_t persist_held_bytes(void);

/*
 * No more frames.  When the queued writes are done (and, if do_sync, the
 * directory is fsynced), calls done(arg, ...) and frees the persist.
 */
void persist_finish(struct persist *, int do_sync, persist_done_cb done,
                    void *arg);

#endif
