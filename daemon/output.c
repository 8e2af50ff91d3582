/*
 * Atomic frame files for frameshieldd: temporary file, fsync, rename, and
 * one fsync of the directory per job (s6's status-file recipe).
 */
#include "output.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "writeall.h"

int
output_create(int dirfd, uint32_t index, const uint8_t *data, size_t len,
              struct output_file *f)
{
    static unsigned serial; /* shared by the threadpool's threads */
    static int cached_pid;  /* glibc no longer caches getpid: a call a frame */
    int pid = __atomic_load_n(&cached_pid, __ATOMIC_RELAXED);

    /*
     * A name of its own per write: two jobs given one output_dir (or a
     * job and a stale file) must not rename each other's halves.
     */
    if (pid == 0) {
        pid = (int)getpid();
        __atomic_store_n(&cached_pid, pid, __ATOMIC_RELAXED);
    }
    f->index = index;
    snprintf(f->tmp, sizeof(f->tmp), "frame_%u.jpg.%d.%u.tmp", index, pid,
             __atomic_fetch_add(&serial, 1, __ATOMIC_RELAXED));
    f->fd = openat(dirfd, f->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC |
                   O_NOFOLLOW, 0644);
    if (f->fd == -1)
        return -1;
    struct iovec iov = {.iov_base = (void *)data, .iov_len = len};
    if (writev_all(f->fd, &iov, 1) == 0)
        return 0;
    output_discard(dirfd, f);
    return -1;
}

int
output_sync(struct output_file *f, int is_durable)
{
    int rc = is_durable ? fsync(f->fd) : 0;
    int saved = errno;

    if (close(f->fd) == -1 && rc == 0)
        rc = -1;
    else
        errno = saved;
    f->fd = -1;
    return rc;
}

int
output_publish(int dirfd, struct output_file *f)
{
    char name[64];

    snprintf(name, sizeof(name), "frame_%u.jpg", f->index);
    return renameat(dirfd, f->tmp, dirfd, name);
}

void
output_discard(int dirfd, struct output_file *f)
{
    int saved = errno;

    if (f->fd != -1)
        close(f->fd);
    f->fd = -1;
    unlinkat(dirfd, f->tmp, 0);
    errno = saved;
}

int
output_sync_dir(int dirfd)
{
    return fsync(dirfd);
}

/*
 * Whether the ext* file system on dev is mounted as ext3 or ext4, by
 * /proc/self/mountinfo: the three share one magic number, and ext2's
 * syncfs writes everything back but never flushes the disk's cache,
 * where its fsync does (ext4's flushes even without a journal).  Answers
 * are kept per device (a daemon's outputs sit on a few); the threadpool
 * asks from several threads.
 */
static int
is_ext3_or_4(dev_t dev)
{
    static struct {
        dev_t dev;
        int is_ok;
    } seen[16];
    static int nseen;
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    char line[4096];
    int is_ok = 0, i;
    FILE *f;

    pthread_mutex_lock(&lock);
    for (i = 0; i < nseen && seen[i].dev != dev; i++)
        ;
    if (i < nseen) {
        is_ok = seen[i].is_ok;
        pthread_mutex_unlock(&lock);
        return is_ok;
    }
    pthread_mutex_unlock(&lock);
    if ((f = fopen("/proc/self/mountinfo", "re")) == NULL)
        return 0;
    /* "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext4 /dev/root rw" */
    while (fgets(line, sizeof(line), f) != NULL) {
        unsigned maj, min;
        char type[32];
        const char *dash = strstr(line, " - ");

        if (sscanf(line, "%*u %*u %u:%u", &maj, &min) != 2 || dash == NULL ||
            makedev(maj, min) != dev || sscanf(dash + 3, "%31s", type) != 1)
            continue;
        is_ok = !strcmp(type, "ext3") || !strcmp(type, "ext4");
        break;
    }
    fclose(f);
    pthread_mutex_lock(&lock);
    if (nseen < (int)(sizeof(seen) / sizeof(seen[0]))) {
        seen[nseen].dev = dev;
        seen[nseen++].is_ok = is_ok;
    }
    pthread_mutex_unlock(&lock);
    return is_ok;
}

int
output_fs_syncs_all(int fd, dev_t *dev)
{
    struct statfs sfs;
    struct stat st;

    if (fstatfs(fd, &sfs) == -1 || fstat(fd, &st) == -1)
        return 0;
    *dev = st.st_dev;
    switch ((unsigned long)sfs.f_type) {
    case 0xEF53: /* ext2, ext3, ext4: not ext2 */
        return is_ext3_or_4(st.st_dev);
    case 0x58465342: /* xfs */
    case 0x9123683E: /* btrfs */
    case 0xF2F52010: /* f2fs */
    case 0x01021994: /* tmpfs: nothing to write */
        return 1;
    default:
        return 0;
    }
}
