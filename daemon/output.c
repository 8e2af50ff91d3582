/*
 * Atomic frame files for frameshieldd: temporary file, fsync, rename, and
 * one fsync of the directory per job (s6's status-file recipe).
 */
#include "output.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int
write_all(int fd, const uint8_t *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);

        if (n == -1 && errno == EINTR)
            continue;
        if (n == -1)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int
output_write_frame(int dirfd, uint32_t index, const uint8_t *data,
                   size_t len, int is_durable)
{
    static unsigned serial; /* shared by the threadpool's threads */
    char name[64], tmp[96];
    int fd, saved;

    /*
     * A name of its own per write: two jobs given one output_dir (or a
     * job and a stale file) must not rename each other's halves.
     */
    snprintf(name, sizeof(name), "frame_%u.jpg", index);
    snprintf(tmp, sizeof(tmp), "%s.%d.%u.tmp", name, (int)getpid(),
             __atomic_fetch_add(&serial, 1, __ATOMIC_RELAXED));
    fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC |
                O_NOFOLLOW, 0644);
    if (fd == -1)
        return -1;
    if (write_all(fd, data, len) == -1 || (is_durable && fsync(fd) == -1))
        goto fail;
    if (close(fd) == -1) {
        fd = -1;
        goto fail;
    }
    fd = -1;
    if (renameat(dirfd, tmp, dirfd, name) == -1)
        goto fail;
    return 0;
fail:
    saved = errno;
    if (fd != -1)
        close(fd);
    unlinkat(dirfd, tmp, 0);
    errno = saved;
    return -1;
}

int
output_sync_dir(int dirfd)
{
    return fsync(dirfd);
}
