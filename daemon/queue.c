/*
 * The SQLite job queue: schema set-up and every state transition, each a
 * short transaction so that sqlite3 CLI users are never locked out.
 * Linked into frameshieldd and the frameshield CLI.
 */
#include "queue.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "proto.h"
#include "schema.h"

#define SCHEMA_VERSION 4
#define BUSY_TIMEOUT_MS 5000
/*
 * Batching, the connection serves the event loop: a wait for another
 * connection's write lock stalls every worker's channel, deadline and
 * respawn, so it never waits (SQLite's busy handler slept 1, 2, 5, 10,
 * 15, 20 ms on the loop while a sqlite3 CLI INSERT of 500 jobs held the
 * lock, and woke up to 20 ms after it was gone: strace of the bench); a
 * turn that found the lock taken does not try again, and dispatch.c
 * retries within milliseconds.  A lock-out is logged once it has lasted
 * LOCK_WARN_MS: a client's INSERT is one of a few milliseconds.
 */
#define LOCK_WARN_MS 100

enum stmt_id {
    S_BEGIN,
    S_COMMIT,
    S_ROLLBACK,
    S_SAVEPOINT,
    S_RELEASE,
    S_ROLLBACK_TO,
    S_PROMOTE_PENDING,
    S_PROMOTE_RETRY,
    S_CLAIM,
    S_ATTEMPT_OPEN,
    S_FINISH_JOB,
    S_FINISH_ATTEMPT,
    S_NEXT_DUE,
    S_COUNT
};

#define PROMOTE_DUE(status, waiting_index)                                     \
    "UPDATE jobs SET next_attempt_at = NULL WHERE id IN ("                     \
    " SELECT id FROM jobs INDEXED BY " waiting_index                           \
    "  WHERE status = '" status "' AND next_attempt_at IS NOT NULL"            \
    "  AND next_attempt_at <= ?1"                                              \
    "  ORDER BY next_attempt_at, priority DESC, id LIMIT 16)"

static const char *const stmt_sql[S_COUNT] = {
    [S_BEGIN] = "BEGIN IMMEDIATE",
    [S_COMMIT] = "COMMIT",
    [S_ROLLBACK] = "ROLLBACK",
    [S_SAVEPOINT] = "SAVEPOINT op",
    [S_RELEASE] = "RELEASE op",
    [S_ROLLBACK_TO] = "ROLLBACK TO op",
    /*
     * Rows that waited (PENDING enqueued for later, RETRY backing off)
     * join the claim's priority order once due (sql/schema.sql, version
     * 4).  A bounded batch keeps the claim's cost flat when a hundred
     * thousand come due at once (claim p50 0.08 ms with 16 a claim, 0.16
     * ms with 64, against 0.04 ms with none due); the rest follow at the
     * next claims, earliest first and, at the same time, by priority
     * (failures that end in one millisecond share their retry time).
     */
    [S_PROMOTE_PENDING] = PROMOTE_DUE("PENDING", "jobs_pending_waiting"),
    [S_PROMOTE_RETRY] = PROMOTE_DUE("RETRY", "jobs_retry_waiting"),
    [S_CLAIM] =
        "UPDATE jobs SET status = 'RUNNING', attempts = attempts + 1,"
        " started_at = ?1, worker_pid = ?2, next_attempt_at = NULL,"
        " finished_at = NULL"
        " WHERE id = (SELECT id FROM ("
        "  SELECT * FROM (SELECT id, priority FROM jobs"
        "   INDEXED BY jobs_pending_now WHERE status = 'PENDING'"
        "   AND next_attempt_at IS NULL"
        "   ORDER BY priority DESC, id LIMIT 1)"
        "  UNION ALL SELECT * FROM (SELECT id, priority FROM jobs"
        "   INDEXED BY jobs_retry_now"
        "   WHERE status = 'RETRY' AND next_attempt_at IS NULL"
        "   ORDER BY priority DESC, id LIMIT 1))"
        "  ORDER BY priority DESC, id LIMIT 1)"
        " RETURNING id, input, output_dir, frames, mode, quality, attempts,"
        " max_attempts",
    [S_ATTEMPT_OPEN] =
        "INSERT OR REPLACE INTO attempts (job_id, attempt, worker_pid,"
        " started_at) VALUES (?1, ?2, ?3, ?4)",
    /* The fence: only the attempt that claimed the job may end it. */
    [S_FINISH_JOB] =
        "UPDATE jobs SET status = ?3, last_error = ?4, last_signal = ?5,"
        " frames_written = ?6, finished_at = ?7, next_attempt_at = ?8,"
        " worker_pid = NULL"
        " WHERE id = ?1 AND attempts = ?2 AND status = 'RUNNING'",
    [S_FINISH_ATTEMPT] =
        "UPDATE attempts SET finished_at = ?3, outcome = ?4, exit_code = ?5,"
        " signal = ?6, error = ?7, frames_decoded = ?8, frames_written = ?9,"
        " ms = ?3 - started_at, stderr = ?10"
        " WHERE job_id = ?1 AND attempt = ?2",
    [S_NEXT_DUE] =
        "SELECT min(t) FROM ("
        " SELECT min(next_attempt_at) AS t FROM jobs"
        "  INDEXED BY jobs_retry_waiting WHERE status = 'RETRY'"
        "  AND next_attempt_at IS NOT NULL AND next_attempt_at > ?1"
        " UNION ALL SELECT min(next_attempt_at) FROM jobs"
        "  INDEXED BY jobs_pending_waiting WHERE status = 'PENDING'"
        "  AND next_attempt_at IS NOT NULL AND next_attempt_at > ?1)",
};

/*
 * The claim names its indexes (see sql/schema.sql): left alone, the
 * planner prefers jobs_status and sorts every runnable row (33 ms a claim
 * with 100k PENDING of a million rows, against 0.3 ms through a partial
 * index).
 */
struct queue {
    sqlite3 *db;
    sqlite3_stmt *stmts[S_COUNT];
    queue_wal_cb wal_cb;
    void *wal_arg;
    int is_batching;   /* transitions share one transaction per flush */
    int is_batch_open; /* that transaction has begun */
    int is_turn_locked_out; /* this batch found the write lock taken */
    int64_t locked_out_since_ms; /* the lock-out being waited out, or 0 */
    int has_warned_lock_out;     /* and it was logged */
    int64_t failing_since_ms;    /* commits fail since (disk full), or 0 */
    unsigned failed_commits;     /* in that stretch */
};

static const char *const status_names[] = {
    [JOB_PENDING] = "PENDING", [JOB_RUNNING] = "RUNNING",
    [JOB_DONE] = "DONE",       [JOB_RETRY] = "RETRY",
    [JOB_FAILED] = "FAILED",
};

const char *
job_status_str(enum job_status s)
{
    return (unsigned)s < 5 ? status_names[s] : "?";
}

int
job_status_parse(const char *s, enum job_status *out)
{
    for (int i = 0; i < 5; i++)
        if (!strcmp(s, status_names[i])) {
            *out = (enum job_status)i;
            return 0;
        }
    return -1;
}

int64_t
queue_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct sqlite3 *
queue_db(struct queue *q)
{
    return q->db;
}

const char *
queue_errmsg(struct queue *q)
{
    return sqlite3_errmsg(q->db);
}

/* Prepared once, reset before every use. */
static sqlite3_stmt *
stmt(struct queue *q, enum stmt_id id)
{
    sqlite3_stmt *s = q->stmts[id];

    if (s == NULL) {
        if (sqlite3_prepare_v3(q->db, stmt_sql[id], -1,
                               SQLITE_PREPARE_PERSISTENT, &s, NULL) != SQLITE_OK) {
            log_err("sqlite prepare: %s", sqlite3_errmsg(q->db));
            return NULL;
        }
        q->stmts[id] = s;
    }
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return s;
}

/* Runs a statement without results; returns 0 or -1. */
static int
run(struct queue *q, enum stmt_id id)
{
    sqlite3_stmt *s = stmt(q, id);

    if (s == NULL || sqlite3_step(s) != SQLITE_DONE) {
        log_err("sqlite %s: %s", stmt_sql[id], sqlite3_errmsg(q->db));
        return -1;
    }
    return 0;
}

static void
rollback(struct queue *q)
{
    if (!sqlite3_get_autocommit(q->db))
        (void)run(q, S_ROLLBACK);
}

/*
 * Begins the batch's transaction.  Another connection's write lock is not
 * an error worth a line per try: one that lasts, and its end, are logged.
 */
static int
begin_batch(struct queue *q)
{
    sqlite3_stmt *s;
    int rc;

    if (q->is_turn_locked_out || (s = stmt(q, S_BEGIN)) == NULL)
        return -1;
    rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc == SQLITE_DONE) {
        if (q->has_warned_lock_out)
            log_notice("queue writable again after %lld ms",
                       (long long)(queue_now_ms() - q->locked_out_since_ms));
        q->locked_out_since_ms = 0;
        q->has_warned_lock_out = 0;
        return 0;
    }
    if (rc != SQLITE_BUSY) {
        log_err("sqlite %s: %s", stmt_sql[S_BEGIN], sqlite3_errmsg(q->db));
        return -1;
    }
    q->is_turn_locked_out = 1;
    if (q->locked_out_since_ms == 0)
        q->locked_out_since_ms = queue_now_ms();
    if (!q->has_warned_lock_out &&
        queue_now_ms() - q->locked_out_since_ms >= LOCK_WARN_MS) {
        q->has_warned_lock_out = 1;
        log_warn("queue busy: another connection holds the write lock; "
                 "claims and job ends wait for it");
    }
    return -1;
}

/*
 * One transition's transaction.  Batching, it is a savepoint inside the
 * flush's transaction: it commits with the others (one WAL append, one
 * lock round for all of a loop turn's transitions) and fails alone.
 */
static int
tx_begin(struct queue *q)
{
    if (!q->is_batching)
        return run(q, S_BEGIN);
    /* SQLite rolls a transaction back by itself on some errors (full). */
    if (q->is_batch_open && sqlite3_get_autocommit(q->db))
        q->is_batch_open = 0;
    if (!q->is_batch_open) {
        if (begin_batch(q) == -1)
            return -1;
        q->is_batch_open = 1;
    }
    return run(q, S_SAVEPOINT);
}

static int
tx_commit(struct queue *q)
{
    return run(q, q->is_batching ? S_RELEASE : S_COMMIT);
}

static void
tx_rollback(struct queue *q)
{
    if (!q->is_batching) {
        rollback(q);
        return;
    }
    if (!sqlite3_get_autocommit(q->db) && run(q, S_ROLLBACK_TO) == 0)
        (void)run(q, S_RELEASE);
}

void
queue_set_batching(struct queue *q, int is_on)
{
    (void)queue_flush(q);
    q->is_batching = is_on;
    sqlite3_busy_timeout(q->db, is_on ? 0 : BUSY_TIMEOUT_MS);
}

/*
 * Commits the batch.  A disk that stays full fails every retry (at most
 * one per QUEUE_RETRY_MAX_MS of dispatch.c): the first failure of a
 * stretch is logged with SQLite's reason, and the first success after it.
 */
static int
commit_batch(struct queue *q)
{
    const char *why = "the transaction was rolled back";
    char msg[256];
    sqlite3_stmt *s;

    /* SQLite rolls back by itself on some errors (SQLITE_FULL). */
    if (sqlite3_get_autocommit(q->db) == 0 && (s = stmt(q, S_COMMIT)) != NULL) {
        int rc = sqlite3_step(s);

        if (rc != SQLITE_DONE) {
            snprintf(msg, sizeof(msg), "%s", sqlite3_errmsg(q->db));
            why = msg;
        }
        sqlite3_reset(s);
        if (rc == SQLITE_DONE) {
            if (q->failing_since_ms != 0)
                log_notice("queue commits again after %lld ms (%u failed)",
                           (long long)(queue_now_ms() - q->failing_since_ms),
                           q->failed_commits);
            q->failing_since_ms = 0;
            return 0;
        }
    }
    if (q->failing_since_ms == 0) {
        q->failing_since_ms = queue_now_ms();
        q->failed_commits = 0;
        log_err("sqlite COMMIT: %s: a batch of transitions was not "
                "committed; its claims are undone and its job ends are "
                "kept to be written again",
                why);
    }
    q->failed_commits++;
    return -1;
}

int
queue_is_locked_out(const struct queue *q)
{
    return q->locked_out_since_ms != 0;
}

int
queue_flush(struct queue *q)
{
    int was_locked_out = q->is_turn_locked_out;

    q->is_turn_locked_out = 0;
    if (!q->is_batch_open)
        return was_locked_out ? -1 : 0;
    q->is_batch_open = 0;
    if (commit_batch(q) == 0)
        return 0;
    rollback(q);
    return -1;
}

static int
exec_sql(sqlite3 *db, const char *sql, char *err, size_t errlen)
{
    char *msg = NULL;

    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        snprintf(err, errlen, "%s", msg ? msg : sqlite3_errmsg(db));
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

static int
user_version(sqlite3 *db)
{
    sqlite3_stmt *s;
    int v = -1;

    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL) ==
        SQLITE_OK) {
        if (sqlite3_step(s) == SQLITE_ROW)
            v = sqlite3_column_int(s, 0);
        sqlite3_finalize(s);
    }
    return v;
}

/*
 * Runs the schema when the database is older (or is_forced: it is
 * idempotent, and puts back an index dropped by hand).  Only the daemon
 * upgrades: version 4 drops an index an older daemon's claim names, so
 * a newer CLI upgrading the queue under a daemon not yet restarted
 * would stop it claiming.  Clients may still make a new database.
 */
static int
migrate(sqlite3 *db, int is_forced, int may_upgrade, char *err, size_t errlen)
{
    int v;

    if (exec_sql(db, "BEGIN IMMEDIATE", err, errlen) == -1)
        return -1;
    v = user_version(db);
    if (v > SCHEMA_VERSION) {
        snprintf(err, errlen, "database schema version %d is newer than "
                 "this frameshield (%d)", v, SCHEMA_VERSION);
        goto fail;
    }
    if (v > 0 && v < SCHEMA_VERSION && !may_upgrade) {
        snprintf(err, errlen,
                 "database schema version %d is older than "
                 "this frameshield (%d): restart frameshieldd, which "
                 "upgrades it",
                 v, SCHEMA_VERSION);
        goto fail;
    }
    if ((v < SCHEMA_VERSION || is_forced) &&
        exec_sql(db, schema_sql, err, errlen) == -1)
        goto fail;
    return exec_sql(db, "COMMIT", err, errlen);
fail:
    (void)exec_sql(db, "ROLLBACK", err + strlen(err), 0);
    return -1;
}

/*
 * Prepares every statement at open: one the database cannot run (an
 * index the claim or the wake-up names, dropped by hand) would otherwise
 * fail at each use, and a failing wake-up leaves retries asleep.  The
 * schema is run once more to put it back; then the start fails.
 */
static int
prepare_all(struct queue *q, char *err, size_t errlen)
{
    for (int pass = 0;; pass++) {
        int id = 0;

        while (id < S_COUNT &&
               (q->stmts[id] != NULL ||
                sqlite3_prepare_v3(q->db, stmt_sql[id], -1,
                                   SQLITE_PREPARE_PERSISTENT, &q->stmts[id],
                                   NULL) == SQLITE_OK))
            id++;
        if (id == S_COUNT)
            return 0;
        snprintf(err, errlen, "sqlite prepare: %s", sqlite3_errmsg(q->db));
        if (pass > 0)
            return -1;
        log_warn("%s; running the schema again", err);
        if (migrate(q->db, 1, 1, err, errlen) == -1)
            return -1;
    }
}

static struct queue *
open_queue(const char *path, int may_upgrade, char *err, size_t errlen)
{
    struct queue *q = calloc(1, sizeof(*q));

    if (q == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (sqlite3_open_v2(path, &q->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                            SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        snprintf(err, errlen, "open %s: %s", path,
                 q->db ? sqlite3_errmsg(q->db) : "out of memory");
        goto fail;
    }
    sqlite3_busy_timeout(q->db, BUSY_TIMEOUT_MS);
    /*
     * WAL lets sqlite3 CLI readers and writers work beside the daemon.
     * synchronous=NORMAL may lose the last transitions on power loss, not
     * on a crash: a lost DONE re-runs an idempotent job.
     */
    if (exec_sql(q->db,
                 "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;"
                 " PRAGMA foreign_keys = ON;",
                 err, errlen) == -1 ||
        migrate(q->db, 0, may_upgrade, err, errlen) == -1 ||
        prepare_all(q, err, errlen) == -1)
        goto fail;
    return q;
fail:
    queue_close(q);
    return NULL;
}

struct queue *
queue_open(const char *path, char *err, size_t errlen)
{
    return open_queue(path, 1, err, errlen);
}

struct queue *
queue_open_client(const char *path, char *err, size_t errlen)
{
    return open_queue(path, 0, err, errlen);
}

static int
on_wal(void *arg, sqlite3 *db, const char *name, int pages)
{
    struct queue *q = arg;

    if (q->wal_cb(q->wal_arg, pages))
        (void)sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE,
                                        NULL, NULL);
    return SQLITE_OK;
}

void
queue_on_wal(struct queue *q, queue_wal_cb cb, void *arg)
{
    q->wal_cb = cb;
    q->wal_arg = arg;
    /* Either way SQLite's automatic checkpoint is off from here on. */
    sqlite3_wal_hook(q->db, cb ? on_wal : NULL, q);
}

void
queue_close(struct queue *q)
{
    if (q == NULL)
        return;
    (void)queue_flush(q);
    for (int i = 0; i < S_COUNT; i++)
        sqlite3_finalize(q->stmts[i]);
    sqlite3_close(q->db);
    free(q);
}

static void
copy_text(char *dst, size_t len, sqlite3_stmt *s, int col)
{
    const unsigned char *t = sqlite3_column_text(s, col);

    snprintf(dst, len, "%s", t ? (const char *)t : "");
}

static void
read_claimed(sqlite3_stmt *s, struct job *j)
{
    const unsigned char *mode;

    j->id = sqlite3_column_int64(s, 0);
    copy_text(j->input, sizeof(j->input), s, 1);
    copy_text(j->output_dir, sizeof(j->output_dir), s, 2);
    j->frames = (uint32_t)sqlite3_column_int(s, 3);
    mode = sqlite3_column_text(s, 4);
    j->mode = mode && !strcmp((const char *)mode, "keyframe")
                  ? MODE_KEYFRAME : MODE_ACCURATE;
    j->quality = (uint8_t)sqlite3_column_int(s, 5);
    j->attempts = sqlite3_column_int(s, 6);
    j->max_attempts = sqlite3_column_int(s, 7);
}

int
queue_claim_next(struct queue *q, int worker_pid, struct job *out)
{
    int64_t now = queue_now_ms();
    sqlite3_stmt *s;
    int rc;

    memset(out, 0, sizeof(*out));
    if (tx_begin(q) == -1)
        return -1;
    for (int id = S_PROMOTE_PENDING; id <= S_PROMOTE_RETRY; id++) {
        if ((s = stmt(q, id)) == NULL)
            goto fail;
        sqlite3_bind_int64(s, 1, now);
        rc = sqlite3_step(s);
        sqlite3_reset(s);
        if (rc != SQLITE_DONE) {
            log_err("sqlite promote due jobs: %s", sqlite3_errmsg(q->db));
            goto fail;
        }
    }
    if ((s = stmt(q, S_CLAIM)) == NULL)
        goto fail;
    sqlite3_bind_int64(s, 1, now);
    sqlite3_bind_int(s, 2, worker_pid);
    rc = sqlite3_step(s);
    if (rc == SQLITE_DONE) {
        sqlite3_reset(s);
        tx_rollback(q);
        return 0;
    }
    if (rc != SQLITE_ROW) {
        log_err("sqlite claim: %s", sqlite3_errmsg(q->db));
        goto fail;
    }
    read_claimed(s, out);
    sqlite3_reset(s);
    if ((s = stmt(q, S_ATTEMPT_OPEN)) == NULL)
        goto fail;
    sqlite3_bind_int64(s, 1, out->id);
    sqlite3_bind_int(s, 2, out->attempts);
    sqlite3_bind_int(s, 3, worker_pid);
    sqlite3_bind_int64(s, 4, now);
    if (sqlite3_step(s) != SQLITE_DONE) {
        log_err("sqlite open attempt: %s", sqlite3_errmsg(q->db));
        goto fail;
    }
    if (tx_commit(q) == -1)
        goto fail;
    return 1;
fail:
    tx_rollback(q);
    return -1;
}

static void
bind_text_or_null(sqlite3_stmt *s, int col, const char *t)
{
    if (t != NULL && *t != '\0')
        sqlite3_bind_text(s, col, t, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(s, col);
}

static void
bind_int_or_null(sqlite3_stmt *s, int col, int v, int is_null)
{
    if (is_null)
        sqlite3_bind_null(s, col);
    else
        sqlite3_bind_int(s, col, v);
}

static int
finish_job_row(struct queue *q, const struct job *j, const struct outcome *o,
               const struct attempt_report *r, int64_t now, int *is_stale)
{
    sqlite3_stmt *s = stmt(q, S_FINISH_JOB);
    int is_terminal = o->status != JOB_RETRY;

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, j->id);
    sqlite3_bind_int(s, 2, j->attempts);
    sqlite3_bind_text(s, 3, job_status_str(o->status), -1, SQLITE_STATIC);
    bind_text_or_null(s, 4, o->error);
    bind_int_or_null(s, 5, o->last_signal, o->last_signal == 0);
    sqlite3_bind_int(s, 6, r->frames_written);
    if (is_terminal)
        sqlite3_bind_int64(s, 7, now);
    else
        sqlite3_bind_null(s, 7);
    if (is_terminal)
        sqlite3_bind_null(s, 8);
    else
        sqlite3_bind_int64(s, 8, now + o->delay_s * 1000);
    if (sqlite3_step(s) != SQLITE_DONE) {
        log_err("sqlite finish job=%lld: %s", (long long)j->id,
                sqlite3_errmsg(q->db));
        return -1;
    }
    *is_stale = sqlite3_changes(q->db) == 0;
    return 0;
}

static int
finish_attempt_row(struct queue *q, const struct job *j,
                   const struct outcome *o, const struct attempt_report *r,
                   int64_t now)
{
    sqlite3_stmt *s = stmt(q, S_FINISH_ATTEMPT);
    const char *outcome = r->is_interrupted ? "INTERRUPTED"
                                            : job_status_str(o->status);

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, j->id);
    sqlite3_bind_int(s, 2, j->attempts);
    sqlite3_bind_int64(s, 3, now);
    sqlite3_bind_text(s, 4, outcome, -1, SQLITE_STATIC);
    bind_int_or_null(s, 5, r->exit_code, r->exit_code < 0);
    bind_int_or_null(s, 6, r->term_signal, r->term_signal == 0);
    bind_text_or_null(s, 7, o->error);
    sqlite3_bind_int(s, 8, r->frames_decoded);
    sqlite3_bind_int(s, 9, r->frames_written);
    bind_text_or_null(s, 10, r->stderr_tail);
    if (sqlite3_step(s) != SQLITE_DONE) {
        log_err("sqlite finish attempt job=%lld: %s", (long long)j->id,
                sqlite3_errmsg(q->db));
        return -1;
    }
    return 0;
}

int
queue_finish(struct queue *q, const struct job *j, const struct outcome *o,
             const struct attempt_report *r, int *is_stale)
{
    int64_t now = queue_now_ms();

    *is_stale = 0;
    if (tx_begin(q) == -1)
        return -1;
    if (finish_job_row(q, j, o, r, now, is_stale) == -1 ||
        finish_attempt_row(q, j, o, r, now) == -1 || tx_commit(q) == -1) {
        tx_rollback(q);
        return -1;
    }
    return 0;
}

int
queue_requeue_running(struct queue *q)
{
    char err[256];
    int n;

    if (exec_sql(q->db, "BEGIN IMMEDIATE", err, sizeof(err)) == -1)
        goto fail;
    if (exec_sql(q->db,
                 "UPDATE attempts SET outcome = 'INTERRUPTED',"
                 " error = 'daemon stopped during the attempt',"
                 " finished_at = CAST((julianday('now') - 2440587.5)"
                 "  * 86400000 AS INTEGER),"
                 " ms = CAST((julianday('now') - 2440587.5)"
                 "  * 86400000 AS INTEGER) - started_at"
                 " WHERE outcome IS NULL",
                 err, sizeof(err)) == -1 ||
        exec_sql(q->db,
                 "UPDATE jobs SET status = 'RETRY', worker_pid = NULL,"
                 " next_attempt_at = NULL,"
                 " last_error = 'daemon stopped during the attempt'"
                 " WHERE status = 'RUNNING'",
                 err, sizeof(err)) == -1)
        goto fail_rollback;
    n = sqlite3_changes(q->db);
    if (exec_sql(q->db, "COMMIT", err, sizeof(err)) == -1)
        goto fail_rollback;
    return n;
fail_rollback:
    rollback(q);
fail:
    log_err("sqlite requeue: %s", err);
    return -1;
}

int64_t
queue_next_due_ms(struct queue *q, int64_t after_ms)
{
    sqlite3_stmt *s = stmt(q, S_NEXT_DUE);
    int64_t t = -1;

    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, after_ms);
    /*
     * Numbers only: a caller's datetime() text sorts after every number,
     * is never due to the claim, and read as 2026 would wake us at once,
     * again and again.  A real time (numbers sort first, so it may be the
     * minimum) is due, to the claim, at its ceiling; read as no time it
     * hid every later row from the wake-up.
     */
    if (sqlite3_step(s) == SQLITE_ROW) {
        if (sqlite3_column_type(s, 0) == SQLITE_INTEGER)
            t = sqlite3_column_int64(s, 0);
        else if (sqlite3_column_type(s, 0) == SQLITE_FLOAT) {
            double d = sqlite3_column_double(s, 0);
            t = (int64_t)d;
            t += (double)t < d;
        }
    }
    sqlite3_reset(s);
    return t;
}

int
queue_counts(struct queue *q, int64_t counts[5])
{
    sqlite3_stmt *s;
    int rc;

    memset(counts, 0, 5 * sizeof(counts[0]));
    if (sqlite3_prepare_v2(q->db,
                           "SELECT status, count(*) FROM jobs GROUP BY status",
                           -1, &s, NULL) != SQLITE_OK)
        return -1;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        enum job_status st;
        const char *name = (const char *)sqlite3_column_text(s, 0);

        if (name != NULL && job_status_parse(name, &st) == 0)
            counts[st] = sqlite3_column_int64(s, 1);
    }
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? 0 : -1;
}

int64_t
queue_data_version(struct queue *q)
{
    sqlite3_stmt *s;
    int64_t v = -1;

    if (sqlite3_prepare_v2(q->db, "PRAGMA data_version", -1, &s, NULL) !=
        SQLITE_OK)
        return -1;
    if (sqlite3_step(s) == SQLITE_ROW)
        v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return v;
}

/* Runs one bound write statement; returns rows changed or -1. */
static int
write1(struct queue *q, const char *sql, int64_t id)
{
    sqlite3_stmt *s;
    int rc;

    if (sqlite3_prepare_v2(q->db, sql, -1, &s, NULL) != SQLITE_OK)
        return -1;
    if (id >= 0)
        sqlite3_bind_int64(s, 1, id);
    rc = sqlite3_step(s);
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? sqlite3_changes(q->db) : -1;
}

int64_t
queue_enqueue(struct queue *q, const char *input, const char *outdir,
              int frames, const char *mode, int quality, int priority,
              int max_attempts)
{
    sqlite3_stmt *s;
    int64_t id = -1;

    if (sqlite3_prepare_v2(q->db,
                           "INSERT INTO jobs (input, output_dir, frames, mode,"
                           " quality, priority, max_attempts)"
                           " VALUES (?, ?, ?, ?, ?, ?, ?)",
                           -1, &s, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(s, 1, input, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, outdir, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 3, frames);
    sqlite3_bind_text(s, 4, mode, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 5, quality);
    sqlite3_bind_int(s, 6, priority);
    sqlite3_bind_int(s, 7, max_attempts);
    if (sqlite3_step(s) == SQLITE_DONE)
        id = sqlite3_last_insert_rowid(q->db);
    sqlite3_finalize(s);
    return id;
}

/*
 * A retried job gets at least one more attempt; its history stays in
 * the attempts table.
 */
#define RETRY_SET                                                            \
    "UPDATE jobs SET status = 'PENDING', next_attempt_at = NULL,"           \
    " max_attempts = max(max_attempts, attempts + 1), finished_at = NULL,"  \
    " last_error = NULL, last_signal = NULL"

int
queue_retry_job(struct queue *q, int64_t id)
{
    return write1(q, RETRY_SET " WHERE id = ? AND status IN ('FAILED', 'RETRY')",
                  id);
}

int
queue_retry_failed(struct queue *q)
{
    return write1(q, RETRY_SET " WHERE status = 'FAILED'", -1);
}

int
queue_cancel(struct queue *q, int64_t id)
{
    return write1(q,
                  "UPDATE jobs SET status = 'FAILED', last_error = 'cancelled',"
                  " next_attempt_at = NULL, finished_at = CAST((julianday("
                  "'now') - 2440587.5) * 86400000 AS INTEGER)"
                  " WHERE id = ? AND status IN ('PENDING', 'RETRY')",
                  id);
}
