/*
 * Runs the zygote (common/zygote.h) for the pool: one exec of the worker
 * binary per daemon life, one fork per worker.
 */
#define _GNU_SOURCE
#include "spawner.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "pool.h"
#include "zygote.h"

#define RESTART_MAX_MS 30000
/* A zygote that dies sooner than this after its start counts as failed. */
#define EARLY_DEATH_MS 1000

static void zygote_launch(struct spawner *);

static void
on_poll(uv_poll_t *h, int status, int events)
{
    struct spawner *sp = h->data;
    struct zygote_msg m;
    int fds[1], n;

    (void)events;
    if (status < 0) {
        uv_poll_stop(h);
        return;
    }
    while ((n = zygote_recv(sp->fd, &m, fds, 1, 1)) >= 0) {
        switch (m.type) {
        case ZY_SPAWNED:
            pool_worker_spawned(sp->pool, m.tag, m.pid, n == 1 ? fds[0] : -1);
            break;
        case ZY_FAILED:
            pool_worker_spawn_failed(sp->pool, m.tag, m.status);
            break;
        case ZY_EXITED:
            pool_worker_exited(sp->pool, m.pid, m.status);
            break;
        default:
            log_warn("zygote: unknown message type %u", m.type);
        }
        if (n == 1 && m.type != ZY_SPAWNED)
            close(fds[0]);
    }
    /* EOF: the zygote is gone or going; its exit callback cleans up. */
    if (n == -2 || (n == -1 && errno != EAGAIN && errno != EPROTO))
        uv_poll_stop(h);
}

static void
on_restart_due(uv_timer_t *t)
{
    zygote_launch(t->data);
}

static void
on_proc_closed(uv_handle_t *h)
{
    struct spawner *sp = h->data;

    sp->is_up = 0;
    if (sp->is_stopping) {
        uv_close((uv_handle_t *)&sp->restart, NULL);
        return;
    }
    uint64_t delay = 0;
    if (sp->failures > 0) {
        delay = 1000;
        for (int i = 1; i < sp->failures && delay < RESTART_MAX_MS; i++)
            delay *= 2;
        if (delay > RESTART_MAX_MS)
            delay = RESTART_MAX_MS;
        log_warn("zygote: restart in %llu ms after %d early deaths",
                 (unsigned long long)delay, sp->failures);
    }
    uv_timer_start(&sp->restart, on_restart_due, delay, 0);
}

static void
on_poll_closed(uv_handle_t *h)
{
    struct spawner *sp = h->data;

    close(sp->dead_fd); /* only now: libuv polled it until the close */
    sp->dead_fd = -1;
    uv_close((uv_handle_t *)&sp->proc, on_proc_closed);
}

static void
on_zygote_exit(uv_process_t *proc, int64_t exit_status, int term_signal)
{
    struct spawner *sp = proc->data;

    if (!sp->is_stopping)
        log_err("zygote %d %s %d: its workers die with it", sp->pid,
                term_signal ? "killed by signal" : "exited with",
                term_signal ? term_signal : (int)exit_status);
    if (uv_now(sp->loop) - sp->started_ms < EARLY_DEATH_MS)
        sp->failures++;
    else
        sp->failures = 0;
    /* Reports still queued in the socket come first, then the loss. */
    on_poll(&sp->poll, 0, UV_READABLE);
    uv_poll_stop(&sp->poll);
    sp->dead_fd = sp->fd;
    sp->fd = -1; /* no more requests: slots wait for pool_spawner_up */
    pool_zygote_lost(sp->pool);
    uv_close((uv_handle_t *)&sp->poll, on_poll_closed);
}

static char *empty_env[] = {NULL};

static void
zygote_launch(struct spawner *sp)
{
    uv_process_options_t opt = {0};
    uv_stdio_container_t stdio[4];
    int sv[2], rc;

    if (sp->is_stopping)
        return;
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1) {
        log_err("zygote: socketpair: %s", strerror(errno));
        sp->failures++;
        uv_timer_start(&sp->restart, on_restart_due, 1000, 0);
        return;
    }
    stdio[0].flags = UV_IGNORE;
    stdio[1].flags = UV_IGNORE;
    stdio[2].flags = UV_INHERIT_FD; /* its own complaints: our log */
    stdio[2].data.fd = 2;
    stdio[3].flags = UV_INHERIT_FD;
    stdio[3].data.fd = sv[1];
    opt.file = sp->path;
    opt.args = (char **)sp->args;
    /* Nothing of ours reaches a worker, not even in /proc/PID/environ. */
    opt.env = empty_env;
    opt.stdio = stdio;
    opt.stdio_count = 4;
    opt.exit_cb = on_zygote_exit;
    /* Its own session: a terminal's ^C reaches the supervisor only. */
    opt.flags = UV_PROCESS_DETACHED;
    sp->proc.data = sp;
    rc = uv_spawn(sp->loop, &sp->proc, &opt);
    close(sv[1]);
    if (rc != 0) {
        log_err("zygote: spawn %s: %s", sp->path, uv_strerror(rc));
        close(sv[0]);
        sp->failures++;
        uv_close((uv_handle_t *)&sp->proc, on_proc_closed);
        sp->is_up = 1; /* until the close callback */
        return;
    }
    sp->fd = sv[0];
    sp->pid = sp->proc.pid;
    sp->is_up = 1;
    /* Before any spawn request: every worker forked inherits it. */
    if (sp->nice != 0) {
        int nice = getpriority(PRIO_PROCESS, 0) + sp->nice;

        if (nice > 19)
            nice = 19;
        if (setpriority(PRIO_PROCESS, (id_t)sp->pid, nice) == -1)
            log_warn("zygote %d: nice %d: %s", sp->pid, nice, strerror(errno));
    }
    sp->started_ms = uv_now(sp->loop);
    uv_poll_init(sp->loop, &sp->poll, sp->fd);
    sp->poll.data = sp;
    uv_poll_start(&sp->poll, UV_READABLE, on_poll);
    log_debug("zygote %d started", sp->pid);
    pool_spawner_up(sp->pool);
}

int
spawner_start(struct spawner *sp, struct pool *p, uv_loop_t *loop,
              const char *path, char *const *args, int nice)
{
    memset(sp, 0, sizeof(*sp));
    sp->nice = nice;
    sp->loop = loop;
    sp->pool = p;
    sp->path = path;
    sp->args = args;
    sp->fd = -1;
    sp->dead_fd = -1;
    uv_timer_init(loop, &sp->restart);
    sp->restart.data = sp;
    zygote_launch(sp);
    return 0;
}

int
spawner_is_up(const struct spawner *sp)
{
    return sp->fd != -1 && !sp->is_stopping;
}

int
spawner_request(struct spawner *sp, int tag, int chan_fd, int err_fd)
{
    struct zygote_msg m = {.type = ZY_SPAWN, .tag = tag};
    int fds[2] = {chan_fd, err_fd};

    if (!spawner_is_up(sp)) {
        errno = EAGAIN;
        return -1;
    }
    return zygote_send(sp->fd, &m, fds, 2);
}

void
spawner_stop(struct spawner *sp)
{
    sp->is_stopping = 1;
    uv_timer_stop(&sp->restart);
    if (!sp->is_up) {
        uv_close((uv_handle_t *)&sp->restart, NULL);
        return;
    }
    /* Its workers are gone by now: nothing is lost by not waiting. */
    if (sp->fd != -1)
        uv_process_kill(&sp->proc, SIGKILL);
}
