/*
 * The zygote: frameshield-worker's (and the test fakes') fork server, and
 * the wire both it and frameshieldd speak.  See zygote.h for why.
 */
#define _GNU_SOURCE
#include "zygote.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "closefrom.h"
#include "fdpass.h"
#include "log.h"

#define MAX_FDS 2

/*
 * Forked workers share the zygote's layout: library, heap and stack
 * addresses, the stack canary and glibc's pointer guard, all of which
 * exec re-randomises.  A server that respawns crashed children with one
 * layout lets an attacker read it one crash at a time (blind ROP guesses
 * a canary byte by byte, 128 crashes a byte on average; an address takes
 * more), so once this many workers have died of a fault signal the
 * zygote execs itself again, right after its next fork: same pid, same
 * socket, its workers still its children (exec keeps them), and a fresh
 * layout for every later fork.  An exec costs about 26 ms of CPU
 * (linking), during which spawn requests wait: where a tenth of short
 * clips crash (bench/: crashy, 60 crashes a second) that is one a
 * second.
 */
#define LAYOUT_CRASHES 64

int
zygote_send(int sock, const struct zygote_msg *m, const int *fds, int nfds)
{
    return fdpass_send_fds(sock, m, sizeof(*m), fds, nfds);
}

int
zygote_recv(int sock, struct zygote_msg *m, int *fds, int maxfds,
            int is_nonblocking)
{
    int got;
    ssize_t n = fdpass_recv_fds(sock, m, sizeof(*m), fds, maxfds, &got,
                                is_nonblocking ? MSG_DONTWAIT : 0);

    if (n == 0)
        return -2;
    if (n == -1 && errno == EMSGSIZE)
        errno = EPROTO; /* a longer packet: not ours, not fatal */
    if (n == -1)
        return -1;
    if (n != (ssize_t)sizeof(*m)) {
        for (int i = 0; i < got; i++)
            close(fds[i]);
        errno = EPROTO;
        return -1;
    }
    return got;
}

/*
 * In the new worker: the fork server's state goes, the request's
 * descriptors take the places a worker expects, and the worker dies with
 * the zygote (which dies with the daemon).
 */
static void
become_worker(pid_t zygote, int sfd, const sigset_t *mask, int chan, int err)
{
    close(sfd);
    sigprocmask(SIG_SETMASK, mask, NULL);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != zygote)
        _exit(0);
    if (dup2(err, 2) == -1 || dup2(chan, ZYGOTE_FD) == -1)
        _exit(70);
    close(chan);
    close(err);
}

/* What a decoder's memory bug ends in, or a sandbox refusal: not the
 * daemon's SIGKILLs (timeouts, stops) and not exits. */
static int
is_fault(int status)
{
    if (!WIFSIGNALED(status))
        return 0;
    switch (WTERMSIG(status)) {
    case SIGSEGV:
    case SIGBUS:
    case SIGILL:
    case SIGFPE:
    case SIGABRT:
    case SIGSYS:
    case SIGTRAP:
        return 1;
    }
    return 0;
}

/* Reaps and reports; returns whether children remain (none: ECHILD, which
 * also holds across a re-exec that forgot how many there were). */
static int
report_exits(int is_open, unsigned *faults)
{
    struct zygote_msg m = {.type = ZY_EXITED};
    int status;
    pid_t pid;

    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        *faults += is_fault(status);
        m.pid = pid;
        m.status = status;
        if (is_open && zygote_send(ZYGOTE_FD, &m, NULL, 0) == -1)
            log_warn("zygote: report exit of %d: %s", (int)pid,
                     strerror(errno));
    }
    return !(pid == -1 && errno == ECHILD);
}

/*
 * Becomes a fresh image of itself, with the descriptors it started with
 * (fds 0-3; the signalfd is close-on-exec).  SIGCHLD stays blocked
 * through the exec, so a child that ends meanwhile waits, a zombie, for
 * the new image's first report_exits.  /proc/self/exe is the binary this
 * image came from even if an upgrade replaced the file since; if the new
 * image cannot start (its libraries removed too), the zygote dies, its
 * workers with it, and the daemon treats that as any zygote death.
 * Returns only if the exec failed, with nothing changed.
 */
static void
reexec(char **argv, unsigned faults)
{
    extern char **environ;

    log_info("zygote: %u workers died of a fault signal: exec'ing anew, "
             "so that later workers get a fresh address-space layout",
             faults);
    execve("/proc/self/exe", argv, environ);
    if (errno == ENOENT) /* no /proc mounted: the path the daemon ran */
        execve(argv[0], argv, environ);
    log_warn("zygote: exec %s: %s; keeping this layout for now", argv[0],
             strerror(errno));
}

/* exec names the process after the path's last part: "exe". */
static void
keep_name(const char *argv0)
{
    const char *slash = strrchr(argv0, '/');

    (void)prctl(PR_SET_NAME, slash ? slash + 1 : argv0);
}

/* Forks one worker; returns 1 in it, 0 in the zygote, -1 if fork failed. */
static int
spawn(const struct zygote_msg *req, const int *fds, int sfd,
      const sigset_t *mask)
{
    struct zygote_msg m = {.type = ZY_SPAWNED, .tag = req->tag};
    pid_t self = getpid(), pid = fork();
    int pidfd;

    if (pid == 0) {
        become_worker(self, sfd, mask, fds[0], fds[1]);
        return 1;
    }
    close(fds[0]);
    close(fds[1]);
    if (pid == -1) {
        m.type = ZY_FAILED;
        m.status = errno;
        (void)zygote_send(ZYGOTE_FD, &m, NULL, 0);
        return -1;
    }
    m.pid = pid;
    /* Not reaped before this is sent: the pidfd names this very child. */
    pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (zygote_send(ZYGOTE_FD, &m, &pidfd, pidfd >= 0 ? 1 : 0) == -1)
        log_warn("zygote: report worker %d: %s", (int)pid, strerror(errno));
    if (pidfd >= 0)
        close(pidfd);
    return 0;
}

void
zygote_serve(char **argv)
{
    pid_t daemon = getppid();
    int is_open = 1, has_children;
    unsigned faults = 0;
    sigset_t chld, old;
    int sfd;

    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != daemon || daemon == 1)
        _exit(0);
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, &old);
    /* A re-exec'd image inherits SIGCHLD blocked; workers never have it. */
    sigdelset(&old, SIGCHLD);
    /* Whatever the daemon's own parent left open (libuv passes on all
     * that is not close-on-exec) is not the zygote's to hold. */
    close_from(ZYGOTE_FD + 1);
    keep_name(argv[0]);
    if ((sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK)) == -1)
        fatal("zygote: signalfd");
    /* After a re-exec: the workers of the image before are ours. */
    has_children = report_exits(is_open, &faults);
    faults = 0;
    for (;;) {
        struct pollfd p[2] = {{.fd = sfd, .events = POLLIN},
                              {.fd = ZYGOTE_FD, .events = POLLIN}};
        struct signalfd_siginfo si;
        struct zygote_msg req;
        int fds[MAX_FDS], n;

        if (!is_open && !has_children)
            _exit(0);
        if (poll(p, is_open ? 2 : 1, -1) == -1) {
            if (errno == EINTR)
                continue;
            fatal("zygote: poll");
        }
        if (p[0].revents) {
            while (read(sfd, &si, sizeof(si)) == sizeof(si))
                ;
            has_children = report_exits(is_open, &faults);
        }
        if (!is_open || p[1].revents == 0)
            continue;
        n = zygote_recv(ZYGOTE_FD, &req, fds, MAX_FDS, 0);
        if (n == -2 || (n == -1 && errno != EPROTO)) {
            /* The daemon is done with us: leave when our workers are. */
            is_open = 0;
            close(ZYGOTE_FD);
            continue;
        }
        if (n == 2 && req.type == ZY_SPAWN) {
            int rc = spawn(&req, fds, sfd, &old);

            if (rc == 1)
                return;
            has_children |= rc == 0;
            if (faults >= LAYOUT_CRASHES) {
                reexec(argv, faults);
                /* It failed (E2BIG, ENOMEM...): again in a few crashes. */
                faults = LAYOUT_CRASHES - 8;
            }
            continue;
        }
        log_warn("zygote: malformed request refused");
        for (int i = 0; i < n; i++)
            close(fds[i]);
        if (n >= 0 && req.type == ZY_SPAWN) { /* answer, or it waits */
            struct zygote_msg no = {
                .type = ZY_FAILED, .tag = req.tag, .status = EPROTO};
            (void)zygote_send(ZYGOTE_FD, &no, NULL, 0);
        }
    }
}
