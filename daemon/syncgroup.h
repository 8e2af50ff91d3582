/*
 * Group commit of frame files: one syncfs(2) makes durable the files of
 * every job written while the previous one ran, where an fsync per file
 * and per directory cost seven cache flushes per 5-frame job.
 * frameshieldd.
 *
 * An item is a batch of one job's files, written under temporary names.
 * It takes two cycles: the first cycle's syncfs makes its data durable,
 * and then (still in that cycle's thread) the item publishes its names;
 * the second cycle's syncfs makes the names durable, and only then is the
 * item done.  A cycle starts once the last one ended and, while more
 * items are on their way, at least 10 ms after the last one started, with
 * every item added meanwhile: one syncfs per cycle serves both the items
 * whose data it commits and those whose names it commits.
 */
#ifndef FS_SYNCGROUP_H
#define FS_SYNCGROUP_H

#include <sys/types.h>
#include <uv.h>

struct sg_item {
    struct sg_item *next;
    int fd;       /* any descriptor on the file system to sync */
    dev_t dev;    /* that file system: one syncfs for all its items */
    int is_published;
    int err;      /* syncfs's errno, or publish's */
    /*
     * In the threadpool, after the syncfs that made the item's data
     * durable (err 0), or the one that failed (err set: remove the
     * files).  Returns 0 or an errno.
     */
    int (*publish)(struct sg_item *, int err);
    /* On the loop, once the names are durable too, or item->err. */
    void (*done)(struct sg_item *);
};

/*
 * is_busy says whether more items are on their way (a worker is busy):
 * cycles are spaced only then, to gather them.
 */
void syncgroup_init(uv_loop_t *, int (*is_busy)(void));
/* The loop's last turns: no more waiting between cycles; frees the timer. */
void syncgroup_close(void);
/* After the loop has ended. */
void syncgroup_fini(void);

/*
 * Whether new jobs should be grouped now.  A syncfs writes back every
 * process's dirty data on that file system, not only ours: with more
 * than 64 MiB of the machine's memory dirty or under
 * writeback (another process writing a lot: on a Spark node, shuffle
 * files), jobs fsync their own files instead.  Read from the kernel at
 * most every 100 ms; false when the counts cannot be read at all.
 */
int syncgroup_is_wanted(void);

/* Adds an item whose files are written (their fds closed). */
void syncgroup_add(struct sg_item *);

/* One line for the start-up log: how durable output will be made. */
const char *syncgroup_describe(void);

#endif
