/*
 * The claim's order against a real SQLite database (a temp file): the
 * highest priority runnable job first, ids in order within a priority;
 * RETRY jobs only once their backoff has passed, or at once when they
 * have none (requeued at start); a RETRY row still backing off, however
 * high its priority, never blocks or is taken.  Batched transitions
 * commit together, and only when flushed; another connection's write
 * lock costs a batch one short wait, not one per transition.  The next
 * due time, which the daemon sleeps until, counts PENDING jobs enqueued
 * for later and a job that came due since the claims looked.  PENDING
 * jobs enqueued for later and RETRY jobs backing off join the priority
 * order once due (by priority among those due at one time), and cost the
 * claim nothing before or after, however many.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "check.h"
#include "job.h"
#include "queue.h"

static void
exec(struct queue *q, const char *sql)
{
    char *msg = NULL;

    if (sqlite3_exec(queue_db(q), sql, NULL, NULL, &msg) != SQLITE_OK) {
        fprintf(stderr, "test_queue: %s: %s\n", sql, msg);
        exit(1);
    }
}

/*
 * Inserts a job whose input names it, so the claim order reads as names.
 * Returns the next_attempt_at it wrote (when has_due).
 */
static int64_t
add(struct queue *q, const char *name, int priority, const char *status,
    long long due_in_ms, int has_due)
{
    char sql[512];
    long long now = (long long)queue_now_ms();

    snprintf(sql, sizeof(sql),
             "INSERT INTO jobs (input, output_dir, priority, status,"
             " next_attempt_at) VALUES ('/%s', '/out', %d, '%s', %s%lld)",
             name, priority, status, has_due ? "" : "NULL + ", now + due_in_ms);
    exec(q, sql);
    return now + due_in_ms;
}

/* RUNNING batch-* jobs as a separate connection sees them. */
static int
running_seen_by_another(const char *path)
{
    sqlite3 *db;
    sqlite3_stmt *s;
    int n = -1;

    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
        return -1;
    if (sqlite3_prepare_v2(db,
                           "SELECT count(*) FROM jobs WHERE status = 'RUNNING'"
                           " AND input LIKE '/batch-%'",
                           -1, &s, NULL) == SQLITE_OK) {
        if (sqlite3_step(s) == SQLITE_ROW)
            n = sqlite3_column_int(s, 0);
        sqlite3_finalize(s);
    }
    sqlite3_close(db);
    return n;
}

static const char *
claim(struct queue *q, struct job *j)
{
    int rc = queue_claim_next(q, 1, j);

    CHECK(rc >= 0);
    return rc == 1 ? j->input + 1 : "(none)";
}

static int
count(struct queue *q, const char *sql)
{
    sqlite3_stmt *s;
    int n = -1;

    if (sqlite3_prepare_v2(queue_db(q), sql, -1, &s, NULL) != SQLITE_OK)
        return -1;
    if (sqlite3_step(s) == SQLITE_ROW)
        n = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    return n;
}

/* SQLite VM instructions a claim ran: its cost, with no clock in it. */
static long vm_steps;

static int
count_step(void *arg)
{
    (void)arg;
    vm_steps++;
    return 0;
}

static long
claim_steps(struct queue *q, struct job *j, const char **got)
{
    vm_steps = 0;
    sqlite3_progress_handler(queue_db(q), 1, count_step, NULL);
    *got = claim(q, j);
    sqlite3_progress_handler(queue_db(q), 0, NULL, NULL);
    return vm_steps;
}

int
main(void)
{
    char path[] = "/tmp/fs-test-queue.XXXXXX", err[256], side[64];
    struct job *j = malloc(sizeof(*j));
    struct queue *q;
    int fd = mkstemp(path);

    if (fd == -1 || j == NULL)
        return 1;
    close(fd);
    if ((q = queue_open(path, err, sizeof(err))) == NULL) {
        fprintf(stderr, "test_queue: %s\n", err);
        return 1;
    }
    add(q, "pending-p0-a", 0, "PENDING", 0, 0);
    add(q, "retry-p9-waiting", 9, "RETRY", 3600000, 1);
    add(q, "pending-p5", 5, "PENDING", 0, 0);
    add(q, "retry-p3-due", 3, "RETRY", -1000, 1);
    add(q, "retry-p1-requeued", 1, "RETRY", 0, 0);
    add(q, "pending-p0-b", 0, "PENDING", 0, 0);
    add(q, "retry-p7-due", 7, "RETRY", -5, 1);
    add(q, "done-p9", 9, "DONE", 0, 0);
    add(q, "pending-p8-later", 8, "PENDING", 3600000, 1);
    const char *want[] = {
        "retry-p7-due", "pending-p5",   "retry-p3-due", "retry-p1-requeued",
        "pending-p0-a", "pending-p0-b", "(none)"};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        const char *got = claim(q, j);
        CHECKF(strcmp(got, want[i]) == 0, "claim %zu: got %s, want %s", i, got,
               want[i]);
    }
    /* Once its backoff has passed, the waiting job is taken. */
    exec(q, "UPDATE jobs SET next_attempt_at = 0 WHERE input = "
            "'/retry-p9-waiting'");
    snprintf(side, sizeof(side), "%s", claim(q, j));
    CHECKF(strcmp(side, "retry-p9-waiting") == 0, "got %s", side);
    CHECK(strcmp(claim(q, j), "(none)") == 0);

    /*
     * Batching: claims share one transaction until queue_flush; a claim
     * that finds nothing rolls back only itself.  Another connection (a
     * caller's sqlite3) sees the batch once flushed, all of it.
     */
    add(q, "batch-a", 0, "PENDING", 0, 0);
    add(q, "batch-b", 0, "PENDING", 0, 0);
    queue_set_batching(q, 1);
    CHECK(strcmp(claim(q, j), "batch-a") == 0);
    CHECK(strcmp(claim(q, j), "batch-b") == 0);
    CHECK(strcmp(claim(q, j), "(none)") == 0);
    CHECK(running_seen_by_another(path) == 0);
    CHECK(queue_flush(q) == 0);
    CHECK(running_seen_by_another(path) == 2);
    CHECK(queue_flush(q) == 0); /* nothing open: a no-op */

    /*
     * Another connection holds the write lock: the batch's claims give up
     * at once (the loop never sleeps in SQLite's busy handler), the queue
     * says it is locked out, and the flush reports the turn as refused.
     * Once the lock is gone the next turn claims.
     */
    add(q, "batch-c", 0, "PENDING", 0, 0);
    sqlite3 *other;
    CHECK(sqlite3_open(path, &other) == SQLITE_OK);
    CHECK(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL) ==
          SQLITE_OK);
    CHECK(!queue_is_locked_out(q));
    int64_t t0 = queue_now_ms();
    CHECK(queue_claim_next(q, 1, j) == -1);
    CHECK(queue_claim_next(q, 1, j) == -1);
    int64_t t1 = queue_now_ms();
    CHECKF(t1 - t0 < 40, "claims waited %lld ms", (long long)(t1 - t0));
    CHECK(queue_is_locked_out(q));
    CHECK(queue_flush(q) == -1);
    CHECK(sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(other);
    CHECK(strcmp(claim(q, j), "batch-c") == 0);
    CHECK(!queue_is_locked_out(q));
    CHECK(queue_flush(q) == 0);
    CHECK(running_seen_by_another(path) == 3);
    queue_set_batching(q, 0);

    /*
     * The wake-up's question: the first job due after a time, RETRY or
     * PENDING enqueued for later.  Left now: pending-p8-later, an hour on.
     * A job that came due after the claims looked (here 20 ms before) is
     * the answer though its time has passed, or the daemon sleeps past it.
     */
    int64_t now = queue_now_ms(), due, at;
    due = queue_next_due_ms(q, now);
    CHECKF(due > now + 3500000, "PENDING later: %lld ms",
           (long long)(due - now));
    at = add(q, "retry-in-1s", 0, "RETRY", 1000, 1);
    due = queue_next_due_ms(q, now);
    CHECKF(due == at, "RETRY soon: %lld, at %lld", (long long)due,
           (long long)at);
    at = add(q, "pending-in-500ms", 0, "PENDING", 500, 1);
    due = queue_next_due_ms(q, now);
    CHECKF(due == at, "PENDING soon: %lld, at %lld", (long long)due,
           (long long)at);
    int64_t looked = queue_now_ms();
    at = add(q, "retry-just-due", 0, "RETRY", 0, 1);
    due = queue_next_due_ms(q, looked - 1);
    CHECKF(due == at, "came due since the look: %lld, at %lld", (long long)due,
           (long long)at);
    due = queue_next_due_ms(q, at);
    CHECKF(due > at, "due at the look: not the answer (%lld ms)",
           (long long)(due - at));
    exec(q, "INSERT INTO jobs (input, output_dir, status, next_attempt_at)"
            " VALUES ('/text-time', '/out', 'PENDING',"
            " datetime('now', '+1 minute'))");
    exec(q, "DELETE FROM jobs WHERE next_attempt_at IS NOT NULL"
            " AND typeof(next_attempt_at) = 'integer'");
    due = queue_next_due_ms(q, now);
    CHECKF(due == -1, "a text time is no time: %lld", (long long)due);
    char real_sql[256];
    long long real_at = (long long)now + 1500;
    snprintf(real_sql, sizeof(real_sql),
             "INSERT INTO jobs (input, output_dir, status, next_attempt_at)"
             " VALUES ('/real-time', '/out', 'PENDING', %lld.5)",
             real_at);
    exec(q, real_sql);
    due = queue_next_due_ms(q, now);
    CHECKF(due == real_at + 1, "a real time counts, at its ceiling: %lld",
           (long long)(due - real_at));
    exec(q, "DELETE FROM jobs WHERE input = '/real-time'");
    CHECK(strcmp(claim(q, j), "(none)") == 0);

    /*
     * PENDING rows enqueued for later join the priority order once due
     * (schema version 4), each claim moving up to 16 of them, earliest
     * first: forty due at priority 7 all go before a plain row at 3,
     * though the first claim moved only 16.  Until then they are out of
     * the claim's way: 2,000 of them at a higher priority than the one
     * runnable row cost its claim nothing (they made it walk past every
     * one of them before).
     */
    exec(q, "DELETE FROM jobs");
    add(q, "plain-p3", 3, "PENDING", 0, 0);
    for (int i = 0; i < 40; i++) {
        char name[32];
        snprintf(name, sizeof(name), "due-p7-%02d", i);
        add(q, name, 7, "PENDING", -1000 + i, 1);
    }
    add(q, "later-p9", 9, "PENDING", 3600000, 1);
    int n_ordered = 0, n_moved = -1;
    for (int i = 0; i < 40; i++) {
        char name[32];
        snprintf(name, sizeof(name), "due-p7-%02d", i);
        n_ordered += strcmp(claim(q, j), name) == 0;
        if (i == 0)
            n_moved = count(q, "SELECT count(*) FROM jobs WHERE status ="
                               " 'PENDING' AND priority = 7"
                               " AND next_attempt_at IS NULL");
    }
    CHECKF(n_ordered == 40, "due rows claimed in order: %d of 40", n_ordered);
    CHECKF(n_moved == 15, "first claim moved 16, took 1: %d left", n_moved);
    snprintf(side, sizeof(side), "%s", claim(q, j));
    CHECKF(strcmp(side, "plain-p3") == 0, "then the plain row: %s", side);
    CHECK(strcmp(claim(q, j), "(none)") == 0);
    CHECK(count(q, "SELECT count(*) FROM jobs WHERE input = '/later-p9'"
                   " AND status = 'PENDING' AND next_attempt_at > 0") == 1);

    /*
     * Due together (failures that ended in one millisecond share their
     * retry time), RETRY rows move in by priority: twenty at 9 go before
     * a plain row at 5, though twenty at 0 were failed first.
     */
    exec(q, "DELETE FROM jobs");
    for (int i = 0; i < 40; i++) {
        char sql_tie[256];
        snprintf(sql_tie, sizeof(sql_tie),
                 "INSERT INTO jobs (input, output_dir, priority, status,"
                 " next_attempt_at) VALUES ('/tie-p%d-%02d', '/out', %d,"
                 " 'RETRY', 1000)",
                 i < 20 ? 0 : 9, i, i < 20 ? 0 : 9);
        exec(q, sql_tie);
    }
    add(q, "plain-p5", 5, "PENDING", 0, 0);
    int n_high = 0;
    for (int i = 0; i < 20; i++)
        n_high += strncmp(claim(q, j), "tie-p9-", 7) == 0;
    CHECKF(n_high == 20, "due at one time: %d of the first 20 at 9", n_high);
    snprintf(side, sizeof(side), "%s", claim(q, j));
    CHECKF(strcmp(side, "plain-p5") == 0, "then the plain row: %s", side);
    snprintf(side, sizeof(side), "%s", claim(q, j));
    CHECKF(strcmp(side, "tie-p0-00") == 0, "then the rest: %s", side);
    exec(q, "DELETE FROM jobs");

    const char *got;
    char got_a[32];
    add(q, "cost-a", 0, "PENDING", 0, 0);
    add(q, "cost-b", 0, "PENDING", 0, 0);
    long steps_alone = claim_steps(q, j, &got);
    snprintf(got_a, sizeof(got_a), "%s", got);
    char sql[512];
    snprintf(sql, sizeof(sql),
             "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c"
             " WHERE i < 2000) INSERT INTO jobs (input, output_dir, priority,"
             " status, next_attempt_at) SELECT '/later-' || i, '/out', 9,"
             " 'PENDING', %lld FROM c",
             (long long)queue_now_ms() + 3600000);
    exec(q, sql);
    long steps_behind = claim_steps(q, j, &got);
    CHECKF(strcmp(got_a, "cost-a") == 0 && strcmp(got, "cost-b") == 0,
           "claims: %s, %s", got_a, got);
    CHECKF(steps_behind < steps_alone + 100,
           "2,000 later rows ahead: %ld VM steps, %ld without", steps_behind,
           steps_alone);

    /*
     * RETRY rows that come due together join the priority order the same
     * way: the claim's cost does not grow with them (version 3 sorted
     * every due one by priority at each claim).  The claim takes the
     * plain row at priority 9 both times; behind 20 due RETRY rows, then
     * behind 2,000.
     */
    long steps_due[2];
    for (int round = 0; round < 2; round++) {
        exec(q, "DELETE FROM jobs");
        snprintf(sql, sizeof(sql),
                 "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1"
                 " FROM c WHERE i < %d) INSERT INTO jobs (input, output_dir,"
                 " status, next_attempt_at) SELECT '/due-' || i, '/out',"
                 " 'RETRY', %lld FROM c",
                 round ? 2000 : 20, (long long)queue_now_ms() - 60000);
        exec(q, sql);
        add(q, "plain-p9", 9, "PENDING", 0, 0);
        steps_due[round] = claim_steps(q, j, &got);
        CHECKF(strcmp(got, "plain-p9") == 0, "claim behind due RETRY: %s", got);
    }
    CHECKF(steps_due[1] < 2 * steps_due[0],
           "behind 2,000 due RETRY rows: %ld VM steps, behind 20: %ld",
           steps_due[1], steps_due[0]);
    CHECK(strcmp(claim(q, j), "due-1") == 0);
    queue_close(q);
    free(j);
    unlink(path);
    for (const char *sfx = "-wal"; sfx;
         sfx = strcmp(sfx, "-wal") ? NULL : "-shm") {
        char p[64];
        snprintf(p, sizeof(p), "%s%s", path, sfx);
        unlink(p);
    }
    return CHECK_DONE();
}
