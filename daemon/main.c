/*
 * frameshieldd: flags, start-up (lock, queue, recovery), signals and the
 * drain on SIGTERM.  Runs in the foreground, systemd style.
 */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <unistd.h>
#include <uv.h>

#include "checkpoint.h"
#include "config.h"
#include "daemon.h"
#include "dispatch.h"
#include "log.h"
#include "notify.h"
#include "pool.h"
#include "queue.h"
#include "syncgroup.h"
#include "zygote.h"
#include "watch.h"

static struct {
    struct config cfg;
    uv_loop_t *loop;
    struct queue *q;
    struct checkpointer *ckpt; /* NULL: SQLite checkpoints on the loop */
    struct pool pool;
    uv_signal_t sigterm, sigint, sighup;
    uv_timer_t grace_timer;
    uv_timer_t tick_timer; /* watchdog pings and STATUS= */
    int is_stopping;
    int is_closed;
    int exit_code;
    int lock_fd;
} m;

/*
 * One daemon per database: a second one would claim the same jobs and
 * requeue the first one's RUNNING jobs at its start.  flock dies with
 * the process, so kill -9 leaves no stale lock.
 */
static void
lock_db(const char *db_path)
{
    char path[PATH_MAX + 8], pid[32] = "";
    ssize_t n;

    snprintf(path, sizeof(path), "%s.lock", db_path);
    if ((m.lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644)) == -1)
        fatal("open %s", path);
    if (flock(m.lock_fd, LOCK_EX | LOCK_NB) == -1) {
        if (errno != EWOULDBLOCK)
            fatal("flock %s", path);
        n = pread(m.lock_fd, pid, sizeof(pid) - 1, 0);
        pid[n > 0 ? n : 0] = '\0';
        pid[strcspn(pid, "\n")] = '\0';
        fatalx("frameshieldd already running on %s (pid %s)", db_path,
               pid[0] ? pid : "?");
    }
    n = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
    if (ftruncate(m.lock_fd, 0) == -1 || pwrite(m.lock_fd, pid, (size_t)n, 0) != n)
        log_warn("write %s: %s", path, strerror(errno));
}

static void
close_all(void)
{
    if (m.is_closed)
        return;
    m.is_closed = 1;
    watch_stop();
    dispatch_fini();
    pool_fini(&m.pool);
    uv_close((uv_handle_t *)&m.sigterm, NULL);
    uv_close((uv_handle_t *)&m.sigint, NULL);
    uv_close((uv_handle_t *)&m.sighup, NULL);
    uv_close((uv_handle_t *)&m.grace_timer, NULL);
    uv_close((uv_handle_t *)&m.tick_timer, NULL);
}

/*
 * The watchdog ping comes from the event loop itself, so a loop stuck in
 * a long SQLite wait or a busy callback is what the manager notices.
 */
static void
on_tick(uv_timer_t *t)
{
    struct dispatch_stats st;
    char msg[256];

    (void)t;
    dispatch_get_stats(&st);
    snprintf(msg, sizeof(msg),
             "%sSTATUS=workers %d busy %d; since start: done %llu, "
             "retried %llu, failed %llu%s",
             notify_watchdog_usec() ? "WATCHDOG=1\n" : "",
             m.pool.set.size, pool_count(&m.pool, SLOT_BUSY),
             (unsigned long long)st.done, (unsigned long long)st.retried,
             (unsigned long long)st.failed, m.is_stopping ? "; stopping" : "");
    notify_send(msg);
}

static void
start_tick(void)
{
    uint64_t ms = 5000;
    uint64_t wd_ms = notify_watchdog_usec() / 1000;

    /* Half the watchdog interval, as sd_watchdog_enabled(3) advises. */
    if (wd_ms > 0 && wd_ms / 2 < ms)
        ms = wd_ms / 2 > 0 ? wd_ms / 2 : 1;
    uv_timer_init(m.loop, &m.tick_timer);
    uv_timer_start(&m.tick_timer, on_tick, ms, ms);
}

void
daemon_check_stopped(void)
{
    if (m.is_stopping && pool_is_stopped(&m.pool))
        close_all();
}

/* Grace is over: what still runs is stopped and requeued, not charged. */
static void
on_grace_over(uv_timer_t *t)
{
    (void)t;
    for (int i = 0; i < m.pool.set.size; i++) {
        struct slot *s = &m.pool.slots[i];

        if (s->state == SLOT_BUSY)
            log_notice("job=%lld still running after %d s grace; requeueing",
                       (long long)s->sj->job.id, m.cfg.grace_s);
        if (s->state != SLOT_EMPTY)
            pool_kill(s, END_INTERRUPTED, "daemon stopped");
    }
}

void
daemon_shutdown(int exit_code)
{
    if (exit_code > m.exit_code)
        m.exit_code = exit_code;
    if (m.is_stopping)
        return;
    m.is_stopping = 1;
    notify_send("STOPPING=1");
    log_info("stopping: %d job(s) running, grace %d s",
             pool_count(&m.pool, SLOT_BUSY), m.cfg.grace_s);
    dispatch_drain();
    pool_drain(&m.pool);
    uv_timer_start(&m.grace_timer, on_grace_over,
                   (uint64_t)m.cfg.grace_s * 1000, 0);
    daemon_check_stopped();
}

static void
on_signal(uv_signal_t *h, int signum)
{
    (void)h;
    if (signum == SIGHUP) {
        log_notice("SIGHUP: configuration reload is not supported yet");
        return;
    }
    log_info("received %s", signum == SIGTERM ? "SIGTERM" : "SIGINT");
    if (m.is_stopping) {
        /* A second request: the operator does not want to wait. */
        on_grace_over(NULL);
        return;
    }
    daemon_shutdown(0);
}

/*
 * The zygote's command line carries the workers' sandbox settings: each
 * worker applies them to itself right after the fork (common/zygote.h).
 */
static char *const *
worker_args(void)
{
    static char mem[16], mpx[16];
    static char *argv[16];
    int n = 0;

    snprintf(mem, sizeof(mem), "%d", m.cfg.memory_limit_mb);
    snprintf(mpx, sizeof(mpx), "%d", m.cfg.max_megapixels);
    argv[n++] = m.cfg.worker_path;
    argv[n++] = "--sandbox";
    argv[n++] = m.cfg.sandbox;
    argv[n++] = "--memory-limit-mb";
    argv[n++] = mem;
    argv[n++] = "--max-megapixels";
    argv[n++] = mpx;
    argv[n++] = "--user";
    argv[n++] = m.cfg.user;
    if (m.cfg.has_core_dumps)
        argv[n++] = "--core-dumps";
    argv[n++] = ZYGOTE_ARG;
    argv[n] = NULL;
    return argv;
}

/*
 * Every ended job whose frames are still being made durable holds its
 * output directory open, up to SYNC_AHEAD per worker (dispatch.c): past
 * the usual soft limit of 1024 with some twenty workers.  The hard limit
 * is the administrator's; the soft one is ours to raise, and nothing
 * here uses select().  Workers set their own (sandbox.c).
 */
static void
raise_nofile(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) == -1 || rl.rlim_cur >= rl.rlim_max)
        return;
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
        log_debug("cannot raise the descriptor limit: %s", strerror(errno));
}

static void
setup(void)
{
    struct pool_settings ps = {
        .worker_path = m.cfg.worker_path,
        .worker_args = worker_args(),
        .size = m.cfg.workers,
        .worker_nice = m.cfg.worker_nice,
        .job_timeout_s = m.cfg.job_timeout_s,
        .max_jobs_per_worker = m.cfg.max_jobs_per_worker,
        .max_frame_bytes = m.cfg.max_frame_bytes,
    };
    char err[512];
    int n;

    raise_nofile();
    lock_db(m.cfg.db_path);
    if ((m.q = queue_open(m.cfg.db_path, err, sizeof(err))) == NULL)
        fatalx("queue %s: %s", m.cfg.db_path, err);
    if ((n = queue_requeue_running(m.q)) == -1)
        fatalx("queue %s: cannot requeue interrupted jobs", m.cfg.db_path);
    if (n > 0)
        log_notice("requeued %d job(s) left RUNNING by a previous run", n);
    if (access(m.cfg.worker_path, X_OK) == -1)
        fatal("worker %s", m.cfg.worker_path);
    m.loop = uv_default_loop();
    if ((m.ckpt = checkpointer_new(m.loop, m.cfg.db_path)) != NULL)
        queue_on_wal(m.q, checkpointer_note, m.ckpt);
    if (pool_init(&m.pool, m.loop, &ps) == -1)
        fatal("pool");
    if (dispatch_init(m.q, &m.pool, &m.cfg, m.loop) == -1)
        exit(1);
    (void)watch_start(m.loop, m.cfg.db_path);
    uv_timer_init(m.loop, &m.grace_timer);
    start_tick();
    uv_signal_init(m.loop, &m.sigterm);
    uv_signal_init(m.loop, &m.sigint);
    uv_signal_init(m.loop, &m.sighup);
    uv_signal_start(&m.sigterm, on_signal, SIGTERM);
    uv_signal_start(&m.sigint, on_signal, SIGINT);
    uv_signal_start(&m.sighup, on_signal, SIGHUP);
}

int
main(int argc, char **argv)
{
    char err[PATH_MAX + 128];
    int rc;

    config_defaults(&m.cfg);
    if ((rc = config_parse_args(&m.cfg, argc, argv, err, sizeof(err))) == 1)
        return 0;
    if (rc == -1)
        fatalx("%s", err);
    log_set_level(m.cfg.log_level);
    notify_init();
    /* A worker that dies mid-write must cost an EPIPE, not the daemon. */
    signal(SIGPIPE, SIG_IGN);
    /*
     * A file-size limit (systemd's LimitFSIZE=) reached while writing a
     * frame or the queue's WAL is an error for that write (EFBIG), as a
     * full disk is, not the end of the daemon.
     */
    signal(SIGXFSZ, SIG_IGN);
    /*
     * Every job allocates and frees the same few hundred KiB (its frames,
     * SQLite's pages).  glibc's default trims the heap's top after each
     * free and the next job faults it back in: a third of the event
     * loop's time at 1,500 jobs/s (perf).  Keep up to 4 MiB; blocks of
     * 1 MiB and more (big frames) are mapped and returned on free.
     */
    mallopt(M_TRIM_THRESHOLD, 4 << 20);
    mallopt(M_MMAP_THRESHOLD, 1 << 20);
    /*
     * libuv's threadpool (4 threads unless set) runs the frame writes,
     * each thread blocked in an fsync most of its time; the disk takes
     * more at once (no-op jobs: 17-22 % more with 8 threads and 16 jobs
     * syncing per slot than with 4 and 4).  Read at its first use, just
     * after.
     */
    setenv("UV_THREADPOOL_SIZE", "8", 0);
    setup();
    log_info("starting workers=%d worker=%s job_timeout=%ds sandbox=%s",
             m.cfg.workers, m.cfg.worker_path, m.cfg.job_timeout_s,
             m.cfg.sandbox);
    if (strcmp(m.cfg.sandbox, "yes") != 0)
        log_warn("worker sandbox is %s: decoders run unconfined",
                 m.cfg.sandbox);
    log_info("output durability: %s",
             m.cfg.sync_output == SYNC_OUTPUT_YES ? syncgroup_describe()
             : m.cfg.sync_output == SYNC_OUTPUT_FSYNC
                 ? "fsync per file and directory (sync_output = fsync)"
                 : "none (sync_output = no)");
    pool_start(&m.pool);
    uv_run(m.loop, UV_RUN_DEFAULT);
    if (uv_loop_close(m.loop) != 0)
        log_warn("event loop closed with handles still open");
    pool_free(&m.pool);
    dispatch_free();
    queue_on_wal(m.q, NULL, NULL);
    checkpointer_free(m.ckpt);
    queue_close(m.q);
    close(m.lock_fd);
    log_info("stopped exit=%d", m.exit_code);
    return m.exit_code;
}
