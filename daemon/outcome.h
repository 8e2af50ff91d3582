/*
 * Retry policy: how an attempt's end becomes DONE, RETRY or FAILED.  Pure
 * functions, run in frameshieldd and unit-tested on their own.
 */
#ifndef FS_OUTCOME_H
#define FS_OUTCOME_H

#include <stddef.h>
#include <stdint.h>

#include "job.h"

enum end_kind {
    END_RESULT,   /* the worker reported a result */
    END_SIGNAL,   /* the worker died by a signal mid-job */
    END_EXIT,     /* the worker exited mid-job without a result */
    END_TIMEOUT,  /* we killed the worker: the job ran too long */
    END_PROTOCOL, /* we killed the worker: it broke the protocol */
    END_INPUT,    /* the supervisor could not open the input */
    END_OUTPUT,   /* the supervisor could not write the frames */
    END_INTERRUPTED, /* the daemon stopped the attempt: not the job's doing */
};

struct attempt_end {
    enum end_kind kind;
    int result_code; /* END_RESULT: enum result_code */
    int exit_code;   /* END_EXIT */
    int term_signal; /* END_SIGNAL */
    int timeout_s;   /* END_TIMEOUT */
    int sys_errno;   /* END_INPUT, END_OUTPUT: decides transient or not */
    const char *detail;
};

struct outcome {
    enum job_status status; /* JOB_DONE, JOB_RETRY or JOB_FAILED */
    int last_signal;        /* 0 when no signal was involved */
    int64_t delay_s;        /* JOB_RETRY: backoff before the next claim */
    char error[512];        /* empty for JOB_DONE */
};

struct retry_policy {
    int retry_delay_s;
    int is_crash_retryable;
};

/*
 * Classifies the end of attempt number `attempts` (1-based) of a job that
 * may be tried max_attempts times.  Never fails.
 */
void outcome_classify(const struct attempt_end *, int attempts,
                      int max_attempts, const struct retry_policy *,
                      struct outcome *);

/* base_s * attempts^2, capped at one day. */
int64_t outcome_backoff_s(int base_s, int attempts);

/* Whether an errno from open/write may go away on its own (EIO, ENOSPC). */
int outcome_errno_is_transient(int);

/* "SIGSEGV" for 11; "SIG<n>" for numbers without a name. */
const char *outcome_signal_name(int sig, char *buf, size_t len);

#endif
