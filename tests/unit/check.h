/*
 * Minimal assertion counter for the unit tests: CHECK() reports a failed
 * expression with its file and line and keeps going, CHECK_DONE() prints
 * the totals and yields the exit status.  Header-only, test-only.
 */
#ifndef FS_CHECK_H
#define FS_CHECK_H

#include <stdio.h>

static unsigned long check_count;
static unsigned long check_failed;

#define CHECK(cond)                                                      \
    do {                                                                 \
        check_count++;                                                   \
        if (!(cond)) {                                                   \
            check_failed++;                                              \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__,       \
                    __LINE__, #cond);                                    \
        }                                                                \
    } while (0)

/* Like CHECK, with a printf-style note for loops (which case failed). */
#define CHECKF(cond, ...)                                                \
    do {                                                                 \
        check_count++;                                                   \
        if (!(cond)) {                                                   \
            check_failed++;                                              \
            fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__,       \
                    __LINE__, #cond);                                    \
            fprintf(stderr, __VA_ARGS__);                                \
            fputc('\n', stderr);                                         \
        }                                                                \
    } while (0)

extern char *__progname; /* glibc */

#define CHECK_DONE()                                                     \
    (printf("%s: %lu checks, %lu failed\n", __progname, check_count,     \
            check_failed),                                               \
     check_failed == 0 ? 0 : 1)

#endif
