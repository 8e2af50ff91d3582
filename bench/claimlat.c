/*
 * Claim latency of the daemon's own queue code: links build/daemon/queue.o
 * (the S_CLAIM statement inside BEGIN IMMEDIATE, the attempts row, COMMIT,
 * with the daemon's pragmas) and times queue_claim_next() N times on a
 * database the caller prepared.  One claim before the clock starts
 * prepares the statements, as a running daemon already has.  WAL
 * checkpoints run between claims, off the clock, once the WAL holds 1,000
 * pages: the daemon runs them in its threadpool (checkpoint.c), not in
 * the commit, where SQLite's own would land (its loop only copies the
 * few pages written meanwhile, inside a commit, which this leaves out).
 *
 * usage: claimlat DB N  ->  "claims=N p50_ms=X p99_ms=X max_ms=X empty=N"
 */
#include "queue.h"

#include <sqlite3.h>

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int is_checkpoint_due;

static int
on_wal(void *arg, int pages)
{
    (void)arg;
    if (pages >= 1000)
        is_checkpoint_due = 1;
    return 0;
}

static int
cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

int
main(int argc, char **argv)
{
    char err[256];
    struct queue *q;
    struct job *job = malloc(sizeof(*job));
    int n, empty = 0;
    double *lat;

    if (argc != 3 || (n = atoi(argv[2])) < 1 || job == NULL) {
        fprintf(stderr, "usage: claimlat DB N\n");
        return 64;
    }
    if ((lat = calloc((size_t)n, sizeof(*lat))) == NULL)
        return 1;
    if ((q = queue_open(argv[1], err, sizeof(err))) == NULL) {
        fprintf(stderr, "claimlat: %s\n", err);
        return 1;
    }
    queue_on_wal(q, on_wal, NULL);
    if (queue_claim_next(q, 4242, job) < 0)
        return 1;
    for (int i = 0; i < n; i++) {
        double t0 = now_ms();
        int rc = queue_claim_next(q, 4242, job);

        lat[i] = now_ms() - t0;
        if (rc < 0)
            return 1;
        empty += rc == 0;
        if (is_checkpoint_due) {
            is_checkpoint_due = 0;
            (void)sqlite3_wal_checkpoint_v2(
                queue_db(q), NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        }
    }
    qsort(lat, (size_t)n, sizeof(*lat), cmp);
    printf("claims=%d p50_ms=%.3f p99_ms=%.3f max_ms=%.3f empty=%d\n", n,
           lat[n / 2], lat[(int)(n * 0.99)], lat[n - 1], empty);
    queue_close(q);
    free(lat);
    free(job);
    return 0;
}
