/*
 * A job's frames made durable in libuv's threadpool.  An fsync takes
 * milliseconds; done on the loop it would stall every worker's channel.
 *
 * Frames are held until the job ends, or until they add up to
 * PERSIST_BATCH_BYTES, and a job has at most one work item out at a time:
 * a small job is one item, its files made by one thread rather than by
 * four fighting over one directory's lock (8 % of the daemon's CPU on the
 * tiny corpus went to spinning on it), and the directory's fsync rides on
 * the last item.  An item writes its files, then fsyncs them, then
 * renames them (output.h): 7-16 % less CPU (daemon and workers) on 500
 * tiny jobs than file by file, which wrote the directory again with
 * every fsync.  Each item costs two thread wake-ups, and
 * context switches were the largest cost left on tiny jobs.  Jobs still
 * write in parallel with each other, and a worker takes its next job
 * while its last one's frames are being written and synced.
 *
 * The output directory is opened (and made) by the first item, off the
 * loop: mkdir can take a millisecond of inode-table scanning.  A job that
 * sends no frame never touches it.
 *
 * Grouped (syncgroup.h), an item only writes its files; the group's
 * syncfs makes them durable, the item renames them from the group's
 * thread, and the next syncfs makes the names durable.  The job's next
 * item waits for all of that, so that every item ends durable and no
 * directory fsync is left for the end.
 */
#include "persist.h"

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "output.h"
#include "syncgroup.h"

/* Held frames that make an item go out before the job ends. */
#define PERSIST_BATCH_BYTES (4u << 20)

/* Frames of every job, from their arrival until they are written. */
static size_t held_bytes;

struct frame {
    struct frame *next;
    uint32_t index;
    size_t len;
    struct output_file file; /* once written */
    uint8_t data[];
};

struct persist {
    uv_loop_t *loop;
    const struct roots *roots;
    int is_durable;       /* frames on disk before the job ends */
    int may_group;        /* through the syncgroup, if the fs allows it */
    /* Loop side. */
    struct frame *queued; /* arrived since the last item went out */
    struct frame **queued_tail;
    size_t queued_bytes;
    int is_busy;          /* an item is out */
    int is_finishing;
    int want_sync;
    int loop_err;         /* buffering failed: reported if nothing else is */
    persist_done_cb done;
    void *arg;
    /* The item's: set before it goes out, read back when it is over. */
    uv_work_t req;
    struct frame *batch;
    int batch_syncs;      /* fsync the directory after the batch */
    int dirfd;            /* -1 until the first batch opens it */
    int is_grouped;       /* set with dirfd: durable through the group */
    struct sg_item sg;
    int err;              /* the first errno, and what failed */
    char what[48];        /* "output_dir", "fsync", "write frame_3.jpg in" */
    char why[PATH_MAX + 64]; /* made on the loop: strerror is not MT-safe */
    char path[PATH_MAX];
};

struct persist *
persist_new(uv_loop_t *loop, const struct roots *roots, const char *path,
            int is_durable, int may_group)
{
    struct persist *p;

    if (strlen(path) >= sizeof(p->path)) {
        errno = ENAMETOOLONG;
        return NULL;
    }
    if ((p = calloc(1, sizeof(*p))) == NULL)
        return NULL;
    p->loop = loop;
    p->roots = roots;
    p->is_durable = is_durable;
    p->may_group = is_durable && may_group;
    p->queued_tail = &p->queued;
    p->dirfd = -1;
    snprintf(p->path, sizeof(p->path), "%s", path);
    return p;
}

/* The first error is the one reported. */
static void
set_error(struct persist *p, int err, const char *what)
{
    if (p->err != 0)
        return;
    p->err = err;
    snprintf(p->what, sizeof(p->what), "%s", what);
}

static int
open_dir(struct persist *p)
{
    enum dir_sync sync = !p->is_durable ? DIR_SYNC_NONE
                         : p->may_group ? DIR_SYNC_UNLESS_SYNCFS
                                        : DIR_SYNC_FSYNC;

    if (p->dirfd != -1)
        return 0;
    if ((p->dirfd = confine_open_dir(p->roots, p->path, sync)) == -1) {
        set_error(p, errno, "output_dir");
        return -1;
    }
    p->sg.fd = p->dirfd;
    p->is_grouped = p->may_group && output_fs_syncs_all(p->dirfd, &p->sg.dev);
    return 0;
}

/* Files written, then synced, then renamed together (see output.h). */
#define WRITE_GROUP 8

/* Any step of frame index failing reads "write frame_3.jpg in PATH". */
static void
set_frame_error(struct persist *p, uint32_t index)
{
    int err = errno;
    char what[48];

    snprintf(what, sizeof(what), "write frame_%u.jpg in", index);
    set_error(p, err, what);
}

/* Removes the files of frames from f on, after a failure. */
static void
discard_from(struct persist *p, struct frame *f, struct frame *end)
{
    for (; f != end; f = f->next)
        output_discard(p->dirfd, &f->file);
}

/*
 * Renames the written frames from f to end (exclusive) into place,
 * stopping at the first failure, whose files are removed.
 */
static void
publish_frames(struct persist *p, struct frame *f, struct frame *end)
{
    for (; f != end && p->err == 0; f = f->next)
        if (output_publish(p->dirfd, &f->file) == -1) {
            set_frame_error(p, f->index);
            break;
        }
    if (f != end)
        discard_from(p, f, end);
}

/*
 * Writes up to WRITE_GROUP frames from *next on, and unless grouped
 * fsyncs and renames them; advances *next.
 */
static void
write_group(struct persist *p, struct frame **next)
{
    struct frame *first = *next, *f = first, *g;
    int is_fsynced = p->is_durable && !p->is_grouped;
    int n = 0;

    for (; f != NULL && n < WRITE_GROUP; f = f->next, n++)
        if (output_create(p->dirfd, f->index, f->data, f->len, &f->file) ==
            -1) {
            set_frame_error(p, f->index);
            break;
        }
    *next = f;
    for (g = first; g != f && p->err == 0; g = g->next)
        if (output_sync(&g->file, is_fsynced) == -1)
            set_frame_error(p, g->index);
    if (p->err != 0)
        discard_from(p, first, f);
    else if (!p->is_grouped)
        publish_frames(p, first, f);
}

static void
batch_work(uv_work_t *req)
{
    struct persist *p = req->data;

    if (p->err != 0 || (p->batch == NULL && !p->batch_syncs) ||
        open_dir(p) == -1)
        return;
    for (struct frame *f = p->batch; f != NULL && p->err == 0;)
        write_group(p, &f);
    if (p->batch_syncs && !p->is_grouped && p->err == 0 &&
        output_sync_dir(p->dirfd) == -1)
        set_error(p, errno, "fsync");
}

static void
free_frames(struct frame *f)
{
    while (f != NULL) {
        struct frame *next = f->next;
        held_bytes -= f->len;
        free(f);
        f = next;
    }
}

static void
complete(struct persist *p)
{
    if (p->dirfd != -1)
        close(p->dirfd);
    if (p->loop_err != 0)
        set_error(p, p->loop_err, "buffer frame for");
    /* Only opening beneath a root says EXDEV. */
    if (p->err != 0)
        snprintf(p->why, sizeof(p->why), "%s %s: %s", p->what, p->path,
                 p->err == EXDEV ? "outside output_roots"
                                 : strerror(p->err));
    free_frames(p->queued);
    p->done(p->arg, p->err, p->why);
    free(p);
}

static void pump(struct persist *);

/* The item is over, durable or failed: the next one, or the end. */
static void
item_over(struct persist *p)
{
    free_frames(p->batch);
    p->batch = NULL;
    p->is_busy = 0;
    if (p->batch_syncs) /* only ever the last item */
        complete(p);
    else
        pump(p);
}

/* The persist a group item is part of. */
static struct persist *
persist_of(struct sg_item *it)
{
    return (struct persist *)((char *)it - offsetof(struct persist, sg));
}

/* In the group's thread: the batch's data is durable, or err says not. */
static int
group_publish(struct sg_item *it, int err)
{
    struct persist *p = persist_of(it);

    if (err != 0) {
        set_error(p, err, "sync");
        discard_from(p, p->batch, NULL);
    } else {
        publish_frames(p, p->batch, NULL);
    }
    return p->err;
}

static void
group_done(struct sg_item *it)
{
    struct persist *p = persist_of(it);

    if (it->err != 0)
        set_error(p, it->err, "sync");
    item_over(p);
}

static void
batch_after(uv_work_t *req, int status)
{
    struct persist *p = req->data;

    (void)status;
    if (p->is_grouped && p->batch != NULL && p->err == 0) {
        p->sg.publish = group_publish;
        p->sg.done = group_done;
        syncgroup_add(&p->sg); /* the item stays busy until group_done */
        return;
    }
    item_over(p);
}

/* Sends out the next item, or completes when there is nothing left. */
static void
pump(struct persist *p)
{
    if (p->is_busy)
        return;
    /* A grouped item ends durable: no directory fsync is left over. */
    if (p->queued == NULL && p->is_finishing &&
        (!p->want_sync || p->dirfd == -1 || p->err != 0 || p->is_grouped)) {
        complete(p);
        return;
    }
    if (!p->is_finishing && p->queued_bytes < PERSIST_BATCH_BYTES)
        return;
    p->batch = p->queued;
    p->queued = NULL;
    p->queued_tail = &p->queued;
    p->queued_bytes = 0;
    /* Finishing means no frame comes after these: the sync rides along. */
    p->batch_syncs = p->is_finishing && p->want_sync;
    p->is_busy = 1;
    p->req.data = p;
    if (uv_queue_work(p->loop, &p->req, batch_work, batch_after) != 0) {
        batch_work(&p->req);
        batch_after(&p->req, 0);
    }
}

void
persist_frame(struct persist *p, uint32_t index, const uint8_t *jpeg,
              size_t len)
{
    struct frame *f = malloc(sizeof(*f) + len);

    if (f == NULL) {
        if (p->loop_err == 0)
            p->loop_err = ENOMEM;
        return;
    }
    memcpy(f->data, jpeg, len);
    held_bytes += len;
    f->index = index;
    f->len = len;
    f->next = NULL;
    *p->queued_tail = f;
    p->queued_tail = &f->next;
    p->queued_bytes += len;
    pump(p);
}

size_t
persist_held_bytes(void)
{
    return held_bytes;
}

void
persist_finish(struct persist *p, int do_sync, persist_done_cb done,
               void *arg)
{
    p->is_finishing = 1;
    p->want_sync = do_sync && p->is_durable;
    p->done = done;
    p->arg = arg;
    pump(p);
}
