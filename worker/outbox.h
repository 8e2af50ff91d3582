/*
 * A job's messages to the supervisor, held while the job is young and
 * small and sent together: every write to the channel wakes the
 * supervisor, and each wake-up preempts a decoding worker on a 2-core
 * machine (a rescheduling interrupt, on a VM a hypervisor exit).  A tiny
 * job's five FRAMEs and its RESULT go out in one write instead of six.
 *
 * Holding is bounded so that it costs little when a worker dies: a frame
 * is held only while its job has run under OUTBOX_HOLD_MS and the held
 * messages add up to under OUTBOX_HOLD_BYTES.  A crash loses the frames
 * of at most the job's first OUTBOX_HOLD_MS of work; anything later is
 * sent as soon as it is made, as before.  The age is looked at when the
 * next message comes, not on a clock: a frame made in the first 20 ms
 * waits for the next frame or the RESULT, however long the decode takes
 * to get there, and a crash or timeout meanwhile loses it (the attempt's
 * frames_written counts it out; a retry makes it again).
 */
#ifndef FS_OUTBOX_H
#define FS_OUTBOX_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define OUTBOX_HOLD_MS 20
#define OUTBOX_HOLD_BYTES (256u << 10)

struct outbox {
    int sock;
    int hold_ms;       /* OUTBOX_HOLD_MS; tests change both */
    size_t hold_bytes; /* OUTBOX_HOLD_BYTES */
    uint8_t *buf;      /* held messages */
    size_t len, cap;
    int64_t job_start_ns;
};

void outbox_init(struct outbox *ob, int sock);

/* A new job starts now: what is held from here on is its own. */
void outbox_start_job(struct outbox *ob);

/*
 * Queues one message (the iovecs, in order; at most 4) and sends what is
 * held when may_hold is 0 or the bounds above are reached.  Returns 0, or
 * -1 with errno: EINVAL for too many iovecs, else the channel's error.
 */
int outbox_put(struct outbox *ob, const struct iovec *iov, int iovcnt,
               int may_hold);

void outbox_free(struct outbox *ob);

#endif
