/*
 * The fork server between frameshieldd and its workers.  Starting a
 * worker by exec costs 25-60 ms of dynamic linking (libavcodec and its
 * 138 libraries); forking one from a process that has already loaded and
 * initialised them costs about a millisecond.  So the daemon execs one
 * "zygote" (Android's name for the pattern) and asks it for workers.
 *
 * The zygote holds no media and no authority: it reads requests from the
 * daemon only, and each worker enters its sandbox after the fork, as it
 * did after exec.  The daemon stays the one that watches: the zygote
 * reports every worker's pid (with a pidfd, so the daemon can signal it
 * without pid-reuse races) and, once reaped, its exact wait status.
 *
 * Wire: SOCK_SEQPACKET on fd 3 of the zygote, one struct zygote_msg per
 * packet, host byte order (both ends are on one machine).
 */
#ifndef FS_ZYGOTE_H
#define FS_ZYGOTE_H

#include <stdint.h>

#define ZYGOTE_FD 3
#define ZYGOTE_ARG "--zygote"

enum zygote_type {
    ZY_SPAWN = 1, /* daemon -> zygote, fds: channel, stderr */
    ZY_SPAWNED,   /* zygote -> daemon: tag, pid; fd: pidfd when available */
    ZY_FAILED,    /* zygote -> daemon: tag, status = errno of fork */
    ZY_EXITED,    /* zygote -> daemon: pid, status = wait status */
};

struct zygote_msg {
    uint32_t type;
    int32_t tag; /* the daemon's slot, echoed back */
    int32_t pid;
    int32_t status;
};

/*
 * Sends msg with up to 2 descriptors; returns 0 or -1 (errno).  Receives
 * one message without blocking when is_nonblocking: returns the number
 * of descriptors received (extra ones closed, missing ones -1), -2 at
 * EOF, or -1 (errno; EAGAIN when nothing is waiting).
 */
int zygote_send(int sock, const struct zygote_msg *, const int *fds, int nfds);
int zygote_recv(int sock, struct zygote_msg *, int *fds, int maxfds,
                int is_nonblocking);

/*
 * Becomes the zygote (the process was started with ZYGOTE_ARG and fd 3 is
 * the daemon's socket): forks a worker per ZY_SPAWN until the daemon
 * hangs up, then exits once its workers are gone.  Returns only in a new
 * worker, with the worker's channel on fd 3 and its stderr on fd 2.
 * argv is main's, for the exec that renews the layout after crashes.
 */
void zygote_serve(char **argv);

#endif
