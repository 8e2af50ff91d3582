/*
 * Resolving job paths beneath their roots in frameshieldd.  openat2 with
 * RESOLVE_BENEATH makes the kernel refuse any escape (`..`, absolute or
 * relative symlinks) atomically; where the kernel lacks it (before 5.6)
 * we resolve with realpath and check the prefix, which a concurrent
 * rename could race, so the fallback also opens with O_NOFOLLOW.
 */
#define _GNU_SOURCE
#include "confine.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "output.h"

#define DIR_MODE 0750

int
confine_init(struct roots *r, const char *list, char *err, size_t errlen)
{
    char *copy, *tok, *save = NULL;
    int rc = 0;

    memset(r, 0, sizeof(*r));
    if ((copy = strdup(list)) == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (tok = strtok_r(copy, ":", &save); tok != NULL && rc == 0;
         tok = strtok_r(NULL, ":", &save)) {
        size_t len = strlen(tok);

        while (len > 1 && tok[len - 1] == '/')
            tok[--len] = '\0';
        if (tok[0] != '/' || r->n == CONFINE_MAX_ROOTS) {
            snprintf(err, errlen, "root '%s': %s", tok,
                     tok[0] != '/' ? "not absolute" : "too many roots");
            rc = -1;
        } else if ((r->fd[r->n] = open(tok, O_PATH | O_DIRECTORY |
                                       O_CLOEXEC)) == -1) {
            snprintf(err, errlen, "root %s: %s", tok, strerror(errno));
            rc = -1;
        } else if ((r->path[r->n] = strdup(tok)) == NULL) {
            close(r->fd[r->n]);
            snprintf(err, errlen, "out of memory");
            rc = -1;
        } else
            r->n++;
    }
    free(copy);
    if (rc == -1)
        confine_fini(r);
    return rc;
}

void
confine_fini(struct roots *r)
{
    for (int i = 0; i < r->n; i++) {
        close(r->fd[i]);
        free(r->path[i]);
    }
    r->n = 0;
}

/* The root path lies under, and the rest of path relative to it. */
static int
find_root(const struct roots *r, const char *path, const char **rel)
{
    for (int i = 0; i < r->n; i++) {
        size_t len = strlen(r->path[i]);

        if (len == 1) { /* "/" */
            *rel = path + 1;
            return i;
        }
        if (strncmp(path, r->path[i], len) == 0 &&
            (path[len] == '/' || path[len] == '\0')) {
            *rel = path[len] == '/' ? path + len + 1 : "";
            return i;
        }
    }
    return -1;
}

int
confine_names_root(const struct roots *r, const char *path)
{
    const char *rel;

    return r->n == 0 || (path[0] == '/' && find_root(r, path, &rel) != -1);
}

static int
openat2_beneath(int dirfd, const char *rel, int flags)
{
    struct open_how how = {
        .flags = (uint64_t)(flags | O_CLOEXEC),
        .mode = 0,
        .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
    };

    return (int)syscall(SYS_openat2, dirfd, *rel ? rel : ".", &how,
                        sizeof(how));
}

/* Kernels without openat2: resolve, check the prefix, refuse a symlink. */
static int
open_fallback(const struct roots *r, const char *path, int flags)
{
    char real[PATH_MAX];
    const char *rel;

    if (realpath(path, real) == NULL)
        return -1;
    if (find_root(r, real, &rel) == -1) {
        errno = EXDEV;
        return -1;
    }
    return open(real, flags | O_CLOEXEC | O_NOFOLLOW);
}

int
confine_open(const struct roots *r, const char *path, int flags)
{
    const char *rel;
    int i, fd;

    if (r->n == 0)
        return open(path, flags | O_CLOEXEC);
    if (path[0] != '/' || (i = find_root(r, path, &rel)) == -1) {
        errno = EXDEV;
        return -1;
    }
    fd = openat2_beneath(r->fd[i], rel, flags);
    if (fd == -1 && errno == ENOSYS)
        return open_fallback(r, path, flags);
    return fd;
}

/* The directory dir (beneath a root when there are roots), to make in. */
static int
open_parent(const struct roots *r, const char *dir, int is_for_sync)
{
    int flags = O_DIRECTORY | (is_for_sync ? O_RDONLY : O_PATH);

    if (*dir == '\0')
        dir = "/";
    return r->n == 0 ? open(dir, flags | O_CLOEXEC)
                     : confine_open(r, dir, flags);
}

/*
 * Makes directory dir (a writable copy: it is cut and restored), its
 * missing parents first.  It starts at the bottom: a job's directory
 * usually lies in one that exists, and then costs one open and one
 * mkdirat, where walking down from / cost two calls per level.  Unless
 * *sync is DIR_SYNC_NONE, each new directory's parent is fsync'ed once it
 * holds the new entry: the job directory's own fsync makes its frames'
 * names durable, not its name in its parent, and without a journal that
 * commits everything before it (ext4 without one, ext2, vfat) a power
 * cut could take a DONE job's whole directory away.  The first parent
 * that exists settles DIR_SYNC_UNLESS_SYNCFS for the ones made in it:
 * they lie on its file system.
 */
static int
make_dir(const struct roots *r, char *dir, enum dir_sync *sync)
{
    char *slash = strrchr(dir, '/');
    const char *rel;
    int parent, rc, err, can_sync;
    dev_t dev;

    /* A root itself, or above one: exists already, or is not ours. */
    if (slash == NULL || (r->n > 0 && (find_root(r, dir, &rel) == -1 ||
                                       *rel == '\0')))
        return 0;
    *slash = '\0';
    /* fsync needs more than O_PATH; a parent we may only search
     * (mode 0711) still takes a new directory, unsynced. */
    can_sync = *sync != DIR_SYNC_NONE;
    parent = open_parent(r, dir, can_sync);
    if (parent == -1 && errno == ENOENT && make_dir(r, dir, sync) == 0) {
        can_sync = *sync != DIR_SYNC_NONE;
        parent = open_parent(r, dir, can_sync);
    }
    if (parent == -1 && errno == EACCES && can_sync) {
        can_sync = 0;
        parent = open_parent(r, dir, 0);
    }
    *slash = '/';
    if (parent == -1)
        return -1;
    if (*sync == DIR_SYNC_UNLESS_SYNCFS)
        *sync = output_fs_syncs_all(parent, &dev) ? DIR_SYNC_NONE
                                                  : DIR_SYNC_FSYNC;
    rc = mkdirat(parent, slash + 1, DIR_MODE);
    if (rc == 0 && can_sync && *sync == DIR_SYNC_FSYNC)
        rc = fsync(parent);
    err = errno;
    close(parent);
    errno = err;
    return rc == -1 && err != EEXIST ? -1 : 0;
}

int
confine_open_dir(const struct roots *r, const char *path, enum dir_sync sync)
{
    int fd = confine_open(r, path, O_RDONLY | O_DIRECTORY);

    if (fd == -1 && errno == ENOENT) {
        char dir[PATH_MAX];

        if (strlen(path) >= sizeof(dir)) {
            errno = ENAMETOOLONG;
            return -1;
        }
        snprintf(dir, sizeof(dir), "%s", path);
        if (make_dir(r, dir, &sync) == -1)
            return -1;
        fd = confine_open(r, path, O_RDONLY | O_DIRECTORY);
    }
    return fd;
}
