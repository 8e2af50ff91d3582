/*
 * Path confinement for frameshieldd: inputs and outputs must resolve
 * beneath the configured input_roots and output_roots, whatever `..` or
 * symlinks they contain.  With no roots configured, paths are free.
 */
#ifndef FS_CONFINE_H
#define FS_CONFINE_H

#include <stddef.h>

#define CONFINE_MAX_ROOTS 16

struct roots {
    int n;
    char *path[CONFINE_MAX_ROOTS];
    int fd[CONFINE_MAX_ROOTS];
};

/*
 * Opens every directory of a ':'-separated list of absolute paths ("" for
 * none).  Returns 0, or -1 with a message in err.
 */
int confine_init(struct roots *, const char *list, char *err, size_t errlen);
void confine_fini(struct roots *);

/*
 * open(2) of path, refused with EXDEV when it resolves outside the roots
 * (or names none of them).  Returns an fd or -1 with errno set.
 */
int confine_open(const struct roots *, const char *path, int flags);

/*
 * Whether path names a place beneath one of the roots, by its letters: a
 * quick refusal before any work.  The opens above decide, after `..` and
 * symlinks.
 */
int confine_names_root(const struct roots *, const char *path);

/* What confine_open_dir does to make the directories it creates durable. */
enum dir_sync {
    DIR_SYNC_NONE,
    DIR_SYNC_FSYNC, /* each new name is fsync'ed into its parent */
    /* The same, unless one syncfs of their file system will cover them
     * (output_fs_syncs_all), which the caller then makes. */
    DIR_SYNC_UNLESS_SYNCFS,
};

/*
 * Opens output directory path, creating missing components (mode 0750)
 * beneath the roots, durable as sync says.  Returns a directory fd or -1
 * with errno set.
 */
int confine_open_dir(const struct roots *, const char *path,
                     enum dir_sync sync);

#endif
