/*
 * Pure retry policy of frameshieldd: attempt end -> DONE/RETRY/FAILED with
 * the error text an operator reads in last_error.
 */
#define _GNU_SOURCE
#include "outcome.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "proto.h"

int64_t
outcome_backoff_s(int base_s, int attempts)
{
    int64_t a = attempts < 1 ? 1 : attempts;
    int64_t d = (int64_t)base_s * a * a;

    return d > 86400 ? 86400 : d;
}

int
outcome_errno_is_transient(int e)
{
    switch (e) {
    case EIO:
    case ENOSPC:
    case EDQUOT:
    case EMFILE:
    case ENFILE:
    case ENOMEM:
    case EAGAIN:
    case EINTR:
    case EBUSY:
    case ETIMEDOUT:
        return 1;
    default:
        return 0;
    }
}

const char *
outcome_signal_name(int sig, char *buf, size_t len)
{
    const char *abbrev = sig > 0 && sig < NSIG ? sigabbrev_np(sig) : NULL;

    if (abbrev != NULL)
        snprintf(buf, len, "SIG%s", abbrev);
    else
        snprintf(buf, len, "SIG%d", sig);
    return buf;
}

/* A failure that another attempt may cure: retry while attempts remain. */
static void
retry_or_fail(struct outcome *o, int is_retryable, int attempts,
              int max_attempts, int retry_delay_s)
{
    if (is_retryable && attempts < max_attempts) {
        o->status = JOB_RETRY;
        o->delay_s = outcome_backoff_s(retry_delay_s, attempts);
    } else {
        o->status = JOB_FAILED;
    }
}

void
outcome_classify(const struct attempt_end *e, int attempts, int max_attempts,
                 const struct retry_policy *p, struct outcome *o)
{
    const char *detail = e->detail != NULL ? e->detail : "";
    char sig[32];
    int is_retryable = 0;

    memset(o, 0, sizeof(*o));
    switch (e->kind) {
    case END_RESULT:
        if (e->result_code == RESULT_OK) {
            o->status = JOB_DONE;
            return;
        }
        is_retryable = e->result_code == RESULT_TRANSIENT;
        snprintf(o->error, sizeof(o->error), "%s",
                 *detail ? detail : "worker reported an error");
        break;
    case END_SIGNAL:
        o->last_signal = e->term_signal;
        is_retryable = p->is_crash_retryable;
        /* The seccomp filter kills with SIGSYS: say what that means. */
        snprintf(o->error, sizeof(o->error), "%s: %s (signal %d)",
                 e->term_signal == SIGSYS ? "sandbox violation" : "crashed",
                 outcome_signal_name(e->term_signal, sig, sizeof(sig)),
                 e->term_signal);
        break;
    case END_EXIT:
        is_retryable = p->is_crash_retryable;
        snprintf(o->error, sizeof(o->error),
                 "worker exited with code %d mid-job", e->exit_code);
        break;
    case END_TIMEOUT:
        o->last_signal = SIGKILL;
        is_retryable = p->is_crash_retryable;
        snprintf(o->error, sizeof(o->error), "timeout after %d s",
                 e->timeout_s);
        break;
    case END_PROTOCOL:
        is_retryable = p->is_crash_retryable;
        snprintf(o->error, sizeof(o->error), "protocol: %s", detail);
        break;
    case END_INTERRUPTED:
        /* Not the job's fault: requeue at once, whatever its attempts. */
        o->status = JOB_RETRY;
        snprintf(o->error, sizeof(o->error), "interrupted: %s",
                 *detail ? detail : "daemon stopping");
        return;
    case END_INPUT:
    case END_OUTPUT:
        is_retryable = outcome_errno_is_transient(e->sys_errno);
        snprintf(o->error, sizeof(o->error), "%s", detail);
        break;
    }
    retry_or_fail(o, is_retryable, attempts, max_attempts, p->retry_delay_s);
}
