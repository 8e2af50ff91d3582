/*
 * Frame writes in libuv's threadpool for frameshieldd.  An fsync takes
 * milliseconds; done on the loop it would stall every worker's channel,
 * and done one at a time it would serialize the pool on the disk.  Here
 * the files of a job sync in parallel, the directory once, and a worker
 * takes its next job while its last one's frames are still being synced.
 */
#include "persist.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "output.h"

struct persist {
    uv_loop_t *loop;
    int dirfd;
    char label[256];
    int pending;
    int is_synced; /* fsync each frame, and the directory at the end */
    int is_finishing, do_sync, is_syncing;
    int err;
    char why[384];
    persist_done_cb done;
    void *arg;
    uv_work_t sync_req;
};

struct frame_write {
    uv_work_t req;
    struct persist *p;
    uint32_t index;
    uint8_t *data;
    size_t len;
    int err;
};

struct persist *
persist_new(uv_loop_t *loop, int dirfd, const char *label, int is_synced)
{
    struct persist *p = calloc(1, sizeof(*p));

    if (p == NULL)
        return NULL;
    p->loop = loop;
    p->dirfd = dirfd;
    p->is_synced = is_synced;
    snprintf(p->label, sizeof(p->label), "%s", label);
    return p;
}

static void
set_error(struct persist *p, int err, const char *what)
{
    if (p->err != 0)
        return;
    p->err = err;
    snprintf(p->why, sizeof(p->why), "%s %s: %s", what, p->label,
             strerror(err));
}

static void
complete(struct persist *p)
{
    close(p->dirfd);
    p->done(p->arg, p->err, p->why);
    free(p);
}

static void
sync_work(uv_work_t *req)
{
    struct persist *p = req->data;

    if (output_sync_dir(p->dirfd) == -1)
        p->err = errno; /* only this thread touches p meanwhile */
}

static void
sync_after(uv_work_t *req, int status)
{
    struct persist *p = req->data;
    int err = p->err;

    (void)status;
    if (err != 0) {
        p->err = 0;
        set_error(p, err, "fsync");
    }
    complete(p);
}

static void
maybe_complete(struct persist *p)
{
    if (!p->is_finishing || p->pending > 0 || p->is_syncing)
        return;
    if (p->do_sync && p->err == 0) {
        p->is_syncing = 1;
        p->sync_req.data = p;
        if (uv_queue_work(p->loop, &p->sync_req, sync_work, sync_after) == 0)
            return;
        sync_work(&p->sync_req);
        sync_after(&p->sync_req, 0);
        return;
    }
    complete(p);
}

static void
write_work(uv_work_t *req)
{
    struct frame_write *w = req->data;

    if (output_write_frame(w->p->dirfd, w->index, w->data, w->len,
                           w->p->is_synced) == -1)
        w->err = errno;
}

static void
write_after(uv_work_t *req, int status)
{
    struct frame_write *w = req->data;
    struct persist *p = w->p;
    char what[48];

    (void)status;
    if (w->err != 0) {
        snprintf(what, sizeof(what), "write frame_%u.jpg in", w->index);
        set_error(p, w->err, what);
    }
    free(w->data);
    free(w);
    p->pending--;
    maybe_complete(p);
}

void
persist_frame(struct persist *p, uint32_t index, const uint8_t *jpeg,
              size_t len)
{
    struct frame_write *w = calloc(1, sizeof(*w));

    if (w == NULL || (w->data = malloc(len)) == NULL) {
        free(w);
        set_error(p, ENOMEM, "buffer frame for");
        return;
    }
    memcpy(w->data, jpeg, len);
    w->p = p;
    w->index = index;
    w->len = len;
    w->req.data = w;
    p->pending++;
    if (uv_queue_work(p->loop, &w->req, write_work, write_after) != 0) {
        write_work(&w->req);
        write_after(&w->req, 0);
    }
}

void
persist_finish(struct persist *p, int do_sync, persist_done_cb done,
               void *arg)
{
    p->is_finishing = 1;
    p->do_sync = do_sync && p->is_synced;
    p->done = done;
    p->arg = arg;
    maybe_complete(p);
}
