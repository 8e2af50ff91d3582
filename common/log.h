/*
 * One-line log records on stderr with sd-daemon priority prefixes, for
 * journald; used by every binary.
 */
#ifndef FS_LOG_H
#define FS_LOG_H

#include <stdnoreturn.h>

#define LOG_P_ERR 3
#define LOG_P_WARNING 4
#define LOG_P_NOTICE 5
#define LOG_P_INFO 6
#define LOG_P_DEBUG 7

/* Records above this priority number are dropped (default: info). */
void log_set_level(int);
void log_msg(int prio, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
#define log_err(...) log_msg(LOG_P_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_P_WARNING, __VA_ARGS__)
#define log_notice(...) log_msg(LOG_P_NOTICE, __VA_ARGS__)
#define log_info(...) log_msg(LOG_P_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_P_DEBUG, __VA_ARGS__)

/* Logs at <2> with ": strerror(errno)" appended, then exits 1. */
noreturn void fatal(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
/* Logs at <2> and exits 1. */
noreturn void fatalx(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

#endif
