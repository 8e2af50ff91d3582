/*
 * SCM_RIGHTS descriptor passing over Unix sockets; supervisor, worker and
 * zygote use it.
 */
#define _GNU_SOURCE
#include "fdpass.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

int
fdpass_send_fds(int sock, const void *buf, size_t len, const int *fds, int nfds)
{
    union {
        struct cmsghdr hdr;
        char buf[CMSG_SPACE(FDPASS_MAX_FDS * sizeof(int))];
    } ctl;
    struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
    ssize_t n;

    if (nfds < 0 || nfds > FDPASS_MAX_FDS) {
        errno = EINVAL;
        return -1;
    }
    if (nfds > 0) {
        memset(&ctl, 0, sizeof(ctl));
        msg.msg_control = ctl.buf;
        msg.msg_controllen = CMSG_SPACE((size_t)nfds * sizeof(int));
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN((size_t)nfds * sizeof(int));
        memcpy(CMSG_DATA(c), fds, (size_t)nfds * sizeof(int));
    }
    do
        n = sendmsg(sock, &msg, MSG_NOSIGNAL);
    while (n == -1 && errno == EINTR);
    if (n == -1)
        return -1;
    if ((size_t)n != len) {
        errno = EAGAIN;
        return -1;
    }
    return 0;
}

int
fdpass_send(int sock, const void *buf, size_t len, int fd)
{
    return fdpass_send_fds(sock, buf, len, &fd, 1);
}

/* Moves received descriptors into fds[*got..maxfds); closes the rest. */
static void
take_fds(struct msghdr *msg, int *fds, int maxfds, int *got)
{
    for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c != NULL;
         c = CMSG_NXTHDR(msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < n; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
            if (*got < maxfds)
                fds[(*got)++] = fd;
            else
                close(fd);
        }
    }
}

ssize_t
fdpass_recv_fds(int sock, void *buf, size_t len, int *fds, int maxfds,
                int *nfds, int flags)
{
    union {
        struct cmsghdr hdr;
        char buf[CMSG_SPACE(FDPASS_MAX_FDS * sizeof(int))];
    } ctl;
    struct iovec iov = {.iov_base = buf, .iov_len = len};
    struct msghdr msg = {.msg_iov = &iov,
                         .msg_iovlen = 1,
                         .msg_control = ctl.buf,
                         .msg_controllen = sizeof(ctl.buf)};
    ssize_t n;

    *nfds = 0;
    for (int i = 0; i < maxfds; i++)
        fds[i] = -1;
    do
        n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC | flags);
    while (n == -1 && errno == EINTR);
    if (n >= 0)
        take_fds(&msg, fds, maxfds, nfds);
    if (n >= 0 && (msg.msg_flags & MSG_TRUNC)) {
        for (int i = 0; i < *nfds; i++)
            close(fds[i]);
        *nfds = 0;
        errno = EMSGSIZE;
        return -1;
    }
    return n;
}

int
fdpass_recv(int sock, void *buf, size_t len, int *fd)
{
    size_t got = 0;
    int nfds;

    *fd = -1;
    while (got < len) {
        struct pollfd pfd = {.fd = sock, .events = POLLIN};
        int one = -1;
        ssize_t n;

        /*
         * Blocked in recvmsg, a reader is also woken each time its peer
         * reads what it sent (the socket's write space wakes every waiter
         * on it): one wasted wake-up per job, an inter-processor
         * interrupt on a VM.  poll waits for input only.
         */
        if (poll(&pfd, 1, -1) == -1) {
            if (errno == EINTR)
                continue;
            goto fail;
        }
        n = fdpass_recv_fds(sock, (char *)buf + got, len - got, &one, 1,
                            &nfds, 0);
        if (n == -1)
            goto fail;
        if (nfds == 1 && *fd == -1)
            *fd = one;
        else if (nfds == 1)
            close(one);
        if (n == 0) {
            if (got == 0 && *fd == -1)
                return 1;
            errno = EPIPE;
            goto fail;
        }
        got += (size_t)n;
    }
    return 0;
fail:
    if (*fd != -1) {
        int saved = errno;
        close(*fd);
        *fd = -1;
        errno = saved;
    }
    return -1;
}
