/*
 * Every SQL statement that changes the queue, in one place; linked into
 * frameshieldd and the frameshield CLI.
 */
#ifndef FS_QUEUE_H
#define FS_QUEUE_H

#include <stddef.h>
#include <stdint.h>

#include "job.h"
#include "outcome.h"

struct queue;

/* How an attempt went, as the attempts table records it. */
struct attempt_report {
    int worker_pid;
    int exit_code;   /* -1 when the worker did not exit */
    int term_signal; /* 0 when none */
    int frames_decoded;
    int frames_written;
    int64_t started_ms;
    int is_interrupted; /* the daemon stopped it: not the job's doing */
    const char *stderr_tail; /* the worker's last log bytes, may be NULL */
};

/*
 * Opens the database, sets WAL, busy timeout and foreign keys, and creates
 * or migrates the schema.  Returns NULL with a message in err on failure.
 */
struct queue *queue_open(const char *path, char *err, size_t errlen);
/*
 * The same for the CLI and other clients, which make a new database but
 * never upgrade an older one: that is the daemon's, at its start.
 */
struct queue *queue_open_client(const char *path, char *err, size_t errlen);
void queue_close(struct queue *);

/*
 * Replaces SQLite's automatic WAL checkpoint: cb(arg, pages) runs after
 * each commit with the pages the WAL holds (see checkpoint.h), and when it
 * returns 1 a passive checkpoint runs then and there.  A NULL cb leaves
 * the WAL to the checkpoint SQLite makes when the last connection closes.
 */
typedef int (*queue_wal_cb)(void *arg, int pages);
void queue_on_wal(struct queue *, queue_wal_cb cb, void *arg);

/* Current time in Unix milliseconds, the unit of every time column. */
int64_t queue_now_ms(void);

/*
 * Claims the next runnable job (PENDING, or RETRY whose backoff passed)
 * for a worker: RUNNING, attempts + 1, an attempts row opened.  Returns 1
 * with *out filled, 0 when nothing is runnable, -1 on a database error.
 */
int queue_claim_next(struct queue *, int worker_pid, struct job *out);

/*
 * Batching (the daemon's event loop): claims and finishes join one write
 * transaction, each in a savepoint of its own, until queue_flush commits
 * them together.  queue_flush returns 0, or -1 when the commit failed
 * (the batch is rolled back: its claims never happened, its jobs keep
 * their previous state) or when another connection's write lock kept
 * the batch from beginning (each transition then failed at once: the
 * loop never waits for the lock).  queue_close flushes.
 */
void queue_set_batching(struct queue *, int is_on);
int queue_flush(struct queue *);
/* Whether the last try to begin a batch found the write lock taken. */
int queue_is_locked_out(const struct queue *);

/*
 * Ends the attempt job->attempts with outcome o.  The jobs update is
 * fenced by (id, attempts, RUNNING): a stale result changes nothing and
 * sets *is_stale.  Returns 0, or -1 on a database error.
 */
int queue_finish(struct queue *, const struct job *, const struct outcome *,
                 const struct attempt_report *, int *is_stale);

/*
 * Returns jobs left RUNNING by a dead predecessor to RETRY, closing their
 * open attempts as INTERRUPTED.  Returns how many, or -1.
 */
int queue_requeue_running(struct queue *);

/*
 * Earliest next_attempt_at after after_ms of a RETRY job or of a PENDING
 * one enqueued for later, or -1 when none waits.
 */
int64_t queue_next_due_ms(struct queue *, int64_t after_ms);

/* Job counts indexed by enum job_status.  Returns 0 or -1. */
int queue_counts(struct queue *, int64_t counts[5]);

/* Changes when another connection commits (PRAGMA data_version). */
int64_t queue_data_version(struct queue *);

/* Operator actions of the CLI.  Each returns rows changed, or -1. */
int64_t queue_enqueue(struct queue *, const char *input, const char *outdir,
                      int frames, const char *mode, int quality,
                      int priority, int max_attempts);
int queue_retry_job(struct queue *, int64_t id);
int queue_retry_failed(struct queue *);
int queue_cancel(struct queue *, int64_t id);

/* The raw handle, for the CLI's read-only reports. */
struct sqlite3 *queue_db(struct queue *);
const char *queue_errmsg(struct queue *);

const char *job_status_str(enum job_status);
int job_status_parse(const char *, enum job_status *);

#endif
