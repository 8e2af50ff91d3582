/* Whole writes on blocking descriptors: the channel, a frame file. */
#ifndef FS_WRITEALL_H
#define FS_WRITEALL_H

#include <sys/uio.h>

/*
 * Writes every byte of iov, resuming after partial writes and EINTR (iov
 * is consumed).  Returns 0, or -1 with errno.
 */
int writev_all(int fd, struct iovec *iov, int iovcnt);

#endif
