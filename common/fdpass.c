/*
 * SCM_RIGHTS descriptor passing over a Unix stream socket; supervisor and
 * worker both use it.
 */
#define _GNU_SOURCE
#include "fdpass.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

int
fdpass_send(int sock, const void *buf, size_t len, int fd)
{
    union {
        struct cmsghdr hdr;
        char buf[CMSG_SPACE(sizeof(int))];
    } ctl;
    struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
    struct cmsghdr *c;
    ssize_t n;

    memset(&ctl, 0, sizeof(ctl));
    msg.msg_control = ctl.buf;
    msg.msg_controllen = sizeof(ctl.buf);
    c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof(int));
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

static void
take_fds(struct msghdr *msg, int *fd)
{
    for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c != NULL;
         c = CMSG_NXTHDR(msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < n; i++) {
            int got;
            memcpy(&got, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
            if (*fd == -1)
                *fd = got;
            else
                close(got);
        }
    }
}

int
fdpass_recv(int sock, void *buf, size_t len, int *fd)
{
    union {
        struct cmsghdr hdr;
        char buf[CMSG_SPACE(4 * sizeof(int))];
    } ctl;
    size_t got = 0;

    *fd = -1;
    while (got < len) {
        struct iovec iov = {.iov_base = (char *)buf + got,
                            .iov_len = len - got};
        struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
        ssize_t n;

        msg.msg_control = ctl.buf;
        msg.msg_controllen = sizeof(ctl.buf);
        n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
        if (n == -1 && errno == EINTR)
            continue;
        if (n == -1)
            goto fail;
        take_fds(&msg, fd);
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
