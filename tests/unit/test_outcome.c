/*
 * Unit test of daemon/outcome.c: every row of the retry policy, the
 * backoff curve and the signal names an operator reads in last_error.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>

#include "check.h"
#include "outcome.h"
#include "proto.h"

static const struct retry_policy retrying = {10, 1};
static const struct retry_policy crash_final = {10, 0};

static struct outcome
classify(struct attempt_end e, int attempts, int max,
         const struct retry_policy *p)
{
    struct outcome o;

    outcome_classify(&e, attempts, max, p, &o);
    return o;
}

static void
test_results(void)
{
    struct outcome o;

    o = classify((struct attempt_end){.kind = END_RESULT,
                                      .result_code = RESULT_OK},
                 1, 3, &retrying);
    CHECK(o.status == JOB_DONE && o.error[0] == '\0' && o.last_signal == 0);

    o = classify((struct attempt_end){.kind = END_RESULT,
                                      .result_code = RESULT_PERMANENT,
                                      .detail = "no video stream"},
                 1, 3, &retrying);
    CHECK(o.status == JOB_FAILED);
    CHECK(strcmp(o.error, "no video stream") == 0);

    o = classify((struct attempt_end){.kind = END_RESULT,
                                      .result_code = RESULT_TRANSIENT,
                                      .detail = "read: I/O error"},
                 1, 3, &retrying);
    CHECK(o.status == JOB_RETRY && o.delay_s == 10);
    o = classify((struct attempt_end){.kind = END_RESULT,
                                      .result_code = RESULT_TRANSIENT},
                 3, 3, &retrying);
    CHECK(o.status == JOB_FAILED && o.error[0] != '\0');
}

static void
test_crashes(void)
{
    struct outcome o;
    int sigs[] = {SIGSEGV, SIGABRT, SIGBUS, SIGFPE, SIGILL, SIGKILL, SIGSYS};
    const char *names[] = {"SIGSEGV", "SIGABRT", "SIGBUS", "SIGFPE",
                           "SIGILL",  "SIGKILL", "SIGSYS"};

    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
        o = classify((struct attempt_end){.kind = END_SIGNAL,
                                          .term_signal = sigs[i]},
                     1, 3, &retrying);
        CHECKF(o.status == JOB_RETRY && o.last_signal == sigs[i] &&
                   strstr(o.error, names[i]) != NULL,
               "signal %d: %s", sigs[i], o.error);
        o = classify((struct attempt_end){.kind = END_SIGNAL,
                                          .term_signal = sigs[i]},
                     3, 3, &retrying);
        CHECKF(o.status == JOB_FAILED, "signal %d last attempt", sigs[i]);
        o = classify((struct attempt_end){.kind = END_SIGNAL,
                                          .term_signal = sigs[i]},
                     1, 3, &crash_final);
        CHECKF(o.status == JOB_FAILED, "signal %d not retryable", sigs[i]);
    }
    o = classify((struct attempt_end){.kind = END_SIGNAL, .term_signal = 11},
                 1, 3, &retrying);
    CHECK(strcmp(o.error, "crashed: SIGSEGV (signal 11)") == 0);
    o = classify((struct attempt_end){.kind = END_SIGNAL, .term_signal = 31},
                 1, 3, &retrying);
    CHECK(strcmp(o.error, "sandbox violation: SIGSYS (signal 31)") == 0);

    o = classify((struct attempt_end){.kind = END_TIMEOUT, .timeout_s = 7},
                 1, 3, &retrying);
    CHECK(o.status == JOB_RETRY && o.last_signal == SIGKILL);
    CHECK(strcmp(o.error, "timeout after 7 s") == 0);

    o = classify((struct attempt_end){.kind = END_EXIT, .exit_code = 3}, 2,
                 3, &retrying);
    CHECK(o.status == JOB_RETRY && o.last_signal == 0);
    CHECK(strstr(o.error, "worker exited with code 3") != NULL);

    o = classify((struct attempt_end){.kind = END_PROTOCOL,
                                      .detail = "message too long"},
                 3, 3, &retrying);
    CHECK(o.status == JOB_FAILED);
    CHECK(strcmp(o.error, "protocol: message too long") == 0);
}

static void
test_supervisor_side(void)
{
    struct outcome o;

    o = classify((struct attempt_end){.kind = END_INPUT, .sys_errno = ENOENT,
                                      .detail = "open /x: No such file"},
                 1, 3, &retrying);
    CHECK(o.status == JOB_FAILED && strstr(o.error, "open /x") != NULL);
    o = classify((struct attempt_end){.kind = END_OUTPUT,
                                      .sys_errno = ENOSPC, .detail = "w"},
                 1, 3, &retrying);
    CHECK(o.status == JOB_RETRY);
    o = classify((struct attempt_end){.kind = END_OUTPUT,
                                      .sys_errno = EACCES, .detail = "w"},
                 1, 3, &retrying);
    CHECK(o.status == JOB_FAILED);
    /* A shutdown is never the job's fault, even on its last attempt. */
    o = classify((struct attempt_end){.kind = END_INTERRUPTED}, 3, 3,
                 &retrying);
    CHECK(o.status == JOB_RETRY && o.delay_s == 0);
}

static void
test_backoff(void)
{
    char buf[32];

    CHECK(outcome_backoff_s(10, 1) == 10);
    CHECK(outcome_backoff_s(10, 2) == 40);
    CHECK(outcome_backoff_s(10, 3) == 90);
    CHECK(outcome_backoff_s(0, 5) == 0);
    CHECK(outcome_backoff_s(10, 0) == 10);
    CHECK(outcome_backoff_s(10, 100000) == 86400);
    CHECK(outcome_errno_is_transient(EIO) && outcome_errno_is_transient(EMFILE));
    CHECK(!outcome_errno_is_transient(ENOENT));
    CHECK(strcmp(outcome_signal_name(6, buf, sizeof(buf)), "SIGABRT") == 0);
    CHECK(strcmp(outcome_signal_name(999, buf, sizeof(buf)), "SIG999") == 0);
}

int
main(void)
{
    test_results();
    test_crashes();
    test_supervisor_side();
    test_backoff();
    return CHECK_DONE();
}
