/*
 * Which job goes to which worker, and what each attempt's end does to the
 * queue: the glue between pool.c (processes) and queue.c (rows).
 * frameshieldd.
 */
#ifndef FS_DISPATCH_H
#define FS_DISPATCH_H

#include "config.h"
#include "pool.h"
#include "queue.h"

/* Binds the dispatcher to its queue and pool; 0 or -1. */
int dispatch_init(struct queue *, struct pool *, const struct config *,
                  uv_loop_t *);
/* Stops claiming; running jobs go on. */
void dispatch_drain(void);
/* Jobs ended since start, by how they ended. */
struct dispatch_stats {
    uint64_t done, retried, failed;
};
void dispatch_get_stats(struct dispatch_stats *);

/* Closes the dispatcher's timers. */
void dispatch_fini(void);
/* Frees the rest, once the loop has run out (no write is in flight). */
void dispatch_free(void);

/* Something may have been enqueued: claim soon (debounced). */
void dispatch_kick_soon(void);
/* Another connection may have committed (watch.c): kick if it can matter. */
void dispatch_db_changed(void);

/* An idle slot wants work. */
void dispatch_slot_idle(struct slot *);
/*
 * A worker's FRAME for its job: checked and written.  Returns NULL, or the
 * protocol violation that must kill the worker.
 */
const char *dispatch_frame(struct slot_job *, const struct msg_frame *);
/* Checks a RESULT against what the worker sent; NULL or the violation. */
const char *dispatch_check_result(const struct slot_job *,
                                  const struct msg_result *);
/* A checked RESULT: the attempt ends as the worker says; sj is ours again. */
void dispatch_result(struct slot *, struct slot_job *,
                     const struct msg_result *);
/* The worker died or was killed during the job; sj is ours again. */
void dispatch_attempt_end(struct slot *, struct slot_job *,
                          const struct attempt_end *, int exit_code,
                          int term_signal);
/* A worker broke the protocol before any job: a deployment error. */
void dispatch_fatal_worker(struct slot *, const char *why);
/* A slot changed in a way a drain may wait for. */
void dispatch_pool_changed(void);

#endif
