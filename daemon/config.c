/*
 * Defaults, config file and flags of frameshieldd, all through one table
 * so a flag and its file key can never drift apart.
 */
#include "config.h"

#include <ctype.h>
#include <stddef.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "proto.h"

enum kind { K_INT, K_BOOL, K_PATH, K_WORD };

struct setting {
    const char *key;  /* in the config file */
    const char *flag; /* on the command line */
    enum kind kind;
    size_t offset;
    long min, max;
    const char *help;
};

#define OFF(f) offsetof(struct config, f)
static const struct setting settings[] = {
    {"db", "--db", K_PATH, OFF(db_path), 0, 0, "queue database"},
    {"worker", "--worker", K_PATH, OFF(worker_path), 0, 0,
     "worker executable"},
    {"input_roots", "--input-roots", K_PATH, OFF(input_roots), 0, 0,
     "':'-separated directories inputs must resolve beneath"},
    {"output_roots", "--output-roots", K_PATH, OFF(output_roots), 0, 0,
     "':'-separated directories outputs must resolve beneath"},
    {"max_input_mb", "--max-input-mb", K_INT, OFF(max_input_mb), 1,
     INT32_MAX, "largest input file in MiB"},
    {"sandbox", "--sandbox", K_WORD, OFF(sandbox), 0, 16,
     "worker sandbox: yes, no, or debug (report forbidden calls)"},
    {"user", "--user", K_WORD, OFF(user), 0, 64,
     "user the workers run as when the daemon is root"},
    {"memory_limit_mb", "--memory-limit-mb", K_INT, OFF(memory_limit_mb),
     16, 1 << 20, "each worker's address-space limit in MiB"},
    {"max_megapixels", "--max-megapixels", K_INT, OFF(max_megapixels), 1,
     10000, "largest frame a worker decodes, in megapixels"},
    {"core_dumps", "--core-dumps", K_BOOL, OFF(has_core_dumps), 0, 1,
     "let crashing workers dump core (yes|no)"},
    {"workers", "--workers", K_INT, OFF(workers), 1, 256,
     "pool size (default: CPUs)"},
    {"worker_nice", "--worker-nice", K_INT, OFF(worker_nice), 0, 19,
     "added to the daemon's nice for the workers (0 = the same)"},
    {"job_timeout", "--job-timeout", K_INT, OFF(job_timeout_s), 1, 86400,
     "seconds before a job's worker is killed"},
    {"max_jobs", "--max-jobs", K_INT, OFF(max_jobs_per_worker), 1,
     10000000, "jobs before a worker is recycled"},
    {"retry_delay", "--retry-delay", K_INT, OFF(retry_delay_s), 0, 86400,
     "backoff base: delay = base * attempts^2 s"},
    {"grace", "--grace", K_INT, OFF(grace_s), 0, 3600,
     "seconds running jobs get to finish on SIGTERM"},
    {"crash_retry", "--crash-retry", K_BOOL, OFF(is_crash_retryable), 0, 1,
     "retry jobs whose worker crashed (yes|no)"},
    {"sync_output", "--sync-output", K_BOOL, OFF(sync_output), 0, 1,
     "frames on disk before DONE (yes|fsync|no; fsync: one per file, "
     "never a shared syncfs)"},
    {"max_frame_bytes", "--max-frame-bytes", K_INT, OFF(max_frame_bytes),
     1024, 256 << 20, "largest JPEG a worker may send"},
    {"log_level", "--log-level", K_INT, OFF(log_level), 0, 7,
     "highest syslog priority logged (7 = debug)"},
};
#define NSETTINGS (sizeof(settings) / sizeof(settings[0]))

/*
 * The worker sits beside the daemon in a build tree and under
 * libexec/frameshield when installed; find it without a setting.
 */
static void
default_worker(char *out, size_t len)
{
    char exe[PATH_MAX - 64]; /* room for the suffixes below */
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    char *slash;

    snprintf(out, len, "frameshield-worker");
    if (n <= 0)
        return;
    exe[n] = '\0';
    if ((slash = strrchr(exe, '/')) == NULL)
        return;
    *slash = '\0';
    snprintf(out, len, "%s/frameshield-worker", exe);
    if (access(out, X_OK) == 0)
        return;
    snprintf(out, len, "%s/../libexec/frameshield/frameshield-worker", exe);
}

void
config_defaults(struct config *c)
{
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

    memset(c, 0, sizeof(*c));
    snprintf(c->db_path, sizeof(c->db_path),
             "/var/lib/frameshield/frameshield.db");
    default_worker(c->worker_path, sizeof(c->worker_path));
    c->workers = ncpu > 0 ? (int)ncpu : 1;
    c->worker_nice = WORKER_NICE_DEFAULT;
    c->job_timeout_s = 300;
    c->max_jobs_per_worker = 1000;
    c->retry_delay_s = 10;
    c->grace_s = 30;
    c->is_crash_retryable = 1;
    c->sync_output = SYNC_OUTPUT_YES;
    c->max_frame_bytes = PROTO_FRAME_MAX_DEFAULT;
    c->log_level = LOG_P_INFO;
    c->max_input_mb = 16384;
    snprintf(c->sandbox, sizeof(c->sandbox), "yes");
    snprintf(c->user, sizeof(c->user), "nobody");
    c->memory_limit_mb = 1024;
    c->max_megapixels = 64;
}

static int
set_value(struct config *c, const struct setting *s, const char *value,
          char *err, size_t errlen)
{
    char *base = (char *)c + s->offset;
    char *end;
    long v;

    switch (s->kind) {
    case K_PATH:
        if (strlen(value) >= PATH_MAX ||
            (value[0] == '\0' && s->offset != OFF(input_roots) &&
             s->offset != OFF(output_roots))) {
            snprintf(err, errlen, "%s: bad path", s->key);
            return -1;
        }
        snprintf(base, PATH_MAX, "%s", value);
        return 0;
    case K_WORD: /* max is the buffer size */
        if (value[0] == '\0' || strlen(value) >= (size_t)s->max ||
            strpbrk(value, " \t/:") != NULL) {
            snprintf(err, errlen, "%s: bad value '%s'", s->key, value);
            return -1;
        }
        snprintf(base, (size_t)s->max, "%s", value);
        return 0;
    case K_BOOL:
        if (!strcmp(value, "yes") || !strcmp(value, "true") ||
            !strcmp(value, "1"))
            *(int *)base = 1;
        else if (!strcmp(value, "no") || !strcmp(value, "false") ||
                 !strcmp(value, "0"))
            *(int *)base = 0;
        else {
            snprintf(err, errlen, "%s: expected yes or no, got '%s'",
                     s->key, value);
            return -1;
        }
        return 0;
    case K_INT:
        errno = 0;
        v = strtol(value, &end, 10);
        if (errno != 0 || end == value || *end != '\0' || v < s->min ||
            v > s->max) {
            snprintf(err, errlen, "%s: expected an integer in %ld..%ld, "
                     "got '%s'", s->key, s->min, s->max, value);
            return -1;
        }
        if (s->offset == OFF(max_frame_bytes))
            *(uint32_t *)base = (uint32_t)v;
        else
            *(int *)base = (int)v;
        return 0;
    }
    return -1;
}

int
config_set(struct config *c, const char *key, const char *value, char *err,
           size_t errlen)
{
    if (!strcmp(key, "sandbox") && strcmp(value, "yes") &&
        strcmp(value, "no") && strcmp(value, "debug")) {
        snprintf(err, errlen, "sandbox: expected yes, no or debug");
        return -1;
    }
    /* A yes/no setting with a third value. */
    if (!strcmp(key, "sync_output") && !strcmp(value, "fsync")) {
        c->sync_output = SYNC_OUTPUT_FSYNC;
        return 0;
    }
    for (size_t i = 0; i < NSETTINGS; i++)
        if (!strcmp(settings[i].key, key))
            return set_value(c, &settings[i], value, err, errlen);
    snprintf(err, errlen, "unknown setting '%s'", key);
    return -1;
}

static char *
trim(char *s)
{
    char *e;

    while (isspace((unsigned char)*s))
        s++;
    e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

int
config_load_file(struct config *c, const char *path, char *err,
                 size_t errlen)
{
    char line[PATH_MAX + 64], sub[256];
    FILE *f;
    int lineno = 0, rc = 0;

    if ((f = fopen(path, "re")) == NULL) {
        snprintf(err, errlen, "open %s: %s", path, strerror(errno));
        return -1;
    }
    while (rc == 0 && fgets(line, sizeof(line), f) != NULL) {
        char *eq, *key;

        lineno++;
        key = trim(line);
        if (*key == '\0' || *key == '#')
            continue;
        if ((eq = strchr(key, '=')) == NULL) {
            snprintf(err, errlen, "%s:%d: expected key = value", path,
                     lineno);
            rc = -1;
            break;
        }
        *eq = '\0';
        if (config_set(c, trim(key), trim(eq + 1), sub, sizeof(sub)) == -1) {
            snprintf(err, errlen, "%s:%d: %s", path, lineno, sub);
            rc = -1;
        }
    }
    fclose(f);
    return rc;
}

static void
usage(void)
{
    printf("usage: frameshieldd [--config FILE] [flags]\n");
    for (size_t i = 0; i < NSETTINGS; i++)
        printf("  %-18s %s (file key: %s)\n", settings[i].flag,
               settings[i].help, settings[i].key);
    printf("  %-18s same as --crash-retry no\n", "--no-crash-retry");
    printf("  %-18s same as --log-level 7\n", "-v");
}

static const struct setting *
find_flag(const char *flag)
{
    for (size_t i = 0; i < NSETTINGS; i++)
        if (!strcmp(settings[i].flag, flag))
            return &settings[i];
    return NULL;
}

int
config_parse_args(struct config *c, int argc, char **argv, char *err,
                  size_t errlen)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--config")) {
            if (i + 1 >= argc) {
                snprintf(err, errlen, "--config needs a value");
                return -1;
            }
            if (config_load_file(c, argv[i + 1], err, errlen) == -1)
                return -1;
        }
    for (int i = 1; i < argc; i++) {
        const struct setting *s;

        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage();
            return 1;
        }
        if (!strcmp(argv[i], "--no-crash-retry")) {
            c->is_crash_retryable = 0;
            continue;
        }
        if (!strcmp(argv[i], "-v")) {
            c->log_level = LOG_P_DEBUG;
            continue;
        }
        if (!strcmp(argv[i], "--config")) {
            i++;
            continue;
        }
        if ((s = find_flag(argv[i])) == NULL) {
            snprintf(err, errlen, "unknown flag '%s' (try --help)",
                     argv[i]);
            return -1;
        }
        if (i + 1 >= argc) {
            snprintf(err, errlen, "%s needs a value", argv[i]);
            return -1;
        }
        if (config_set(c, s->key, argv[++i], err, errlen) == -1)
            return -1;
    }
    return 0;
}
