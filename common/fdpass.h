/*
 * Sending and receiving one descriptor with a message over an AF_UNIX
 * stream socket (SCM_RIGHTS); used by the supervisor to hand each job's
 * already-open input to a worker, which never opens files itself.
 */
#ifndef FS_FDPASS_H
#define FS_FDPASS_H

#include <stddef.h>

/*
 * Sends len bytes of buf with fd attached, in one sendmsg.  Returns 0, or
 * -1 with errno set; a short write is reported as EAGAIN because the
 * caller only sends small messages to an idle peer.
 */
int fdpass_send(int sock, const void *buf, size_t len, int fd);

/*
 * Reads exactly len bytes into buf; the first recvmsg may carry one
 * descriptor, returned in *fd (or -1).  Extra descriptors are closed.
 * Returns 0, 1 on clean EOF before any byte, or -1 with errno set.
 */
int fdpass_recv(int sock, void *buf, size_t len, int *fd);

#endif
