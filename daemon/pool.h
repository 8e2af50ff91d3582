/*
 * The prefork pool: worker processes, their channels, their timers and
 * the slot state machine.  frameshieldd; knows processes, not jobs.
 */
#ifndef FS_POOL_H
#define FS_POOL_H

#include <stdint.h>
#include <uv.h>

#include "errlog.h"
#include "job.h"
#include "outcome.h"
#include "proto.h"
#include "spawner.h"

enum slot_state {
    SLOT_EMPTY,    /* no process; waiting to (re)spawn */
    SLOT_STARTING, /* spawned, no HELLO yet */
    SLOT_IDLE,     /* ready for a job */
    SLOT_BUSY,     /* working on slot->job */
    SLOT_DYING,    /* told or made to go; waiting for exit and EOF */
};

/*
 * One attempt of a job, owned by dispatch.c.  A busy slot points at it;
 * after the attempt's end it lives on until its frames are on disk.
 */
struct slot_job {
    struct job job;
    struct persist *persist; /* the output directory's writer */
    int input_fd;            /* open until sent to the worker, then -1 */
    /*
     * Our copy of the input once sent, until the attempt ends: the worker
     * moves the file offset it shares with this copy when it takes the
     * job, so a worker that ended with the offset still at 0 never did.
     */
    int sent_fd;
    uint32_t frames_received;
    uint8_t seen[PROTO_MAX_FRAMES / 8 + 1];
    int64_t started_ms;
    /* How the attempt ended, kept while its last frames are synced. */
    struct attempt_end end;
    char detail[PROTO_ERROR_MAX + 1];
    int worker_pid;
    int exit_code, term_signal, frames_decoded;
    char *stderr_tail;
    /* Ended, waiting for its row to be committed (dispatch.c). */
    struct slot_job *next_end;
    int is_stale;
};

struct slot {
    struct pool *pool;
    int index;
    enum slot_state state;
    int pid;             /* 0 until the zygote reports the fork */
    int pidfd;           /* signals this very process; -1 on old kernels */
    int is_kill_pending; /* killed before its pid was known */
    unsigned spawn_gen;  /* which spawn of this slot the zygote answers */
    uv_pipe_t chan;
    uv_pipe_t errp; /* the worker's stderr */
    struct errlog errlog;
    uv_timer_t timer; /* job deadline while BUSY, respawn delay while EMPTY */
    int open_handles; /* chan + errp, closed once per life */
    int has_exited, has_eof, has_err_eof;
    int64_t exit_status;
    int term_signal;
    uint8_t *rbuf;
    size_t rlen, rcap;
    struct slot_job *sj;       /* while BUSY (or dying mid-job) */
    enum end_kind kill_reason; /* set when we killed it mid-job */
    int is_killed;
    char kill_detail[256];
    int jobs_served;
    int start_failures; /* consecutive deaths before HELLO */
    uint64_t spawned_ms;
};

struct pool_settings {
    const char *worker_path;
    char *const *worker_args; /* argv, [0] = worker_path, NULL-ended */
    int size;
    int worker_nice;
    int job_timeout_s;
    int max_jobs_per_worker;
    uint32_t max_frame_bytes;
};

struct pool {
    uv_loop_t *loop;
    struct pool_settings set;
    struct slot *slots;
    int is_draining;
    int has_announced_ready;
    struct spawner spawner;
};

/* Allocates the slots and their timers.  Returns 0 or -1. */
int pool_init(struct pool *, uv_loop_t *, const struct pool_settings *);
/* Spawns every worker. */
void pool_start(struct pool *);
/*
 * Gives an IDLE slot its job: the slot is BUSY and points at it until
 * the attempt ends, and a death or the deadline ends the attempt from
 * now on, though the job reaches the worker only with pool_send_job.
 */
void pool_take_job(struct slot *, struct slot_job *);
/*
 * Sends the taken job and its open input (the caller closes it after).
 * Returns 0, or -1 when the channel failed (the slot is then being
 * killed).
 */
int pool_send_job(struct slot *, int input_fd);
/* Gives a taken job back unsent: the slot is IDLE again.  Returns it. */
struct slot_job *pool_untake_job(struct slot *);
/* SIGKILLs a slot's worker; the attempt ends as `why` when it exits. */
void pool_kill(struct slot *, enum end_kind why, const char *detail);
/* Stops respawning; idle workers are told to exit. */
void pool_drain(struct pool *);
/* Whether every slot is EMPTY with all its handles closed. */
int pool_is_stopped(const struct pool *);

/* From spawner.c: what the zygote did. */
void pool_spawner_up(struct pool *);
void pool_worker_spawned(struct pool *, int tag, int pid, int pidfd);
void pool_worker_spawn_failed(struct pool *, int tag, int err);
void pool_worker_exited(struct pool *, int pid, int wait_status);
void pool_zygote_lost(struct pool *);
/* Closes the timers and frees the slots; the loop must then be run. */
void pool_fini(struct pool *);
/* Frees the slots once the loop has closed every handle. */
void pool_free(struct pool *);
int pool_count(const struct pool *, enum slot_state);

#endif
