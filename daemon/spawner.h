/*
 * The daemon's side of the zygote (common/zygote.h): starts it, asks it
 * for workers, hears back their pids and wait statuses, and restarts it
 * with a back-off if it dies.  frameshieldd; pool.c is its only user.
 */
#ifndef FS_SPAWNER_H
#define FS_SPAWNER_H

#include <stdint.h>
#include <uv.h>

struct pool;

struct spawner {
    uv_loop_t *loop;
    struct pool *pool;
    const char *path;
    int nice; /* added to ours for the zygote, so for every worker */
    char *const *args; /* argv of the zygote, ZYGOTE_ARG included */
    uv_process_t proc;
    uv_poll_t poll;
    uv_timer_t restart;
    int fd;      /* our end of the control socket; -1 when down */
    int dead_fd; /* a dead zygote's socket, until its poll handle closes */
    int is_up;   /* the zygote runs (its handles are open) */
    int is_stopping;
    int failures; /* consecutive zygote deaths soon after start */
    uint64_t started_ms;
    int pid;
};

int spawner_start(struct spawner *, struct pool *, uv_loop_t *,
                  const char *path, char *const *args, int nice);

/*
 * Asks for a worker with chan_fd on its fd 3 and err_fd on its fd 2 (the
 * caller keeps and closes its copies).  The answer comes as
 * pool_worker_spawned or pool_worker_spawn_failed with this tag.
 * Returns -1 when the zygote is down (restarting).
 */
int spawner_request(struct spawner *, int tag, int chan_fd, int err_fd);

/* Whether requests can be sent (the zygote runs and is not stopping). */
int spawner_is_up(const struct spawner *);

/* No more workers: the zygote goes; its handles close. */
void spawner_stop(struct spawner *);

#endif
