/*
 * Unit test of daemon/config.c: defaults, the config file, flags winning
 * over the file, and rejected values.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "config.h"

static int
parse(struct config *c, char **argv)
{
    char err[512];
    int argc = 0;

    while (argv[argc] != NULL)
        argc++;
    return config_parse_args(c, argc, argv, err, sizeof(err));
}

int
main(void)
{
    char path[] = "/tmp/fs-test-config-XXXXXX";
    struct config c;
    char err[512];
    FILE *f;
    int fd;

    config_defaults(&c);
    CHECK(c.workers >= 1 && c.job_timeout_s == 300 && c.is_crash_retryable);
    CHECK(strstr(c.worker_path, "frameshield-worker") != NULL);

    CHECK(config_set(&c, "workers", "4", err, sizeof(err)) == 0);
    CHECK(c.workers == 4);
    CHECK(config_set(&c, "workers", "0", err, sizeof(err)) == -1);
    CHECK(config_set(&c, "workers", "4x", err, sizeof(err)) == -1);
    CHECK(config_set(&c, "nosuch", "1", err, sizeof(err)) == -1);
    CHECK(strstr(err, "nosuch") != NULL);
    CHECK(config_set(&c, "crash_retry", "no", err, sizeof(err)) == 0);
    CHECK(!c.is_crash_retryable);
    CHECK(config_set(&c, "crash_retry", "maybe", err, sizeof(err)) == -1);

    if ((fd = mkstemp(path)) == -1 || (f = fdopen(fd, "w")) == NULL)
        return 1;
    fprintf(f, "# comment\n\n db = /tmp/q.db \njob_timeout = 9\n"
               "workers=3\n");
    fclose(f);
    config_defaults(&c);
    CHECK(parse(&c, (char *[]){"d", "--workers", "7", "--config", path,
                               NULL}) == 0);
    CHECK(strcmp(c.db_path, "/tmp/q.db") == 0);
    CHECK(c.job_timeout_s == 9);
    CHECK(c.workers == 7); /* the flag wins, wherever it stands */

    f = fopen(path, "w");
    fprintf(f, "workers 3\n");
    fclose(f);
    config_defaults(&c);
    CHECK(config_load_file(&c, path, err, sizeof(err)) == -1);
    CHECK(strstr(err, ":1:") != NULL);
    unlink(path);

    config_defaults(&c);
    CHECK(parse(&c, (char *[]){"d", "--no-crash-retry", "-v", NULL}) == 0);
    CHECK(!c.is_crash_retryable && c.log_level == 7);
    CHECK(parse(&c, (char *[]){"d", "--bogus", NULL}) == -1);
    CHECK(parse(&c, (char *[]){"d", "--workers", NULL}) == -1);
    CHECK(parse(&c, (char *[]){"d", "--config", "/nonexistent/x", NULL}) ==
          -1);
    return CHECK_DONE();
}
