/*
 * Sending and receiving descriptors with a message over an AF_UNIX
 * socket (SCM_RIGHTS): the supervisor hands each job's already-open input
 * to a worker, which never opens files itself, and each new worker's
 * channel and stderr to the zygote.
 */
#ifndef FS_FDPASS_H
#define FS_FDPASS_H

#include <stddef.h>
#include <sys/types.h>

#define FDPASS_MAX_FDS 4

/*
 * Sends len bytes of buf with fd attached, in one sendmsg.  Returns 0, or
 * -1 with errno set; a short write is reported as EAGAIN because the
 * caller only sends small messages to an idle peer.
 */
int fdpass_send(int sock, const void *buf, size_t len, int fd);
/* The same with 0..FDPASS_MAX_FDS descriptors. */
int fdpass_send_fds(int sock, const void *buf, size_t len, const int *fds,
                    int nfds);

/*
 * Reads exactly len bytes into buf; the first recvmsg may carry one
 * descriptor, returned in *fd (or -1).  Extra descriptors are closed.
 * Returns 0, 1 on clean EOF before any byte, or -1 with errno set.
 */
int fdpass_recv(int sock, void *buf, size_t len, int *fd);

/*
 * One recvmsg (flags: e.g. MSG_DONTWAIT) of at most len bytes: returns
 * what recvmsg returned (0 at EOF), the descriptors that came with it in
 * fds[0..*nfds) (the others unset to -1; extra ones closed), or -1 with
 * errno (EMSGSIZE when a datagram did not fit).
 */
ssize_t fdpass_recv_fds(int sock, void *buf, size_t len, int *fds, int maxfds,
                        int *nfds, int flags);

#endif
