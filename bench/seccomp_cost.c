/*
 * What the worker's seccomp filter costs per system call, measured with
 * the worker's own sandbox_enter() (linked from worker/sandbox.o), so the
 * figure is of the filter that ships, not of a stand-in.
 *
 * The whole-daemon comparison (--sandbox yes/no) is too noisy on a shared
 * 2-core machine to resolve a cost of a few per cent; a filter only taxes
 * system calls, and a worker makes a fixed, small number of them per job
 * (bench/run.sh counts them with strace), so the cost per job is
 * (filtered - plain) ns per call × calls per job, which a tight loop of
 * millions of calls measures to a fraction of a nanosecond.
 *
 * The loop is the worker's per-job mix: writev on the channel (fd 3, here
 * /dev/null), fstat and pread of the input (fd 0, here INPUT).
 *
 * usage: seccomp_cost INPUT [ROUNDS] [REPS]
 * prints: plain_ns=X filtered_ns=Y enter_ms=Z (minimum over REPS rounds)
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "sandbox.h"

#define CALLS_PER_ROUND 13 /* 6 writev + 6 fstat + 1 pread */

static double
now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void
one_round(void)
{
    static char buf[4096];
    struct iovec iov[2] = {{buf, 8}, {buf + 8, 56}};
    struct stat st;

    for (int i = 0; i < 6; i++) {
        if (writev(3, iov, 2) != 64)
            abort();
        if (fstat(0, &st) == -1)
            abort();
    }
    if (pread(0, buf, sizeof(buf), 0) < 0)
        abort();
}

/* ns per call, the minimum over reps: the least disturbed repetition. */
static double
per_call_ns(long rounds, int reps)
{
    double best = 1e30;

    for (int r = 0; r < reps; r++) {
        double t0 = now_ns();

        for (long i = 0; i < rounds; i++)
            one_round();
        double ns = (now_ns() - t0) / (double)(rounds * CALLS_PER_ROUND);
        if (ns < best)
            best = ns;
    }
    return best;
}

int
main(int argc, char **argv)
{
    long rounds = argc > 2 ? atol(argv[2]) : 20000;
    int reps = argc > 3 ? atoi(argv[3]) : 15;
    struct sandbox_opts opts = {.memory_limit_bytes = 1024ull << 20};
    char err[256];
    int in, sink;

    if (argc < 2 || rounds < 1 || reps < 1) {
        fprintf(stderr, "usage: seccomp_cost INPUT [ROUNDS] [REPS]\n");
        return 2;
    }
    if ((in = open(argv[1], O_RDONLY)) == -1 ||
        (sink = open("/dev/null", O_WRONLY)) == -1) {
        perror("seccomp_cost: open");
        return 1;
    }
    if (dup2(in, 0) == -1 || dup2(sink, 3) == -1) {
        perror("seccomp_cost: dup2");
        return 1;
    }
    (void)per_call_ns(rounds, 1); /* warm caches and the CPU clock */
    double plain = per_call_ns(rounds, reps);
    double t0 = now_ns();
    if (sandbox_enter(&opts, err, sizeof(err)) == -1) {
        fprintf(stderr, "seccomp_cost: %s\n", err);
        return 1;
    }
    double enter_ms = (now_ns() - t0) / 1e6;
    double filtered = per_call_ns(rounds, reps);
    printf("plain_ns=%.1f filtered_ns=%.1f enter_ms=%.2f\n", plain, filtered,
           enter_ms);
    return 0;
}
