/*
 * Settings of the supervisor: built-in defaults, an optional key = value
 * file, and command-line flags, which win.  Runs in frameshieldd.
 */
#ifndef FS_CONFIG_H
#define FS_CONFIG_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

/*
 * sync_output: yes makes frames durable through a syncfs shared by the
 * jobs that end together where that is safe (syncgroup.h) and by fsyncs
 * elsewhere; fsync always fsyncs each file and directory; no does
 * neither.
 */
/*
 * Workers run this many nice levels below the daemon (inherited from the
 * zygote): with every core decoding, the loop that hands out the next
 * job, reaps a crash or fires a timeout is otherwise one runnable thread
 * among workers+1, and CFS let it wait milliseconds while both workers
 * sat idle for their next job (bench/, tiny: idle 28-30 % of the run).
 * At 5 its weight is 3x a worker's; it needs a quarter of a core, so
 * workers keep the rest.  Unprivileged: raising a child's nice needs no
 * capability.  0 turns it off.
 */
#define WORKER_NICE_DEFAULT 5

enum { SYNC_OUTPUT_NO, SYNC_OUTPUT_YES, SYNC_OUTPUT_FSYNC };

struct config {
    char db_path[PATH_MAX];
    char worker_path[PATH_MAX];
    char input_roots[PATH_MAX];  /* ':'-separated; "" = anywhere */
    char output_roots[PATH_MAX];
    int max_input_mb;
    char sandbox[16];      /* yes, no or debug */
    char user[64];         /* workers' user when the daemon is root */
    int memory_limit_mb;   /* each worker's address space */
    int max_megapixels;    /* largest frame a worker will decode */
    int has_core_dumps;
    int workers;
    int worker_nice;       /* see config.c */
    int job_timeout_s;
    int max_jobs_per_worker;
    int retry_delay_s;
    int grace_s;
    int is_crash_retryable;
    int sync_output;       /* SYNC_OUTPUT_*: frames durable before DONE */
    uint32_t max_frame_bytes;
    int log_level;
};

void config_defaults(struct config *);

/*
 * Sets one setting by its file name (see the table in config.c).
 * Returns 0, or -1 with a message in err.
 */
int config_set(struct config *, const char *key, const char *value,
               char *err, size_t errlen);

/* Reads a file of "key = value" lines (# comments).  Returns 0 or -1. */
int config_load_file(struct config *, const char *path, char *err,
                     size_t errlen);

/*
 * Applies argv: --config FILE is loaded first, then every flag, so flags
 * win over the file.  Returns 0, 1 after printing usage for --help, or
 * -1 with a message in err.
 */
int config_parse_args(struct config *, int argc, char **argv, char *err,
                      size_t errlen);

#endif
