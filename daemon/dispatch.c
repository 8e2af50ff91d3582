/*
 * Job dispatch for frameshieldd: claims jobs for idle workers, opens their
 * inputs and outputs (workers own no paths), writes returned frames, and
 * turns every attempt's end into a queue transition through outcome.c.
 */
#include "dispatch.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "confine.h"
#include "daemon.h"
#include "log.h"
#include "notify.h"
#include "persist.h"
#include "syncgroup.h"

/* An fs event burst (one INSERT touches -wal several times) -> one claim. */
#define KICK_DEBOUNCE_MS 2
/* Looks after an fs event that showed nothing new (on_kick): every
 * RELOOK_DENSE_MS for RELOOKS_DENSE looks, then at 400 and 800 ms. */
#define RELOOK_DENSE_MS 10
#define RELOOKS_DENSE 40
#define RELOOKS (RELOOKS_DENSE + 2)
/* The longest we sleep without looking, in case fs events are lost. */
#define WAKE_MAX_MS 2000
/* Claims in a row for one slot whose inputs fail before reaching it. */
#define CLAIMS_PER_TURN 64
/* Ended jobs per slot whose frames may still be syncing (see claim_for). */
#define SYNC_AHEAD 64
/* Frames held for the disk, all jobs together, before claims wait. */
#define SYNC_AHEAD_BYTES (32u << 20)
/* Retries of transitions the queue refused: the first, and the longest. */
#define QUEUE_RETRY_MIN_MS 200
#define QUEUE_RETRY_MAX_MS 5000
/*
 * The same while another connection holds the write lock: a client's
 * INSERT holds it for milliseconds, and a try costs two lock calls.
 */
#define LOCK_RETRY_MIN_MS 1
#define LOCK_RETRY_MAX_MS 32

/* Ended jobs in order, linked through next_end. */
struct end_list {
    struct slot_job *head;
    struct slot_job **tail;
};

static struct {
    struct queue *q;
    struct pool *pool;
    const struct config *cfg;
    uv_loop_t *loop;
    uv_timer_t kick_timer;
    uv_timer_t wake_timer;
    uv_prepare_t flush;
    uv_timer_t retry_timer; /* retry_queue_later */
    uint64_t retry_ms;      /* its next delay */
    uint64_t lock_retry_ms; /* its next delay while locked out */
    int is_retry_due;       /* the timer ran: unrecorded ends go again */
    int is_closed;          /* dispatch_fini ran: no batch, no turns */
    int is_queue_lost;      /* and then an end could not be recorded */
    struct end_list recorded;   /* in the turn's transaction */
    struct end_list unrecorded; /* refused by the queue, to retry */
    int64_t seen_data_version;
    int64_t retry_due_ms; /* the retry the wake timer waits for, or -1 */
    int64_t looked_ms;    /* when kick() last looked for jobs to claim */
    int has_runnable;     /* we made a job runnable now: claim without
                             waiting for data_version, which our own
                             commits do not move */
    int is_draining;
    int is_change_unseen; /* the database changed while no slot was idle */
    unsigned relooks; /* on_kick's looks so far after one fs event */
    int persisting; /* ended attempts whose frames are still syncing */
    int is_claim_waiting; /* claims stopped for the disk (is_disk_behind) */
    int max_persisting;   /* SYNC_AHEAD per slot, or what descriptors allow */
    struct dispatch_stats stats;
    struct roots input_roots, output_roots;
} d;

/*
 * Each ended job whose frames are being made durable holds its output
 * directory open: SYNC_AHEAD per slot, unless the descriptor limit (main.c
 * raises the soft one to the hard one) leaves less.  Kept back: 64 for
 * the queue, the watch, the roots and the like, and 4 per slot (channel,
 * stderr, pidfd, the input of its job while that runs).
 */
static int
max_persisting(int slots)
{
    struct rlimit rl;
    long room;

    if (getrlimit(RLIMIT_NOFILE, &rl) == -1 || rl.rlim_cur == RLIM_INFINITY)
        return SYNC_AHEAD * slots;
    room = (long)rl.rlim_cur - 64 - 4L * slots;
    if (room < slots)
        room = slots;
    return room < SYNC_AHEAD * slots ? (int)room : SYNC_AHEAD * slots;
}

void
dispatch_get_stats(struct dispatch_stats *out)
{
    *out = d.stats;
}

static void kick(void);

/* Whether a worker is on a job: more frames will come to sync. */
static int
is_pool_busy(void)
{
    return pool_count(d.pool, SLOT_BUSY) > 0;
}

/* Whether claims wait for the disk (see claim_for). */
static int
is_disk_behind(void)
{
    return d.persisting >= d.max_persisting ||
           persist_held_bytes() >= SYNC_AHEAD_BYTES;
}

/*
 * The retry policy's verdict on an ended attempt: the same every time it
 * is asked, so a row that has to be written again says the same.
 */
static void
outcome_of(const struct slot_job *sj, struct outcome *o)
{
    struct retry_policy pol = {d.cfg->retry_delay_s,
                               d.cfg->is_crash_retryable};

    outcome_classify(&sj->end, sj->job.attempts, sj->job.max_attempts, &pol,
                     o);
}

static void
ends_push(struct end_list *l, struct slot_job *sj)
{
    sj->next_end = NULL;
    *l->tail = sj;
    l->tail = &sj->next_end;
}

static struct slot_job *
ends_take(struct end_list *l)
{
    struct slot_job *head = l->head;

    l->head = NULL;
    l->tail = &l->head;
    return head;
}

static void
free_ended(struct slot_job *sj)
{
    free(sj->stderr_tail);
    free(sj);
}

/* The end is committed: count it, log it, let a retry be claimed. */
static void
announce_end(struct slot_job *sj)
{
    struct outcome o;
    char sig[32];

    outcome_of(sj, &o);
    if (sj->is_stale)
        log_notice("job=%lld attempt=%d result dropped: the job changed "
                   "meanwhile", (long long)sj->job.id, sj->job.attempts);
    if (o.status == JOB_RETRY && o.delay_s == 0) {
        d.has_runnable = 1;
        dispatch_kick_soon();
    }
    d.stats.done += o.status == JOB_DONE;
    d.stats.retried += o.status == JOB_RETRY;
    d.stats.failed += o.status == JOB_FAILED;
    /* DONE is routine: at hundreds of jobs a second a line each would
     * pass journald's default rate limit (10,000 per 30 s) and have it
     * suppress the warnings below.  The queue keeps every job; STATUS=
     * (main.c) counts them. */
    if (o.status == JOB_DONE)
        log_debug("job=%lld worker=%d attempt=%d DONE frames=%d decoded=%d",
                  (long long)sj->job.id, sj->worker_pid, sj->job.attempts,
                  (int)sj->frames_received, sj->frames_decoded);
    else
        log_warn("job=%lld worker=%d attempt=%d/%d %s%s%s %s%s",
                 (long long)sj->job.id, sj->worker_pid, sj->job.attempts,
                 sj->job.max_attempts, job_status_str(o.status),
                 o.last_signal ? " signal=" : "",
                 o.last_signal ? outcome_signal_name(o.last_signal, sig,
                                                     sizeof(sig)) : "",
                 o.error, o.status == JOB_RETRY ? " (retrying)" : "");
    free_ended(sj);
}

static void on_queue_retry(uv_timer_t *);

/*
 * The queue refused a transition (another connection holds the write
 * lock, or the commit failed): try again later, backing off while it
 * keeps refusing.
 */
static void
retry_queue_later(void)
{
    int is_locked_out = queue_is_locked_out(d.q);
    uint64_t *delay = is_locked_out ? &d.lock_retry_ms : &d.retry_ms;
    uint64_t max = is_locked_out ? LOCK_RETRY_MAX_MS : QUEUE_RETRY_MAX_MS;

    if (d.is_closed || uv_is_active((uv_handle_t *)&d.retry_timer))
        return;
    uv_timer_start(&d.retry_timer, on_queue_retry, *delay, 0);
    *delay = *delay * 2 < max ? *delay * 2 : max;
}

/*
 * Writes an attempt's end into the turn's transaction.  It is announced
 * once that commits (on_loop_turn_end); until then, and for as long as
 * the queue refuses it, the job stays in memory: an end is never lost,
 * whoever holds the queue's write lock and for however long.
 */
static void
record_end(struct slot_job *sj)
{
    struct attempt_report r = {
        .worker_pid = sj->worker_pid,
        .exit_code = sj->exit_code,
        .term_signal = sj->term_signal,
        .frames_decoded = sj->frames_decoded,
        .frames_written = (int)sj->frames_received,
        .started_ms = sj->started_ms,
        .is_interrupted = sj->end.kind == END_INTERRUPTED,
        .stderr_tail = sj->stderr_tail,
    };
    struct outcome o;

    outcome_of(sj, &o);
    sj->is_stale = 0;
    if (!d.is_queue_lost &&
        queue_finish(d.q, &sj->job, &o, &r, &sj->is_stale) == 0) {
        if (d.is_closed) /* no batch any more: committed already */
            announce_end(sj);
        else
            ends_push(&d.recorded, sj);
        return;
    }
    if (d.is_closed) {
        /* One full busy timeout at shutdown, not one per job. */
        d.is_queue_lost = 1;
        log_err("job=%lld could not record its end; it stays RUNNING until "
                "the next start", (long long)sj->job.id);
        free_ended(sj);
        return;
    }
    ends_push(&d.unrecorded, sj);
    retry_queue_later();
}

/* The frames are on disk (or failed to get there): now the row. */
static void
on_persisted(void *arg, int err, const char *why)
{
    struct slot_job *sj = arg;

    /* A write failure overrides a success, never a crash's own story. */
    if (err != 0 && sj->end.kind == END_RESULT &&
        sj->end.result_code == RESULT_OK) {
        sj->end.kind = END_OUTPUT;
        sj->end.sys_errno = err;
        snprintf(sj->detail, sizeof(sj->detail), "%s", why);
    }
    sj->end.detail = sj->detail;
    d.persisting--;
    record_end(sj);
    /* Claims that waited for the disk go on; otherwise nothing waits. */
    if (d.is_claim_waiting && !is_disk_behind()) {
        d.is_claim_waiting = 0;
        if (!d.is_draining && pool_count(d.pool, SLOT_IDLE) > 0)
            kick();
    }
}

/*
 * The attempt is over: keep what the slot knew (it moves on at once),
 * then finish once the last frames are durable.
 */
static void
end_attempt(struct slot *s, struct slot_job *sj, const struct attempt_end *e)
{
    static const struct attempt_end unsent = {
        .kind = END_INTERRUPTED,
        .detail = "worker ended before the job reached it"};
    const char *tail = errlog_tail(&s->errlog);
    int is_ok = e->kind == END_RESULT && e->result_code == RESULT_OK;

    /* Claimed, but its worker died before the turn's commit sent it. */
    if (sj->input_fd >= 0) {
        close(sj->input_fd);
        sj->input_fd = -1;
        e = &unsent;
    }
    if (sj->sent_fd >= 0) {
        close(sj->sent_fd);
        sj->sent_fd = -1;
    }
    sj->end = *e;
    snprintf(sj->detail, sizeof(sj->detail), "%s", e->detail ? e->detail : "");
    sj->end.detail = sj->detail;
    sj->worker_pid = s->pid;
    sj->stderr_tail = *tail ? strdup(tail) : NULL;
    struct persist *p = sj->persist;
    if (p == NULL) {
        record_end(sj);
        return;
    }
    sj->persist = NULL;
    d.persisting++;
    /* May call on_persisted, and so free sj, before it returns. */
    persist_finish(p, is_ok, on_persisted, sj);
}

/* Ends an attempt that never reached the worker (input or output). */
static void
fail_early(struct slot *s, struct slot_job *sj, enum end_kind kind,
           int err, const char *detail)
{
    struct attempt_end e = {.kind = kind, .sys_errno = err,
                            .detail = detail};

    sj->exit_code = -1;
    end_attempt(s, sj, &e);
}

/*
 * Opens the input the way the worker will read it: never blocking on a
 * FIFO, never following into a device.  Returns the fd, or -1 with the
 * attempt already ended.
 */
static int
open_input(struct slot *s, struct slot_job *sj)
{
    char why[PATH_MAX + 64];
    struct stat st;
    int fd, err;

    /* The daemon's working directory means nothing to the caller. */
    if (sj->job.input[0] != '/') {
        snprintf(why, sizeof(why), "open %s: not an absolute path",
                 sj->job.input);
        fail_early(s, sj, END_INPUT, 0, why);
        return -1;
    }
    fd = confine_open(&d.input_roots, sj->job.input, O_RDONLY | O_NONBLOCK);
    err = errno;
    if (fd == -1) {
        snprintf(why, sizeof(why), "open %s: %s", sj->job.input,
                 err == EXDEV ? "outside input_roots" : strerror(err));
        fail_early(s, sj, END_INPUT, err, why);
        return -1;
    }
    if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode))
        snprintf(why, sizeof(why), "open %s: not a regular file",
                 sj->job.input);
    else if (st.st_size > (off_t)d.cfg->max_input_mb * 1024 * 1024)
        snprintf(why, sizeof(why), "input too large: %lld bytes > "
                 "max_input_mb %d", (long long)st.st_size,
                 d.cfg->max_input_mb);
    else
        return fd;
    close(fd);
    fail_early(s, sj, END_INPUT, 0, why);
    return -1;
}

/* Returns 0 when the job went to the worker, -1 when it already ended. */
static int
start_job(struct slot *s, struct slot_job *sj)
{
    char why[PATH_MAX + 64];
    int fd, err = 0;

    sj->started_ms = queue_now_ms();
    errlog_reset_tail(&s->errlog);
    if ((fd = open_input(s, sj)) == -1)
        return -1;
    /* The directory itself is opened with the first frame (persist.c). */
    if (sj->job.output_dir[0] != '/')
        err = EINVAL;
    else if (!confine_names_root(&d.output_roots, sj->job.output_dir))
        err = EXDEV;
    else if ((sj->persist = persist_new(
                  d.loop, &d.output_roots, sj->job.output_dir,
                  d.cfg->sync_output != SYNC_OUTPUT_NO,
                  d.cfg->sync_output == SYNC_OUTPUT_YES &&
                      syncgroup_is_wanted())) == NULL)
        err = errno;
    if (err != 0) {
        snprintf(why, sizeof(why), "output_dir %s: %s", sj->job.output_dir,
                 err == EXDEV    ? "outside output_roots"
                 : err == EINVAL ? "not an absolute path"
                                 : strerror(err));
        close(fd);
        fail_early(s, sj, END_OUTPUT, err, why);
        return -1;
    }
    sj->input_fd = fd;
    pool_take_job(s, sj);
    return 0;
}

static void
free_unsent(void *arg, int err, const char *why)
{
    (void)err;
    (void)why;
    free(arg);
}

/*
 * After the turn's commit: a slot's claimed job goes to its worker, or,
 * when the commit failed (the claim never happened), back to the queue.
 */
static void
send_claimed(struct slot *s, int is_committed)
{
    struct slot_job *sj = s->sj;
    int fd = sj->input_fd;

    sj->input_fd = -1;
    if (is_committed) {
        log_debug("job=%lld worker=%d attempt=%d start %s",
                  (long long)sj->job.id, s->pid, sj->job.attempts,
                  sj->job.input);
        /* On failure the slot is being killed; its exit ends the attempt. */
        if (pool_send_job(s, fd) == 0)
            sj->sent_fd = fd; /* the worker holds its own copy too */
        else
            close(fd);
        return;
    }
    close(fd);
    sj = pool_untake_job(s);
    /* Nothing was written: the persist completes (and frees) at once. */
    persist_finish(sj->persist, 0, free_unsent, sj);
}

static void
announce_ready(void)
{
    struct pool *p = d.pool;

    if (p->has_announced_ready ||
        pool_count(p, SLOT_IDLE) + pool_count(p, SLOT_BUSY) < p->set.size)
        return;
    p->has_announced_ready = 1;
    log_info("ready workers=%d db=%s", p->set.size, d.cfg->db_path);
    notify_send("READY=1\nSTATUS=pool ready");
}

/*
 * Returns 1 when the slot got a job, 0 when none is runnable (or the disk
 * is behind), -1 error.  A worker takes its next job while its last ones'
 * frames sync, but at most SYNC_AHEAD jobs ahead per slot: when decoding
 * outruns the disk (a slow or network output file system), ended jobs
 * would otherwise pile up with their frames in memory and a descriptor
 * each, without bound (a no-op worker reached 15,000 of them and EMFILE
 * in 12 s), and at most SYNC_AHEAD_BYTES of frames held in all.  One job
 * ahead cost a third of the no-op rate; sixteen, with eight threads to
 * sync them (main.c), gave 17-22 % over four with four threads (fsyncs
 * of different files overlap in the disk's queue).  Grouped under a
 * shared syncfs (syncgroup.h), a job stays two sync cycles in flight, and
 * sixteen per slot capped no-op jobs at 32 per two cycles: 64 gave
 * 12-27 % more (three paired runs, 3,806-4,342 against 4,762-5,457
 * jobs/s).  on_persisted resumes claiming.
 */
static int
claim_for(struct slot *s)
{
    if (is_disk_behind()) {
        d.is_claim_waiting = 1;
        return 0;
    }
    for (int i = 0; i < CLAIMS_PER_TURN; i++) {
        struct slot_job *sj = calloc(1, sizeof(*sj));
        int rc;

        if (sj == NULL) {
            log_err("out of memory claiming a job");
            return -1;
        }
        sj->input_fd = sj->sent_fd = -1;
        /* Sent at the turn's end, once committed (on_loop_turn_end). */
        if ((rc = queue_claim_next(d.q, s->pid, &sj->job)) != 1) {
            free(sj);
            /* data_version need not move before the queue takes claims. */
            if (rc == -1) {
                d.has_runnable = 1;
                retry_queue_later();
            }
            return rc;
        }
        if (start_job(s, sj) == 0)
            return 1;
    }
    /* Many bad inputs in a row: let the loop breathe, then claim on (the
     * look must not wait for data_version: the rest are ours to take). */
    d.has_runnable = 1;
    dispatch_kick_soon();
    return 0;
}

void
dispatch_slot_idle(struct slot *s)
{
    announce_ready();
    if (d.is_draining || s->state != SLOT_IDLE)
        return;
    /* Nothing runnable now: what changed meanwhile may be due later. */
    if (claim_for(s) == 0 && d.is_change_unseen)
        dispatch_kick_soon();
}

/* Claims for every idle slot until the queue has nothing runnable. */
static void
kick(void)
{
    struct pool *p = d.pool;

    d.is_change_unseen = 0;
    d.seen_data_version = queue_data_version(d.q);
    d.looked_ms = queue_now_ms();
    for (int i = 0; i < p->set.size && !d.is_draining; i++)
        if (p->slots[i].state == SLOT_IDLE && claim_for(&p->slots[i]) != 1)
            break;
}

static void on_wake(uv_timer_t *);

/*
 * Sleeps until the next retry (or job enqueued for later) is due, or
 * WAKE_MAX_MS at most.  d.looked_ms is when kick() last looked for jobs
 * to claim: a job that came due since then is due now and wakes us at once;
 * asked for jobs due after now, it would have been skipped, and waited in
 * RETRY for whatever woke the daemon next (a failure of t_faults, about
 * one run in fifteen).  Each such wake-up kicks, and so moves looked_ms
 * past it: no job wakes us twice.
 */
static void
schedule_wake(void)
{
    int64_t now = queue_now_ms();
    int64_t delay = WAKE_MAX_MS;

    d.retry_due_ms = queue_next_due_ms(d.q, d.looked_ms);
    if (d.retry_due_ms > 0 && d.retry_due_ms - now < delay)
        delay = d.retry_due_ms - now;
    if (delay < 0)
        delay = 0;
    uv_timer_start(&d.wake_timer, on_wake, (uint64_t)delay, 0);
}

/*
 * Claims only when there may be something to claim: another connection
 * committed (data_version moved), a backoff ran out, or we requeued a
 * job ourselves.  An idle daemon's periodic look is two small queries.
 */
static int
kick_if_needed(void)
{
    int is_retry_due =
        d.retry_due_ms > 0 && d.retry_due_ms <= queue_now_ms() + 5;
    int has_kicked = 0;

    if (d.is_draining)
        return 0;
    if (d.has_runnable || is_retry_due ||
        queue_data_version(d.q) != d.seen_data_version) {
        d.has_runnable = 0;
        kick();
        has_kicked = 1;
    }
    schedule_wake();
    return has_kicked;
}

static void
on_wake(uv_timer_t *t)
{
    (void)t;
    (void)kick_if_needed();
}

/* Claims go again now, the refused ends at this turn's end. */
static void
on_queue_retry(uv_timer_t *t)
{
    (void)t;
    d.is_retry_due = 1;
    (void)kick_if_needed();
}

/*
 * inotify reports a writer's WAL frames; its commit comes later, through
 * the -shm mapping, which makes no event, and only once the writer's
 * fsync of the WAL returns.  With the disk busy writing back (the bench's
 * earlier phases) a sqlite3 CLI INSERT took 364 ms, and the bench saw an
 * INSERT wait 2.1 s for the periodic look after a single second look at
 * 110 ms.  Looks 100, 200, 400 and 800 ms apart then left INSERTs that
 * committed in between waiting for the next one: the bench read 110, 203
 * and 310 ms.  So a look that finds nothing new is made again every
 * 10 ms for 400 ms, then at 400 and 800 ms more: 42 data_version reads
 * (microseconds each) per write seen, none when idle.  The first look
 * comes 2 ms after the event: with 10 ms, and looks 25 ms apart after
 * it, an INSERT of 500 jobs waited 9-10 ms for its first claim, 1 % of
 * the benchmark's whole tiny run.
 */
static void
on_kick(uv_timer_t *t)
{
    (void)t;
    if (!kick_if_needed() && d.relooks < RELOOKS) {
        uint64_t delay = d.relooks < RELOOKS_DENSE
                             ? RELOOK_DENSE_MS
                             : 400u << (d.relooks - RELOOKS_DENSE);

        d.relooks++;
        uv_timer_start(&d.kick_timer, on_kick, delay, 0);
        return;
    }
    d.relooks = 0;
}

/*
 * Our own commits write -wal too, and each woke the loop twice more (the
 * event, then the look 2 ms later: six lock calls to read data_version)
 * while every slot was busy and nothing could be claimed anyway.  A slot
 * that goes idle claims straight from the queue; only when that finds
 * nothing does it need the look (schedule_wake: a job inserted meanwhile
 * may be due later).
 */
void
dispatch_db_changed(void)
{
    if (pool_count(d.pool, SLOT_IDLE) == 0) {
        d.is_change_unseen = 1;
        return;
    }
    dispatch_kick_soon();
}

void
dispatch_kick_soon(void)
{
    if (!uv_is_active((uv_handle_t *)&d.kick_timer) || d.relooks > 0) {
        d.relooks = 0;
        uv_timer_start(&d.kick_timer, on_kick, KICK_DEBOUNCE_MS, 0);
    }
}

const char *
dispatch_frame(struct slot_job *sj, const struct msg_frame *m)
{
    if (m->job_id != (uint64_t)sj->job.id)
        return "FRAME for another job";
    if (m->index >= sj->job.frames)
        return "FRAME index out of range";
    if (sj->seen[m->index / 8] & (1u << (m->index % 8)))
        return "FRAME index sent twice";
    sj->seen[m->index / 8] |= (uint8_t)(1u << (m->index % 8));
    sj->frames_received++;
    persist_frame(sj->persist, m->index, m->jpeg, m->jpeg_len);
    return NULL;
}

const char *
dispatch_check_result(const struct slot_job *sj, const struct msg_result *m)
{
    if (m->job_id != (uint64_t)sj->job.id)
        return "RESULT for another job";
    if (m->frames_sent != sj->frames_received)
        return "RESULT frame count differs from the frames sent";
    if (m->code == RESULT_OK && m->frames_sent == 0)
        return "RESULT OK without frames";
    return NULL;
}

void
dispatch_result(struct slot *s, struct slot_job *sj,
                const struct msg_result *m)
{
    struct attempt_end e = {.kind = END_RESULT, .result_code = m->code,
                            .detail = m->error};

    sj->exit_code = -1;
    sj->frames_decoded = (int)m->frames_decoded;
    end_attempt(s, sj, &e);
}

void
dispatch_attempt_end(struct slot *s, struct slot_job *sj,
                     const struct attempt_end *e, int exit_code,
                     int term_signal)
{
    sj->exit_code = term_signal ? -1 : exit_code;
    sj->term_signal = term_signal;
    end_attempt(s, sj, e);
}

void
dispatch_fatal_worker(struct slot *s, const char *why)
{
    log_msg(2, "worker %s (pid %d) speaks another protocol: %s; "
            "stopping", d.pool->set.worker_path, s->pid, why);
    daemon_shutdown(1);
}

void
dispatch_pool_changed(void)
{
    daemon_check_stopped();
}

/*
 * Before the loop blocks: the claims and finishes this turn's callbacks
 * recorded are committed together, and only then do the claimed jobs go
 * to their workers: a claim rolled back after its worker started would
 * run the job twice.  One commit per turn, not one per claim plus one
 * for the finishes after it, halved the queue's WAL writes per job.
 */
static void
on_loop_turn_end(uv_prepare_t *h)
{
    struct slot_job *sj, *next;
    int is_committed, had_work, unsent = 0;

    (void)h;
    if (d.is_retry_due) {
        d.is_retry_due = 0;
        for (sj = ends_take(&d.unrecorded); sj != NULL; sj = next) {
            next = sj->next_end;
            record_end(sj);
        }
    }
    had_work = d.recorded.head != NULL;
    is_committed = queue_flush(d.q) == 0;
    for (sj = ends_take(&d.recorded); sj != NULL; sj = next) {
        next = sj->next_end;
        if (is_committed) {
            announce_end(sj);
        } else {
            ends_push(&d.unrecorded, sj);
        }
    }
    for (int i = 0; i < d.pool->set.size; i++) {
        struct slot *s = &d.pool->slots[i];

        if (s->state == SLOT_BUSY && s->sj != NULL && s->sj->input_fd >= 0) {
            send_claimed(s, is_committed);
            unsent++;
        }
    }
    if (!is_committed) {
        /* Claim again later: data_version did not move. */
        if (unsent > 0)
            d.has_runnable = 1;
        retry_queue_later();
    } else if (had_work || unsent > 0) {
        /* The queue takes transitions again: the refused ones go next. */
        d.retry_ms = QUEUE_RETRY_MIN_MS;
        d.lock_retry_ms = LOCK_RETRY_MIN_MS;
        if (d.unrecorded.head != NULL)
            uv_timer_start(&d.retry_timer, on_queue_retry, 0, 0);
    }
}

int
dispatch_init(struct queue *q, struct pool *p, const struct config *cfg,
              uv_loop_t *loop)
{
    char err[PATH_MAX + 64];

    memset(&d, 0, sizeof(d));
    d.q = q;
    d.pool = p;
    d.cfg = cfg;
    d.loop = loop;
    d.seen_data_version = -1;
    d.retry_due_ms = -1;
    d.retry_ms = QUEUE_RETRY_MIN_MS;
    d.lock_retry_ms = LOCK_RETRY_MIN_MS;
    d.recorded.tail = &d.recorded.head;
    d.max_persisting = max_persisting(p->set.size);
    d.unrecorded.tail = &d.unrecorded.head;
    if (confine_init(&d.input_roots, cfg->input_roots, err, sizeof(err)) ==
            -1 ||
        confine_init(&d.output_roots, cfg->output_roots, err,
                     sizeof(err)) == -1) {
        log_msg(2, "%s", err);
        return -1;
    }
    uv_timer_init(loop, &d.kick_timer);
    uv_timer_init(loop, &d.wake_timer);
    uv_timer_init(loop, &d.retry_timer);
    syncgroup_init(loop, is_pool_busy);
    queue_set_batching(q, 1);
    uv_prepare_init(loop, &d.flush);
    uv_prepare_start(&d.flush, on_loop_turn_end);
    d.looked_ms = queue_now_ms();
    schedule_wake();
    return 0;
}

void
dispatch_drain(void)
{
    d.is_draining = 1;
    uv_timer_stop(&d.kick_timer);
    uv_timer_stop(&d.wake_timer);
}

/*
 * The loop's last turn has run: the ends still waiting for the queue get
 * one more try, with the full busy timeout for the first of them.  Those
 * that fail even so stay RUNNING, and the next start requeues them (not
 * charged).
 */
void
dispatch_fini(void)
{
    struct slot_job *sj, *next;

    on_loop_turn_end(&d.flush);
    queue_set_batching(d.q, 0);
    d.is_closed = 1;
    for (sj = ends_take(&d.unrecorded); sj != NULL; sj = next) {
        next = sj->next_end;
        record_end(sj);
    }
    uv_close((uv_handle_t *)&d.flush, NULL);
    uv_close((uv_handle_t *)&d.kick_timer, NULL);
    uv_close((uv_handle_t *)&d.wake_timer, NULL);
    uv_close((uv_handle_t *)&d.retry_timer, NULL);
    syncgroup_close();
}

void
dispatch_free(void)
{
    /* Only now: frames still syncing at dispatch_fini open beneath them. */
    confine_fini(&d.input_roots);
    confine_fini(&d.output_roots);
    syncgroup_fini();
}
