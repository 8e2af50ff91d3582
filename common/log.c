/*
 * stderr logging with syslog priorities; errno is preserved across calls.
 */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int max_prio = LOG_P_INFO;

void
log_set_level(int prio)
{
    max_prio = prio;
}

static void
vlog(int prio, const char *fmt, va_list ap, const char *suffix)
{
    char line[1024];
    int saved = errno;

    if (prio > max_prio)
        return;
    vsnprintf(line, sizeof(line), fmt, ap);
    /* One record per line: a newline inside would forge a second one. */
    for (char *p = line; *p != '\0'; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    fprintf(stderr, "<%d>%s%s%s\n", prio, line, suffix ? ": " : "",
            suffix ? suffix : "");
    errno = saved;
}

void
log_msg(int prio, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vlog(prio, fmt, ap, NULL);
    va_end(ap);
}

void
fatal(const char *fmt, ...)
{
    va_list ap;
    const char *why = strerror(errno);

    va_start(ap, fmt);
    vlog(2, fmt, ap, why);
    va_end(ap);
    exit(1);
}

void
fatalx(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vlog(2, fmt, ap, NULL);
    va_end(ap);
    exit(1);
}
