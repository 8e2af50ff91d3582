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

#include "fdpass.h"
#include "log.h"

#define MAX_FDS 2

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

static void
report_exits(int is_open, int *children)
{
    struct zygote_msg m = {.type = ZY_EXITED};
    int status;
    pid_t pid;

    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        (*children)--;
        m.pid = pid;
        m.status = status;
        if (is_open && zygote_send(ZYGOTE_FD, &m, NULL, 0) == -1)
            log_warn("zygote: report exit of %d: %s", (int)pid,
                     strerror(errno));
    }
}

/* Forks one worker; returns 1 in it, 0 in the zygote. */
static int
spawn(const struct zygote_msg *req, const int *fds, int sfd,
      const sigset_t *mask, int *children)
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
        return 0;
    }
    (*children)++;
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
zygote_serve(void)
{
    pid_t daemon = getppid();
    int children = 0, is_open = 1;
    sigset_t chld, old;
    int sfd;

    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != daemon || daemon == 1)
        _exit(0);
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, &old);
    if ((sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK)) == -1)
        fatal("zygote: signalfd");
    for (;;) {
        struct pollfd p[2] = {{.fd = sfd, .events = POLLIN},
                              {.fd = ZYGOTE_FD, .events = POLLIN}};
        struct signalfd_siginfo si;
        struct zygote_msg req;
        int fds[MAX_FDS], n;

        if (!is_open && children == 0)
            _exit(0);
        if (poll(p, is_open ? 2 : 1, -1) == -1) {
            if (errno == EINTR)
                continue;
            fatal("zygote: poll");
        }
        if (p[0].revents) {
            while (read(sfd, &si, sizeof(si)) == sizeof(si))
                ;
            report_exits(is_open, &children);
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
            if (spawn(&req, fds, sfd, &old, &children))
                return;
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
