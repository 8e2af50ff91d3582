/*
 * Test-only LD_PRELOAD for frameshieldd: when the file named by
 * $FS_FAULT_SYNCFS_EIO exists, the next syncfs(2) waits
 * $FS_FAULT_SYNCFS_DELAY_MS (default 0), as a failing disk takes, so that
 * jobs ending meanwhile queue for the next cycle, removes the file and
 * fails with EIO.  Once, as the kernel reports a writeback error to each
 * open file once: the syncfs after it succeeds, although the data of the
 * failed writeback is lost.  A real one needs a disk that fails
 * (dm-error, as root); what is under test is what the daemon does with
 * the report.  Never installed; workers never see it (the daemon starts
 * them with an empty environment).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

typedef int (*syncfs_fn)(int);

static syncfs_fn real_syncfs;
static const char *eio_flag;
static long delay_ms;

/* Before main: the daemon's threads call syncfs, never getenv races. */
__attribute__((constructor)) static void
init(void)
{
    const char *d = getenv("FS_FAULT_SYNCFS_DELAY_MS");

    real_syncfs = (syncfs_fn)dlsym(RTLD_NEXT, "syncfs");
    eio_flag = getenv("FS_FAULT_SYNCFS_EIO");
    delay_ms = d != NULL ? atol(d) : 0;
}

int
syncfs(int fd)
{
    if (eio_flag != NULL && access(eio_flag, F_OK) == 0) {
        struct timespec ts = {delay_ms / 1000, (delay_ms % 1000) * 1000000};

        if (delay_ms > 0)
            nanosleep(&ts, NULL);
        (void)unlink(eio_flag);
        errno = EIO;
        return -1;
    }
    if (real_syncfs == NULL) {
        errno = ENOSYS;
        return -1;
    }
    return real_syncfs(fd);
}
