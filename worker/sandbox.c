/*
 * Sandbox of frameshield-worker.  A worker parses hostile media all day;
 * if a decoder bug hands an attacker its process, the process must hold
 * nothing worth having: one already-open input, one channel, no files,
 * no network, no new processes.  Order (OpenSSH's and Android's
 * mediaextractor's): libraries are loaded and initialised first, then
 * netns -> unprivileged user -> clean fds/env/cwd -> rlimits ->
 * no_new_privs -> seccomp (default: kill the process).
 */
#define _GNU_SOURCE
#include "sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "closefrom.h"
#include "log.h"

#define CHANNEL_FD 3
/* 0-2, the channel, one input, and slack for libc. */
#define SANDBOX_NOFILE 8

/*
 * The allow-list: every call a worker makes after HELLO (measured with
 * strace over H.264, HEVC, VP9, MPEG-4, MJPEG jobs, and --sandbox debug
 * over the benchmark corpus: sorting an index of more than 128 frames
 * made glibc's qsort ask for sysinfo), plus what abort()
 * and signal delivery need so that a crash is reported as itself.
 * Calls with argument checks are added separately below.
 */
static const struct {
    int nr;
    const char *why;
} allowed[] = {
    {SCMP_SYS(read), "stdin-free reads of the channel by libc"},
    {SCMP_SYS(pread64), "the AVIOContext reads the input at an offset"},
    {SCMP_SYS(lseek), "libc may position the input descriptor"},
    {SCMP_SYS(recvmsg), "receive a job and its input descriptor"},
    {SCMP_SYS(poll), "wait for the next job (fdpass_recv)"},
    {SCMP_SYS(ppoll), "poll, where libc implements it so"},
    {SCMP_SYS(write), "log lines on stderr"},
    {SCMP_SYS(writev), "FRAME and RESULT messages on the channel"},
    {SCMP_SYS(fstat), "input size for AVSEEK_SIZE"},
    {SCMP_SYS(close), "close a job's input"},
    {SCMP_SYS(brk), "malloc"},
    {SCMP_SYS(munmap), "free of large blocks"},
    {SCMP_SYS(mremap), "realloc of large blocks"},
    {SCMP_SYS(madvise), "malloc trimming"},
    {SCMP_SYS(futex), "libc and libav* internal locks"},
    {SCMP_SYS(clock_gettime), "timestamps where the vDSO is not used"},
    {SCMP_SYS(gettimeofday), "av_gettime"},
    {SCMP_SYS(clock_nanosleep), "sleeps (no resource is reachable)"},
    {SCMP_SYS(nanosleep), "sleeps"},
    {SCMP_SYS(sched_yield), "spin-lock back-off"},
    {SCMP_SYS(getrandom), "libc's malloc and hash seeds"},
    {SCMP_SYS(sysinfo), "glibc's qsort sizes its buffer by physical memory"},
    {SCMP_SYS(getpid), "abort() and raise() address the process"},
    {SCMP_SYS(gettid), "abort() and raise() address the thread"},
    {SCMP_SYS(rt_sigprocmask), "abort() unblocks SIGABRT"},
    {SCMP_SYS(rt_sigaction), "abort() resets the SIGABRT handler"},
    {SCMP_SYS(rt_sigreturn), "return from a signal handler"},
    {SCMP_SYS(restart_syscall), "restart after a signal"},
    {SCMP_SYS(exit), "thread exit"},
    {SCMP_SYS(exit_group), "process exit"},
};

/*
 * Debug mode only (OpenSSH's SANDBOX_SECCOMP_FILTER_DEBUG): name the
 * forbidden call and carry on, to learn what a new FFmpeg needs.  Map the
 * number with scmp_sys_resolver.
 */
static void
on_sigsys(int sig, siginfo_t *si, void *uc)
{
    char msg[] = "sandbox: blocked system call 000\n";
    int nr = si->si_syscall;

    (void)sig;
    (void)uc;
    msg[29] = (char)('0' + nr / 100 % 10);
    msg[30] = (char)('0' + nr / 10 % 10);
    msg[31] = (char)('0' + nr % 10);
    (void)write(2, msg, sizeof(msg) - 1);
}

static int
add_rules(scmp_filter_ctx ctx)
{
    int rc = 0;

    for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
        rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, allowed[i].nr, 0);
    /* fstat(fd) in glibc is newfstatat(fd, "", AT_EMPTY_PATH): no paths. */
    rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(newfstatat), 1,
                           SCMP_A3(SCMP_CMP_MASKED_EQ, AT_EMPTY_PATH,
                                   AT_EMPTY_PATH));
    /* Memory, never executable: no shellcode pages. */
    rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1,
                           SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
    rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mprotect), 1,
                           SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
    /* abort() and raise() signal this process only. */
    rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 1,
                           SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)getpid()));
    rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(kill), 1,
                           SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)getpid()));
    /* fcntl(F_GETFL/F_SETFL/F_GETFD) on open descriptors; no locks. */
    rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(fcntl), 1,
                           SCMP_A1(SCMP_CMP_LE, F_SETFL));
    return rc == 0 ? 0 : -1;
}

static int
load_filter(int is_debug, char *err, size_t errlen)
{
    scmp_filter_ctx ctx;
    int rc;

    if (is_debug) {
        struct sigaction sa = {.sa_sigaction = on_sigsys,
                               .sa_flags = SA_SIGINFO};
        sigaction(SIGSYS, &sa, NULL);
        log_warn("sandbox debug mode: forbidden calls are reported, "
                 "not stopped");
    }
    ctx = seccomp_init(is_debug ? SCMP_ACT_TRAP : SCMP_ACT_KILL_PROCESS);

    if (ctx == NULL) {
        snprintf(err, errlen, "seccomp_init failed");
        return -1;
    }
    /*
     * Older kernels (spec_store_bypass_disable=seccomp, the default before
     * 5.16) force the Speculative Store Bypass mitigation on every filtered
     * process, a few per cent of decode speed.  SSB lets code that runs in
     * a process read that process's own memory speculatively; a worker runs
     * no attacker-supplied code (no JIT, no scripts) and holds one job, so
     * the mitigation buys nothing here.  Best effort: old libseccomp lacks
     * the attribute and the filter works without it.
     */
    (void)seccomp_attr_set(ctx, SCMP_FLTATR_CTL_SSB, 1);
    if (add_rules(ctx) == -1) {
        snprintf(err, errlen, "seccomp_rule_add failed");
        seccomp_release(ctx);
        return -1;
    }
    if ((rc = seccomp_load(ctx)) != 0)
        snprintf(err, errlen, "seccomp_load: %s", strerror(-rc));
    seccomp_release(ctx);
    return rc == 0 ? 0 : -1;
}

/* Root gets an unprivileged identity; anyone else keeps theirs. */
static int
drop_user(const char *user, char *err, size_t errlen)
{
    struct passwd *pw;

    if (geteuid() != 0)
        return 0;
    if ((pw = getpwnam(user ? user : "nobody")) == NULL) {
        snprintf(err, errlen, "user %s: unknown", user ? user : "nobody");
        return -1;
    }
    if (pw->pw_uid == 0) {
        snprintf(err, errlen, "user %s is root", pw->pw_name);
        return -1;
    }
    if (setgroups(0, NULL) == -1 || setresgid(pw->pw_gid, pw->pw_gid,
                                              pw->pw_gid) == -1 ||
        setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) == -1) {
        snprintf(err, errlen, "drop to %s: %s", pw->pw_name, strerror(errno));
        return -1;
    }
    return 0;
}

static int
set_limit(int res, rlim_t v, const char *name, char *err, size_t errlen)
{
    struct rlimit rl = {v, v};

    if (setrlimit(res, &rl) == -1) {
        snprintf(err, errlen, "setrlimit %s: %s", name, strerror(errno));
        return -1;
    }
    return 0;
}

static int
set_limits(const struct sandbox_opts *o, char *err, size_t errlen)
{
    if (o->memory_limit_bytes &&
        set_limit(RLIMIT_AS, o->memory_limit_bytes, "AS", err, errlen) == -1)
        return -1;
    if (!o->has_core_dumps &&
        set_limit(RLIMIT_CORE, 0, "CORE", err, errlen) == -1)
        return -1;
    return set_limit(RLIMIT_FSIZE, 0, "FSIZE", err, errlen) == -1 ||
                   set_limit(RLIMIT_NOFILE, SANDBOX_NOFILE, "NOFILE", err,
                             errlen) == -1
               ? -1
               : 0;
}

int
sandbox_enter(const struct sandbox_opts *o, char *err, size_t errlen)
{
    pid_t parent = getppid();

    /*
     * A network namespace of our own, so even a hole in the filter
     * reaches no network.  Refused under RestrictNamespaces= or without
     * privileges; the filter still forbids socket() either way.
     */
    if (unshare(CLONE_NEWNET) == -1 && geteuid() != 0)
        (void)unshare(CLONE_NEWUSER | CLONE_NEWNET);
    if (drop_user(o->user, err, errlen) == -1)
        return -1;
    /*
     * Changing credentials clears the parent-death signal: set it again,
     * or a worker whose zygote dies lives on as an orphan (found by a
     * review: it then took jobs on a channel nobody watched).  The filter
     * below forbids prctl, so now or never.
     */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1 || getppid() != parent) {
        snprintf(err, errlen, "parent gone while entering the sandbox");
        return -1;
    }
    if (chdir("/") == -1) {
        snprintf(err, errlen, "chdir /: %s", strerror(errno));
        return -1;
    }
    clearenv();
    close_from(CHANNEL_FD + 1);
    if (set_limits(o, err, errlen) == -1)
        return -1;
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1) {
        snprintf(err, errlen, "PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
        return -1;
    }
    return load_filter(o->is_debug, err, errlen);
}
