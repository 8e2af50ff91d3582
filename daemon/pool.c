/*
 * Worker processes of frameshieldd: spawn, read and check their messages,
 * kill, reap and respawn them.  What a job means is dispatch.c's business.
 */
#define _GNU_SOURCE
#include "pool.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dispatch.h"
#include "fdpass.h"
#include "log.h"

#define RBUF_MIN (64 * 1024)
#define RESPAWN_MAX_MS 30000
/* After a worker exits, unread bytes get this long to arrive. */
#define EOF_WAIT_MS 500
/* From the request to the zygote to the worker's HELLO, at most. */
#define START_TIMEOUT_MS 30000
/* A request's tag: the slot (pool size <= 256) and which spawn of it. */
#define TAG_SLOT_BITS 8

static void slot_spawn(struct slot *);
static void slot_try_finalize(struct slot *);

static size_t
max_msg_len(const struct pool *p)
{
    return PROTO_HDR_LEN + PROTO_FRAME_FIXED + p->set.max_frame_bytes;
}

int
pool_count(const struct pool *p, enum slot_state st)
{
    int n = 0;

    for (int i = 0; i < p->set.size; i++)
        n += p->slots[i].state == st;
    return n;
}

int
pool_is_stopped(const struct pool *p)
{
    for (int i = 0; i < p->set.size; i++)
        if (p->slots[i].state != SLOT_EMPTY || p->slots[i].open_handles)
            return 0;
    return 1;
}

static void
on_respawn_due(uv_timer_t *t)
{
    slot_spawn(t->data);
}

/* The raw socket under the channel, for sendmsg and shutdown. */
static int
chan_fd(struct slot *s)
{
    uv_os_fd_t fd = -1;

    (void)uv_fileno((uv_handle_t *)&s->chan, &fd);
    return fd;
}

static void
on_handle_closed(uv_handle_t *h)
{
    struct slot *s = h->data;

    if (--s->open_handles > 0)
        return;
    free(s->rbuf);
    s->rbuf = NULL;
    s->rlen = s->rcap = 0;
    if (s->pool->is_draining) {
        dispatch_pool_changed();
        return;
    }
    if (s->start_failures == 0) {
        slot_spawn(s);
        return;
    }
    /* Workers that die before HELLO point at a broken install: back off. */
    uint64_t delay = 1000;
    for (int i = 1; i < s->start_failures && delay < RESPAWN_MAX_MS; i++)
        delay *= 2;
    if (delay > RESPAWN_MAX_MS)
        delay = RESPAWN_MAX_MS;
    log_warn("slot=%d respawn in %llu ms after %d failed starts", s->index,
             (unsigned long long)delay, s->start_failures);
    uv_timer_start(&s->timer, on_respawn_due, delay, 0);
}

/* The only place a slot's process and channel are torn down. */
static void
slot_close(struct slot *s)
{
    uv_timer_stop(&s->timer);
    s->state = SLOT_EMPTY;
    s->pid = 0;
    if (s->pidfd >= 0)
        close(s->pidfd);
    s->pidfd = -1;
    uv_close((uv_handle_t *)&s->chan, on_handle_closed);
    uv_close((uv_handle_t *)&s->errp, on_handle_closed);
}

/*
 * Whether the worker took its job from the channel (slot_job.sent_fd).
 * An input that cannot report an offset counts as taken: charged, as it
 * was before the worker marked it.
 */
static int
has_taken_job(const struct slot_job *sj)
{
    return sj->sent_fd >= 0 && lseek(sj->sent_fd, 0, SEEK_CUR) != 0;
}

/*
 * Sent, but the worker died (or hung, or was killed) before it took the
 * job: whatever ended it came before this job.  The mark is the worker's
 * word, though, and a subverted worker can unset it: a job is spared
 * only within its max_attempts (so no worker that keeps dying before it
 * reads, or lies, bounces a job for ever), and never by a worker the
 * sandbox killed.
 */
static int
is_spared(const struct slot *s, int is_taken)
{
    return s->sj->sent_fd >= 0 && !is_taken && s->term_signal != SIGSYS &&
           s->sj->job.attempts <= s->sj->job.max_attempts;
}

/* Ends the slot's job (if any) with how the worker went. */
static void
end_job_on_death(struct slot *s, int is_taken)
{
    struct attempt_end e = {0};
    int exit_code = (int)s->exit_status, term_signal = s->term_signal;

    if (s->sj == NULL)
        return;
    if (is_spared(s, is_taken)) {
        /* Neither charged nor recorded as its crash: the log says how
         * the worker went. */
        e.kind = END_INTERRUPTED;
        e.detail = "worker ended before it read the job";
        exit_code = -1;
        term_signal = 0;
    } else if (s->is_killed) {
        e.kind = s->kill_reason;
        e.detail = s->kill_detail;
        e.timeout_s = s->pool->set.job_timeout_s;
        e.term_signal = s->term_signal;
    } else if (s->term_signal != 0) {
        e.kind = END_SIGNAL;
        e.term_signal = s->term_signal;
    } else {
        e.kind = END_EXIT;
        e.exit_code = (int)s->exit_status;
    }
    struct slot_job *sj = s->sj;
    s->sj = NULL;
    dispatch_attempt_end(s, sj, &e, exit_code, term_signal);
}

static void
slot_try_finalize(struct slot *s)
{
    int is_taken;

    if (!s->has_exited || !s->has_eof || !s->has_err_eof)
        return;
    errlog_flush(&s->errlog);
    is_taken = s->sj != NULL && has_taken_job(s->sj);
    /*
     * Dying before HELLO, or soon after it without ever taking a job, is
     * the install's fault, not a job's: count it for the respawn backoff
     * (else a worker that always dies before reading its first job would
     * hand that job on, uncharged, as fast as workers respawn).
     */
    if (s->state == SLOT_STARTING ||
        (s->jobs_served == 0 && !is_taken && !s->pool->is_draining &&
         s->state != SLOT_DYING &&
         uv_now(s->pool->loop) - s->spawned_ms < 1000))
        s->start_failures++;
    end_job_on_death(s, is_taken);
    slot_close(s);
}

static void
on_eof_wait_over(uv_timer_t *t)
{
    struct slot *s = t->data;

    uv_read_stop((uv_stream_t *)&s->chan);
    uv_read_stop((uv_stream_t *)&s->errp);
    s->has_eof = s->has_err_eof = 1;
    slot_try_finalize(s);
}

static void
slot_exited(struct slot *s, int64_t exit_status, int term_signal)
{
    char sig[32];

    s->has_exited = 1;
    s->exit_status = exit_status;
    s->term_signal = term_signal;
    if (term_signal != 0 && !s->is_killed)
        log_warn("slot=%d worker=%d killed by %s", s->index, s->pid,
                 outcome_signal_name(term_signal, sig, sizeof(sig)));
    else if (s->state != SLOT_DYING)
        log_warn("slot=%d worker=%d exited with %lld", s->index, s->pid,
                 (long long)exit_status);
    uv_timer_stop(&s->timer);
    if (!s->has_eof || !s->has_err_eof)
        uv_timer_start(&s->timer, on_eof_wait_over, EOF_WAIT_MS, 0);
    slot_try_finalize(s);
}

/*
 * SIGKILL through the pidfd, which names this very process: once the
 * zygote has reaped it, ESRCH, never another process that took its pid.
 * Only kernels without pidfds (before 5.3) fall back to the pid.
 */
static void
signal_worker(struct slot *s)
{
    if (s->pidfd >= 0)
        (void)syscall(SYS_pidfd_send_signal, s->pidfd, SIGKILL, NULL, 0);
    else if (s->pid > 0)
        (void)kill(s->pid, SIGKILL);
}

void
pool_kill(struct slot *s, enum end_kind why, const char *detail)
{
    if (s->state == SLOT_EMPTY || s->has_exited)
        return;
    if (!s->is_killed) {
        s->is_killed = 1;
        s->kill_reason = why;
        snprintf(s->kill_detail, sizeof(s->kill_detail), "%s", detail);
    }
    s->state = SLOT_DYING;
    uv_timer_stop(&s->timer);
    /* Nothing it says from now on counts. */
    uv_read_stop((uv_stream_t *)&s->chan);
    s->has_eof = 1;
    if (s->pid == 0) {
        s->is_kill_pending = 1; /* the fork is not reported yet */
        return;
    }
    signal_worker(s);
}

static void
protocol_violation(struct slot *s, const char *why)
{
    log_warn("slot=%d worker=%d protocol violation: %s", s->index, s->pid, why);
    if (s->state == SLOT_STARTING) {
        /* Cannot talk to our own worker before any job: a deployment bug. */
        dispatch_fatal_worker(s, why);
        return;
    }
    pool_kill(s, END_PROTOCOL, why);
}

static void
handle_hello(struct slot *s, const uint8_t *p, size_t len)
{
    struct msg_hello m;

    if (s->state != SLOT_STARTING || proto_decode_hello(p, len, &m) == -1) {
        protocol_violation(s, "unexpected or malformed HELLO");
        return;
    }
    if (s->has_exited) /* read after its exit: nothing to hand a job to */
        return;
    s->state = SLOT_IDLE;
    s->start_failures = 0;
    uv_timer_stop(&s->timer); /* the start deadline */
    log_debug("slot=%d worker=%d ready in %llu ms", s->index, s->pid,
              (unsigned long long)(uv_now(s->pool->loop) - s->spawned_ms));
    dispatch_slot_idle(s);
}

static void
handle_frame(struct slot *s, const uint8_t *p, size_t len)
{
    struct msg_frame m;
    const char *why;

    if (s->state != SLOT_BUSY || proto_decode_frame(p, len, &m) == -1) {
        protocol_violation(s, "unexpected or malformed FRAME");
        return;
    }
    if ((why = dispatch_frame(s->sj, &m)) != NULL)
        protocol_violation(s, why);
}

static void
handle_result(struct slot *s, const uint8_t *p, size_t len)
{
    struct msg_result m;
    const char *why;

    if (s->state != SLOT_BUSY || proto_decode_result(p, len, &m) == -1) {
        protocol_violation(s, "unexpected or malformed RESULT");
        return;
    }
    if ((why = dispatch_check_result(s->sj, &m)) != NULL) {
        protocol_violation(s, why);
        return;
    }
    uv_timer_stop(&s->timer);
    struct slot_job *sj = s->sj;
    s->sj = NULL;
    s->jobs_served++;
    /*
     * Decided before dispatch_result, whose bookkeeping may claim jobs
     * for idle slots: a worker already reported dead (its RESULT read
     * late) or due for recycling must not be one of them.
     */
    int is_last = s->has_exited ||
                  s->jobs_served >= s->pool->set.max_jobs_per_worker ||
                  s->pool->is_draining;
    s->state = is_last ? SLOT_DYING : SLOT_IDLE;
    dispatch_result(s, sj, &m);
    if (is_last) {
        /* Recycle: closing our end gives the worker EOF; it exits 0. */
        if (!s->has_exited)
            shutdown(chan_fd(s), SHUT_WR);
        return;
    }
    if (s->state == SLOT_IDLE)
        dispatch_slot_idle(s);
}

/* Handles one whole message; returns 0 while the slot still listens. */
static int
handle_message(struct slot *s, const struct proto_hdr *h, const uint8_t *p)
{
    switch (h->type) {
    case MSG_HELLO:
        handle_hello(s, p, h->len);
        break;
    case MSG_FRAME:
        handle_frame(s, p, h->len);
        break;
    case MSG_RESULT:
        handle_result(s, p, h->len);
        break;
    default:
        protocol_violation(s, "message type not allowed from a worker");
        break;
    }
    return s->is_killed || s->state == SLOT_EMPTY ? -1 : 0;
}

static void
consume(struct slot *s)
{
    size_t off = 0;

    while (s->rlen - off >= PROTO_HDR_LEN) {
        struct proto_hdr h;
        const char *why;

        if (proto_parse_header(s->rbuf + off, s->pool->set.max_frame_bytes, &h,
                               &why) == -1) {
            protocol_violation(s, why);
            return;
        }
        if (s->rlen - off - PROTO_HDR_LEN < h.len)
            break;
        if (handle_message(s, &h, s->rbuf + off + PROTO_HDR_LEN) == -1)
            return;
        off += PROTO_HDR_LEN + h.len;
    }
    memmove(s->rbuf, s->rbuf + off, s->rlen - off);
    s->rlen -= off;
    if (s->rlen == 0 && s->rcap > 4 * RBUF_MIN) {
        /* Do not keep a big frame's buffer around between jobs. */
        uint8_t *small = realloc(s->rbuf, RBUF_MIN);
        if (small != NULL) {
            s->rbuf = small;
            s->rcap = RBUF_MIN;
        }
    }
}

static void
on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct slot *s = h->data;
    size_t limit = max_msg_len(s->pool) + RBUF_MIN;

    (void)suggested;
    if (s->rcap - s->rlen < RBUF_MIN / 4 && s->rcap < limit) {
        size_t cap = s->rcap ? s->rcap * 2 : RBUF_MIN;
        uint8_t *p;

        if (cap > limit)
            cap = limit;
        if ((p = realloc(s->rbuf, cap)) != NULL) {
            s->rbuf = p;
            s->rcap = cap;
        }
    }
    *buf =
        uv_buf_init((char *)s->rbuf + s->rlen, (unsigned)(s->rcap - s->rlen));
}

static void
on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    struct slot *s = st->data;

    (void)buf;
    if (nread < 0) {
        uv_read_stop(st);
        s->has_eof = 1;
        if (s->state != SLOT_DYING && !s->has_exited)
            log_debug("slot=%d worker=%d channel closed", s->index, s->pid);
        slot_try_finalize(s);
        return;
    }
    if (nread == 0 || s->is_killed)
        return;
    s->rlen += (size_t)nread;
    if (s->rlen == s->rcap && s->rcap >= max_msg_len(s->pool) + RBUF_MIN) {
        protocol_violation(s, "read buffer overflow");
        return;
    }
    consume(s);
}

static void
on_err_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    /* Consumed inside the read callback, so one buffer serves all slots. */
    static char errbuf[4096];

    (void)h;
    (void)suggested;
    *buf = uv_buf_init(errbuf, sizeof(errbuf));
}

static void
on_err_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    struct slot *s = st->data;

    if (nread < 0) {
        uv_read_stop(st);
        s->has_err_eof = 1;
        slot_try_finalize(s);
        return;
    }
    errlog_feed(&s->errlog, buf->base, (size_t)nread);
}

static void
slot_reset(struct slot *s)
{
    s->pid = 0;
    s->pidfd = -1;
    s->is_kill_pending = 0;
    s->has_exited = s->has_eof = s->has_err_eof = 0;
    s->exit_status = 0;
    s->term_signal = 0;
    s->is_killed = 0;
    s->sj = NULL;
    s->jobs_served = 0;
    s->kill_detail[0] = '\0';
}

/*
 * Not ready in time: a worker stuck before HELLO, or a zygote that never
 * answered (then there is nothing to kill; a late answer is refused by
 * its tag).  Either way a failed start, for the backoff.
 */
static void
on_start_timeout(uv_timer_t *t)
{
    struct slot *s = t->data;

    log_warn("slot=%d worker=%d not ready after %d s", s->index, s->pid,
             START_TIMEOUT_MS / 1000);
    if (s->pid == 0) {
        s->has_exited = s->has_eof = s->has_err_eof = 1;
        slot_try_finalize(s); /* STARTING: counted as a failed start */
        return;
    }
    s->start_failures++;
    pool_kill(s, END_EXIT, "");
}

/* Asks the zygote for a worker on a new channel and stderr pipe. */
static void
slot_spawn(struct slot *s)
{
    struct spawner *sp = &s->pool->spawner;
    int sv[2], errp[2];

    slot_reset(s);
    s->spawn_gen = (s->spawn_gen + 1) & 0x7fffff;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1)
        goto no_fds;
    if (pipe2(errp, O_CLOEXEC) == -1) {
        close(sv[0]);
        close(sv[1]);
        goto no_fds;
    }
    if (spawner_request(sp, s->spawn_gen << TAG_SLOT_BITS | s->index, sv[1],
                        errp[1]) == -1) {
        int err = errno;

        close(sv[0]);
        close(sv[1]);
        close(errp[0]);
        close(errp[1]);
        if (!spawner_is_up(sp))
            return; /* restarting: pool_spawner_up brings us back */
        errno = err;
        goto no_fds;
    }
    close(sv[1]);
    close(errp[1]);
    uv_pipe_init(s->pool->loop, &s->chan, 0);
    uv_pipe_init(s->pool->loop, &s->errp, 0);
    uv_pipe_open(&s->chan, sv[0]);
    uv_pipe_open(&s->errp, errp[0]);
    s->chan.data = s;
    s->errp.data = s;
    s->open_handles = 2;
    s->state = SLOT_STARTING;
    s->spawned_ms = uv_now(s->pool->loop);
    uv_timer_start(&s->timer, on_start_timeout, START_TIMEOUT_MS, 0);
    return;
no_fds:
    log_err("slot=%d spawn: %s", s->index, strerror(errno));
    s->start_failures++;
    uv_timer_start(&s->timer, on_respawn_due, 1000, 0);
}

/* The slot still waiting for the spawn the tag names, or NULL. */
static struct slot *
slot_of_tag(struct pool *p, int tag)
{
    int i = tag & ((1 << TAG_SLOT_BITS) - 1);
    struct slot *s;

    if (tag < 0 || i >= p->set.size)
        return NULL;
    s = &p->slots[i];
    if (s->state == SLOT_EMPTY || s->pid != 0 || s->has_exited ||
        s->spawn_gen != (unsigned)tag >> TAG_SLOT_BITS)
        return NULL;
    return s;
}

/* Reads start only now: nothing of a worker counts before its pid. */
void
pool_worker_spawned(struct pool *p, int tag, int pid, int pidfd)
{
    struct slot *s = slot_of_tag(p, tag);

    if (s == NULL) {
        /* Its slot gave up waiting: it would idle on a closed channel. */
        log_warn("zygote reported worker %d for no waiting slot", pid);
        if (pidfd >= 0) {
            (void)syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
            close(pidfd);
        }
        return;
    }
    s->pid = pid;
    s->pidfd = pidfd;
    if (pidfd < 0) /* kernels before 5.3: the pid it is, then */
        log_debug("slot=%d worker=%d without a pidfd", s->index, pid);
    errlog_init(&s->errlog, s->pid);
    uv_read_start((uv_stream_t *)&s->errp, on_err_alloc, on_err_read);
    if (s->is_kill_pending) { /* pool_kill did the rest already */
        signal_worker(s);
        return;
    }
    uv_read_start((uv_stream_t *)&s->chan, on_alloc, on_read);
}

void
pool_worker_spawn_failed(struct pool *p, int tag, int err)
{
    struct slot *s = slot_of_tag(p, tag);

    if (s == NULL)
        return;
    log_err("slot=%d zygote could not fork: %s", s->index, strerror(err));
    s->has_exited = s->has_eof = s->has_err_eof = 1;
    slot_try_finalize(s);
}

void
pool_worker_exited(struct pool *p, int pid, int wait_status)
{
    for (int i = 0; i < p->set.size; i++) {
        struct slot *s = &p->slots[i];

        if (s->state == SLOT_EMPTY || s->pid != pid || s->has_exited)
            continue;
        if (WIFSIGNALED(wait_status))
            slot_exited(s, 0, WTERMSIG(wait_status));
        else
            slot_exited(s, WEXITSTATUS(wait_status), 0);
        return;
    }
}

/*
 * The zygote died, so do its workers (PR_SET_PDEATHSIG; the pidfd makes
 * sure), and nobody will report them.  Their attempts were cut short by
 * the pool, not by their input: interrupted, requeued, not charged.
 * Every slot is marked dying before any attempt ends, since ending one
 * may claim jobs for slots that look idle.
 */
void
pool_zygote_lost(struct pool *p)
{
    for (int i = 0; i < p->set.size; i++) {
        struct slot *s = &p->slots[i];

        if (s->state == SLOT_EMPTY || s->has_exited)
            continue;
        signal_worker(s);
        if (!s->is_killed) {
            s->is_killed = 1;
            s->kill_reason = END_INTERRUPTED;
            snprintf(s->kill_detail, sizeof(s->kill_detail),
                     "the zygote died");
        }
        s->state = SLOT_DYING;
        uv_timer_stop(&s->timer);
        uv_read_stop((uv_stream_t *)&s->chan);
        s->has_eof = 1;
        if (s->pid == 0) /* never forked, or never heard of: no stderr */
            s->has_err_eof = 1;
    }
    for (int i = 0; i < p->set.size; i++) {
        struct slot *s = &p->slots[i];

        if (s->state != SLOT_EMPTY && !s->has_exited)
            slot_exited(s, 0, SIGKILL);
    }
}

void
pool_spawner_up(struct pool *p)
{
    if (p->is_draining)
        return;
    for (int i = 0; i < p->set.size; i++) {
        struct slot *s = &p->slots[i];

        if (s->state == SLOT_EMPTY && s->open_handles == 0 &&
            !uv_is_active((uv_handle_t *)&s->timer))
            slot_spawn(s);
    }
}

int
pool_init(struct pool *p, uv_loop_t *loop, const struct pool_settings *set)
{
    memset(p, 0, sizeof(*p));
    p->loop = loop;
    p->set = *set;
    if ((p->slots = calloc((size_t)set->size, sizeof(*p->slots))) == NULL)
        return -1;
    for (int i = 0; i < set->size; i++) {
        struct slot *s = &p->slots[i];

        s->pool = p;
        s->index = i;
        s->state = SLOT_EMPTY;
        uv_timer_init(loop, &s->timer);
        s->timer.data = s;
    }
    return 0;
}

void
pool_start(struct pool *p)
{
    /* The zygote's start spawns the slots (pool_spawner_up). */
    (void)spawner_start(&p->spawner, p, p->loop, p->set.worker_path,
                        p->set.worker_args, p->set.worker_nice);
}

static void
on_job_timeout(uv_timer_t *t)
{
    struct slot *s = t->data;

    log_warn("slot=%d worker=%d job=%lld timeout after %d s, killing", s->index,
             s->pid, (long long)s->sj->job.id, s->pool->set.job_timeout_s);
    pool_kill(s, END_TIMEOUT, "");
}

void
pool_take_job(struct slot *s, struct slot_job *sj)
{
    s->sj = sj;
    errlog_reset_tail(&s->errlog);
    s->state = SLOT_BUSY;
    uv_timer_start(&s->timer, on_job_timeout,
                   (uint64_t)s->pool->set.job_timeout_s * 1000, 0);
}

int
pool_send_job(struct slot *s, int input_fd)
{
    struct msg_job m = {.job_id = (uint64_t)s->sj->job.id,
                        .frames = s->sj->job.frames,
                        .mode = s->sj->job.mode,
                        .quality = s->sj->job.quality};
    uint8_t buf[64];
    long len = proto_encode_job(buf, sizeof(buf), &m);

    /*
     * A direct sendmsg: libuv's queue is empty (the worker is idle and we
     * never write anything else), and libuv cannot attach a plain file.
     */
    if (len < 0 || fdpass_send(chan_fd(s), buf, (size_t)len, input_fd) == -1) {
        char why[128];

        /*
         * Its end is closed: the worker quit or died after its last
         * RESULT, and this job never reached it.  Not the job's doing,
         * so not charged to it.
         */
        if (len >= 0 && (errno == EPIPE || errno == ECONNRESET)) {
            pool_kill(s, END_INTERRUPTED,
                      "worker ended before the job reached it");
            return -1;
        }
        snprintf(why, sizeof(why), "send job: %s", strerror(errno));
        pool_kill(s, END_PROTOCOL, why);
        return -1;
    }
    return 0;
}

struct slot_job *
pool_untake_job(struct slot *s)
{
    struct slot_job *sj = s->sj;

    uv_timer_stop(&s->timer);
    s->sj = NULL;
    s->state = SLOT_IDLE;
    if (s->pool->is_draining) { /* as pool_drain tells idle workers */
        s->state = SLOT_DYING;
        shutdown(chan_fd(s), SHUT_WR);
    }
    return sj;
}

void
pool_drain(struct pool *p)
{
    p->is_draining = 1;
    for (int i = 0; i < p->set.size; i++) {
        struct slot *s = &p->slots[i];

        if (s->state == SLOT_EMPTY)
            uv_timer_stop(&s->timer); /* a pending respawn */
        else if (s->state == SLOT_IDLE) {
            s->state = SLOT_DYING;
            shutdown(chan_fd(s), SHUT_WR);
        } else if (s->state == SLOT_STARTING)
            pool_kill(s, END_EXIT, "");
    }
}

void
pool_fini(struct pool *p)
{
    for (int i = 0; i < p->set.size; i++)
        uv_close((uv_handle_t *)&p->slots[i].timer, NULL);
    spawner_stop(&p->spawner);
}

void
pool_free(struct pool *p)
{
    free(p->slots);
    p->slots = NULL;
}
