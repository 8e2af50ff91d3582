/*
 * The worker's sandbox: a clean process state, resource limits and a
 * seccomp allow-list, entered once after the decoders are initialised
 * and before the first byte of media is read.  frameshield-worker.
 */
#ifndef FS_SANDBOX_H
#define FS_SANDBOX_H

#include <stddef.h>
#include <stdint.h>

struct sandbox_opts {
    uint64_t memory_limit_bytes; /* RLIMIT_AS; 0 = leave as is */
    int has_core_dumps;          /* keep RLIMIT_CORE (debugging) */
    const char *user;            /* drop to this user when root; NULL = nobody */
    int is_debug; /* report forbidden calls on stderr instead of dying */
};

/*
 * Enters the sandbox; the channel (fd 3) and stderr stay open, every other
 * descriptor is closed.  Returns 0, or -1 with a message in err: the
 * worker must then exit rather than decode unprotected.
 */
int sandbox_enter(const struct sandbox_opts *, char *err, size_t errlen);

#endif
