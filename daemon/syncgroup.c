/*
 * Group commit of frame files (see syncgroup.h).  Cycles run one at a
 * time in libuv's threadpool; items are only ever touched by the loop,
 * or by the cycle that holds them.
 */
#define _GNU_SOURCE
#include "syncgroup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "log.h"

/* Dirty and writeback memory above which jobs fsync their own files. */
#define SYNCGROUP_DIRTY_MAX (64ull << 20)
/* How long one reading of the dirty counts stands. */
#define DIRTY_READ_MS 100
/* Files the counts are read from: /proc/meminfo, else one per node (a
 * machine with more nodes gets no grouping). */
#define MEMINFO_MAX 64
/*
 * While a worker is busy (more items are coming), cycles start at least
 * this far apart.  Back to back, a cycle served a
 * job or two on the tiny corpus; each syncfs is a cache flush and a round
 * of small writes.  10 ms: 9-13 % more tiny files/s (three paired runs;
 * 5 and 20 ms did as well, 40 ms less), and a job's durability waits at
 * most two cycles.
 */
#define CYCLE_MIN_MS 10
/*
 * ... unless this many items wait: a fast stream of small jobs would
 * otherwise run into SYNC_AHEAD (dispatch.c) while it waits (no-op jobs
 * at 5,000/s spend two cycles, 20 ms or more, in flight).
 */
#define CYCLE_FULL_ITEMS 32
/* File systems with a descriptor of the group's own; others use their
 * items' own descriptors. */
#define DEVS_MAX 16

/*
 * syncfs reports a writeback error once per open file, for errors since
 * that file was opened (or last reported): synced through whichever job's
 * directory came first, an error reported to one descriptor would be
 * missed by a later one, and reported again to an older one.  So each
 * file system is synced through one descriptor of the group's own, kept
 * while jobs on it are in flight: every error is reported once, to the
 * cycle that ran into it.
 */
struct dev_fd {
    dev_t dev;
    int fd;
    int err; /* the running cycle's syncfs */
};

static void start_cycle(void);
static void close_devs(void);

static struct {
    uv_loop_t *loop;
    uv_work_t req;
    int is_running;
    struct sg_item *waiting; /* added since the running cycle began */
    int nwaiting;
    struct sg_item *cycle;   /* the running cycle's */
    int meminfo[MEMINFO_MAX];
    int nmeminfo;
    int is_wanted;
    uint64_t read_ms; /* uv_now of the last reading; 0 = never */
    char why_not[96];
    uv_timer_t timer;    /* the next cycle's start, CYCLE_MIN_MS after */
    uint64_t started_ms; /* the last cycle's */
    int is_closing;      /* the loop ends: cycles start at once */
    int (*is_busy)(void);
    /* Changed on the loop only while no cycle runs; read by cycles. */
    struct dev_fd devs[DEVS_MAX];
    int ndevs;
} sg;

/*
 * syncfs reports writeback errors of the whole file system only since
 * Linux 5.8 (per-superblock errseq); before, an inode that failed to
 * write back could go unreported, where its own fsync would have failed.
 */
static int
is_kernel_ok(void)
{
    struct utsname u;
    int major = 0, minor = 0;

    if (uname(&u) == -1 || sscanf(u.release, "%d.%d", &major, &minor) != 2)
        return 0;
    return major > 5 || (major == 5 && minor >= 8);
}

/*
 * The kB of the "Dirty:" and "Writeback:" lines of one meminfo text
 * ("Dirty:  820 kB" in /proc, "Node 0 Dirty:  820 kB" per node), or -1
 * without a Dirty line.
 */
static int64_t
dirty_kib(char *text)
{
    int64_t kib = 0;
    int has_dirty = 0;
    char *save = NULL;

    for (char *line = strtok_r(text, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        char *colon = strchr(line, ':'), *name;

        if (colon == NULL)
            continue;
        *colon = '\0';
        name = strrchr(line, ' ');
        name = name == NULL ? line : name + 1;
        has_dirty |= !strcmp(name, "Dirty");
        if (!strcmp(name, "Dirty") || !strcmp(name, "Writeback"))
            kib += (int64_t)strtoull(colon + 1, NULL, 10);
    }
    return has_dirty ? kib : -1;
}

/* The Dirty plus Writeback kB of one open meminfo file, or -1. */
static int64_t
read_dirty_kib(int fd)
{
    char buf[8192];
    ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

    if (n <= 0)
        return -1;
    buf[n] = '\0';
    return dirty_kib(buf);
}

/* Dirty plus writeback bytes of the machine, or -1 when unreadable. */
static int64_t
dirty_bytes(void)
{
    int64_t kib = 0;

    if (sg.nmeminfo == 0)
        return -1;
    for (int i = 0; i < sg.nmeminfo; i++) {
        int64_t k = read_dirty_kib(sg.meminfo[i]);

        if (k < 0)
            return -1;
        kib += k;
    }
    return kib * 1024;
}

static void
close_meminfo(void)
{
    for (int i = 0; i < sg.nmeminfo; i++)
        close(sg.meminfo[i]);
    sg.nmeminfo = 0;
}

/*
 * /proc/meminfo, or, where it is hidden (systemd's ProcSubset=pid, as in
 * frameshield.service) or says no Dirty (a container's stand-in), the
 * per-node files under /sys, which say the same per NUMA node.
 */
static void
open_meminfo(void)
{
    char path[64];

    sg.nmeminfo = 0;
    if ((sg.meminfo[0] = open("/proc/meminfo", O_RDONLY | O_CLOEXEC)) != -1) {
        if (read_dirty_kib(sg.meminfo[0]) >= 0) {
            sg.nmeminfo = 1;
            return;
        }
        close(sg.meminfo[0]);
    }
    /* Every node the kernel lists (numbers may have gaps); one that
     * cannot be read makes the whole count unreadable. */
    DIR *dir = opendir("/sys/devices/system/node");
    struct dirent *e;

    if (dir == NULL)
        return;
    while ((e = readdir(dir)) != NULL) {
        int fd, node;
        char end;

        if (sscanf(e->d_name, "node%d%c", &node, &end) != 1)
            continue;
        snprintf(path, sizeof(path), "/sys/devices/system/node/node%d/meminfo",
                 node);
        if (sg.nmeminfo == MEMINFO_MAX ||
            (fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
            close_meminfo();
            break;
        }
        sg.meminfo[sg.nmeminfo++] = fd;
    }
    closedir(dir);
}

void
syncgroup_init(uv_loop_t *loop, int (*is_busy)(void))
{
    memset(&sg, 0, sizeof(sg));
    sg.loop = loop;
    sg.is_busy = is_busy;
    uv_timer_init(loop, &sg.timer);
    open_meminfo();
    if (!is_kernel_ok())
        snprintf(sg.why_not, sizeof(sg.why_not),
                 "kernel before 5.8: syncfs may miss write errors");
    else if (dirty_bytes() < 0)
        snprintf(sg.why_not, sizeof(sg.why_not),
                 "dirty memory unreadable (/proc/meminfo, /sys nodes)");
}

void
syncgroup_close(void)
{
    sg.is_closing = 1;
    uv_close((uv_handle_t *)&sg.timer, NULL);
    start_cycle();
}

void
syncgroup_fini(void)
{
    close_meminfo();
    close_devs();
}

const char *
syncgroup_describe(void)
{
    static char line[160];

    if (sg.why_not[0] != '\0')
        snprintf(line, sizeof(line), "fsync per file and directory (%s)",
                 sg.why_not);
    else
        snprintf(line, sizeof(line),
                 "syncfs per group of jobs (fsync per file on file systems "
                 "other than ext3/4, xfs, btrfs, f2fs, tmpfs, or with "
                 "more than %llu MiB dirty)", SYNCGROUP_DIRTY_MAX >> 20);
    return line;
}

int
syncgroup_is_wanted(void)
{
    uint64_t now = uv_now(sg.loop);

    if (sg.why_not[0] != '\0')
        return 0;
    if (sg.read_ms == 0 || now - sg.read_ms >= DIRTY_READ_MS) {
        int64_t dirty = dirty_bytes();
        int was = sg.read_ms == 0 ? 1 : sg.is_wanted;

        sg.read_ms = now ? now : 1;
        sg.is_wanted = dirty >= 0 && (uint64_t)dirty <= SYNCGROUP_DIRTY_MAX;
        /* Said when it changes, and at the first reading if not grouped. */
        if (!sg.is_wanted && was && dirty < 0)
            log_warn("output: dirty memory unreadable: jobs fsync their "
                     "own files");
        else if (!sg.is_wanted && was)
            log_info("output: %lld MiB dirty: jobs fsync their own files",
                     (long long)(dirty >> 20));
        else if (sg.is_wanted && !was)
            log_info("output: %lld MiB dirty: jobs grouped under syncfs "
                     "again", (long long)(dirty >> 20));
    }
    return sg.is_wanted;
}

/* The group's descriptor entry for dev, or NULL. */
static struct dev_fd *
dev_of(dev_t dev)
{
    for (int i = 0; i < sg.ndevs; i++)
        if (sg.devs[i].dev == dev)
            return &sg.devs[i];
    return NULL;
}

/* On the loop, before a cycle: a descriptor for each new file system. */
static void
open_devs(struct sg_item *list)
{
    for (struct sg_item *it = list; it != NULL; it = it->next) {
        int fd;

        if (dev_of(it->dev) != NULL || sg.ndevs == DEVS_MAX ||
            (fd = fcntl(it->fd, F_DUPFD_CLOEXEC, 0)) == -1)
            continue;
        sg.devs[sg.ndevs++] = (struct dev_fd){it->dev, fd, 0};
    }
}

/* Nothing in flight: the descriptors go (a later burst opens anew). */
static void
close_devs(void)
{
    for (int i = 0; i < sg.ndevs; i++)
        close(sg.devs[i].fd);
    sg.ndevs = 0;
}

/* One syncfs per file system of the cycle; each item gets its fs's err. */
static void
sync_devices(struct sg_item *list)
{
    for (int i = 0; i < sg.ndevs; i++)
        sg.devs[i].err = -1; /* not synced yet */
    for (struct sg_item *it = list; it != NULL; it = it->next) {
        struct dev_fd *d = dev_of(it->dev);

        if (d == NULL) { /* past DEVS_MAX: its own descriptor */
            it->err = syncfs(it->fd) == -1 ? errno : 0;
            continue;
        }
        if (d->err == -1)
            d->err = syncfs(d->fd) == -1 ? errno : 0;
        it->err = d->err;
    }
}

/*
 * After a cycle whose syncfs failed on dev: items waiting for their data
 * to be synced may have had it in that failed writeback, and the error
 * is reported once only.  They fail too, their files removed.  Called
 * before the cycle's own items rejoin the waiting list, so every waiting
 * item is one added during the cycle, none yet published.
 */
static void
fail_waiting_on(dev_t dev, int err)
{
    struct sg_item **link = &sg.waiting;
    int failed = 0;

    while (*link != NULL) {
        struct sg_item *it = *link;

        if (it->dev != dev) {
            link = &it->next;
            continue;
        }
        *link = it->next;
        sg.nwaiting--;
        it->err = err;
        (void)it->publish(it, err);
        it->done(it);
        failed++;
    }
    /* A disk that fails writeback: worth a line, whoever's data it was. */
    log_err("output: syncfs on device %u:%u failed: %s; the jobs it was "
            "syncing fail, and %d waiting for the next one with them",
            major(dev), minor(dev), strerror(err), failed);
}

static void
cycle_work(uv_work_t *req)
{
    (void)req;
    sync_devices(sg.cycle);
    for (struct sg_item *it = sg.cycle; it != NULL; it = it->next)
        if (!it->is_published) {
            int err = it->publish(it, it->err);

            if (it->err == 0)
                it->err = err;
        }
}

static void
cycle_after(uv_work_t *req, int status)
{
    struct sg_item *it = sg.cycle, *next;

    (void)req;
    (void)status;
    sg.cycle = NULL;
    sg.is_running = 0;
    for (int i = 0; i < sg.ndevs; i++)
        if (sg.devs[i].err > 0)
            fail_waiting_on(sg.devs[i].dev, sg.devs[i].err);
    for (; it != NULL; it = next) {
        next = it->next;
        if (it->err != 0 || it->is_published) {
            it->done(it);
        } else {
            /* Published now: the next cycle's syncfs makes the names
             * durable. */
            it->is_published = 1;
            it->next = sg.waiting;
            sg.waiting = it;
            sg.nwaiting++;
        }
    }
    if (sg.waiting == NULL)
        close_devs();
    start_cycle();
}

static void
on_cycle_timer(uv_timer_t *t)
{
    (void)t;
    start_cycle();
}

static void
start_cycle(void)
{
    uint64_t now;

    if (sg.is_running || sg.waiting == NULL)
        return;
    /* The loop's time is that of its turn's start: a cycle may end later. */
    uv_update_time(sg.loop);
    now = uv_now(sg.loop);
    /* Nothing else on its way (the last job of a batch): no waiting. */
    if (!sg.is_closing && sg.nwaiting < CYCLE_FULL_ITEMS &&
        now - sg.started_ms < CYCLE_MIN_MS && sg.is_busy()) {
        if (!uv_is_active((uv_handle_t *)&sg.timer))
            uv_timer_start(&sg.timer, on_cycle_timer,
                           CYCLE_MIN_MS - (now - sg.started_ms), 0);
        return;
    }
    sg.started_ms = now;
    if (!sg.is_closing)
        uv_timer_stop(&sg.timer);
    sg.nwaiting = 0;
    sg.cycle = sg.waiting;
    sg.waiting = NULL;
    sg.is_running = 1;
    open_devs(sg.cycle);
    if (uv_queue_work(sg.loop, &sg.req, cycle_work, cycle_after) != 0) {
        cycle_work(&sg.req);
        cycle_after(&sg.req, 0);
    }
}

void
syncgroup_add(struct sg_item *it)
{
    it->is_published = 0;
    it->err = 0;
    it->next = sg.waiting;
    sg.waiting = it;
    sg.nwaiting++;
    start_cycle();
}
