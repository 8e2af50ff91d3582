/*
 * frameshield: the operator CLI.  Every change goes through queue.c, the
 * same code the daemon runs; the reports are read-only SELECTs that an
 * operator could equally type into sqlite3.
 */
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "queue.h"

#define DEFAULT_DB "/var/lib/frameshield/frameshield.db"

static void
usage(void)
{
    fprintf(stderr,
            "usage: frameshield [--db PATH] COMMAND\n"
            "  enqueue INPUT OUTPUT_DIR [--frames N] [--mode accurate|keyframe]\n"
            "          [--quality Q] [--priority P] [--max-attempts N]\n"
            "  status                  job counts by status\n"
            "  list [--status S] [--limit N]\n"
            "  show ID                 a job and its attempts\n"
            "  retry ID | --failed     requeue failed jobs\n"
            "  cancel ID               fail a job that has not started\n"
            "The database defaults to $FRAMESHIELD_DB, else %s.\n",
            DEFAULT_DB);
    exit(64);
}

static long
int_arg(const char *s, long min, long max)
{
    char *end;
    long v = strtol(s, &end, 10);

    if (*s == '\0' || *end != '\0' || v < min || v > max)
        fatalx("expected an integer in %ld..%ld, got '%s'", min, max, s);
    return v;
}

/*
 * The daemon runs elsewhere (under systemd, in /): a path relative to the
 * caller's directory would mean something else there.
 */
static void
absolute(const char *path, char *out, size_t len)
{
    char cwd[PATH_MAX];

    if (path[0] == '/' || getcwd(cwd, sizeof(cwd)) == NULL)
        snprintf(out, len, "%s", path);
    else
        snprintf(out, len, "%s/%s", cwd, path);
}

static int
cmd_enqueue(struct queue *q, int argc, char **argv)
{
    int frames = 5, quality = 90, priority = 0, max_attempts = 3;
    const char *mode = "accurate";
    char input[PATH_MAX], outdir[PATH_MAX];
    int64_t id;

    if (argc < 2)
        usage();
    absolute(argv[0], input, sizeof(input));
    absolute(argv[1], outdir, sizeof(outdir));
    for (int i = 2; i < argc; i += 2) {
        if (i + 1 >= argc)
            usage();
        if (!strcmp(argv[i], "--frames"))
            frames = (int)int_arg(argv[i + 1], 1, 1000);
        else if (!strcmp(argv[i], "--mode"))
            mode = argv[i + 1];
        else if (!strcmp(argv[i], "--quality"))
            quality = (int)int_arg(argv[i + 1], 1, 100);
        else if (!strcmp(argv[i], "--priority"))
            priority = (int)int_arg(argv[i + 1], -1000000, 1000000);
        else if (!strcmp(argv[i], "--max-attempts"))
            max_attempts = (int)int_arg(argv[i + 1], 1, 1000);
        else
            usage();
    }
    id = queue_enqueue(q, input, outdir, frames, mode, quality, priority,
                       max_attempts);
    if (id < 0)
        fatalx("enqueue: %s", queue_errmsg(q));
    printf("%lld\n", (long long)id);
    return 0;
}

static int
cmd_status(struct queue *q)
{
    int64_t counts[5];

    if (queue_counts(q, counts) == -1)
        fatalx("status: %s", queue_errmsg(q));
    for (int i = 0; i < 5; i++)
        printf("%-8s %lld\n", job_status_str((enum job_status)i),
               (long long)counts[i]);
    return 0;
}

/* Prints every row of a read-only query as tab-separated columns. */
static int
print_rows(struct queue *q, const char *sql, const char *text, int64_t num,
           int has_header)
{
    sqlite3_stmt *s;
    int rc, n = 0;

    if (sqlite3_prepare_v2(queue_db(q), sql, -1, &s, NULL) != SQLITE_OK)
        fatalx("query: %s", queue_errmsg(q));
    if (text != NULL)
        sqlite3_bind_text(s, 1, text, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, text != NULL ? 2 : 1, num);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        int cols = sqlite3_column_count(s);

        for (int c = 0; has_header && n == 0 && c < cols; c++)
            printf("%s%s", sqlite3_column_name(s, c), c + 1 < cols ? "\t" : "\n");
        for (int c = 0; c < cols; c++) {
            const unsigned char *v = sqlite3_column_text(s, c);
            printf("%s%s", v ? (const char *)v : "",
                   c + 1 < cols ? "\t" : "\n");
        }
        n++;
    }
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE)
        fatalx("query: %s", queue_errmsg(q));
    return n;
}

static int
cmd_list(struct queue *q, int argc, char **argv)
{
    const char *status = NULL;
    long limit = 100;

    for (int i = 0; i < argc; i += 2) {
        if (i + 1 >= argc)
            usage();
        if (!strcmp(argv[i], "--status"))
            status = argv[i + 1];
        else if (!strcmp(argv[i], "--limit"))
            limit = int_arg(argv[i + 1], 1, 100000000);
        else
            usage();
    }
    if (status != NULL)
        print_rows(q, "SELECT id, status, attempts, frames_written, input,"
                   " coalesce(last_error, '') AS last_error FROM jobs"
                   " WHERE status = ?1 ORDER BY id LIMIT ?2", status, limit, 1);
    else
        print_rows(q, "SELECT id, status, attempts, frames_written, input,"
                   " coalesce(last_error, '') AS last_error FROM jobs"
                   " ORDER BY id LIMIT ?1", NULL, limit, 1);
    return 0;
}

static int
cmd_show(struct queue *q, int argc, char **argv)
{
    int64_t id;
    sqlite3_stmt *s;

    if (argc != 1)
        usage();
    id = int_arg(argv[0], 1, LONG_MAX);
    if (sqlite3_prepare_v2(queue_db(q), "SELECT * FROM jobs WHERE id = ?",
                           -1, &s, NULL) != SQLITE_OK)
        fatalx("query: %s", queue_errmsg(q));
    sqlite3_bind_int64(s, 1, id);
    if (sqlite3_step(s) != SQLITE_ROW) {
        sqlite3_finalize(s);
        fprintf(stderr, "no job %lld\n", (long long)id);
        return 1;
    }
    for (int c = 0; c < sqlite3_column_count(s); c++) {
        const unsigned char *v = sqlite3_column_text(s, c);
        printf("%-16s %s\n", sqlite3_column_name(s, c),
               v ? (const char *)v : "");
    }
    sqlite3_finalize(s);
    printf("\nattempts:\n");
    print_rows(q, "SELECT attempt, worker_pid, outcome, exit_code, signal,"
               " frames_decoded, frames_written, ms, error FROM attempts"
               " WHERE job_id = ?1 ORDER BY attempt", NULL, id, 1);
    return 0;
}

static int
report(int changed, const char *what)
{
    if (changed < 0)
        fatalx("%s failed", what);
    printf("%d\n", changed);
    return changed > 0 ? 0 : 1;
}

int
main(int argc, char **argv)
{
    const char *db = getenv("FRAMESHIELD_DB");
    struct queue *q;
    char err[512];
    int i = 1, rc;

    if (db == NULL || *db == '\0')
        db = DEFAULT_DB;
    if (i + 1 < argc && !strcmp(argv[i], "--db")) {
        db = argv[i + 1];
        i += 2;
    }
    if (i >= argc)
        usage();
    if ((q = queue_open_client(db, err, sizeof(err))) == NULL)
        fatalx("%s", err);
    const char *cmd = argv[i++];
    int n = argc - i;
    char **args = argv + i;
    if (!strcmp(cmd, "enqueue"))
        rc = cmd_enqueue(q, n, args);
    else if (!strcmp(cmd, "status") && n == 0)
        rc = cmd_status(q);
    else if (!strcmp(cmd, "list"))
        rc = cmd_list(q, n, args);
    else if (!strcmp(cmd, "show"))
        rc = cmd_show(q, n, args);
    else if (!strcmp(cmd, "retry") && n == 1 && !strcmp(args[0], "--failed"))
        rc = report(queue_retry_failed(q), "retry");
    else if (!strcmp(cmd, "retry") && n == 1)
        rc = report(queue_retry_job(q, int_arg(args[0], 1, LONG_MAX)), "retry");
    else if (!strcmp(cmd, "cancel") && n == 1)
        rc = report(queue_cancel(q, int_arg(args[0], 1, LONG_MAX)), "cancel");
    else
        usage();
    queue_close(q);
    return rc;
}
