/*
 * Frame extraction from an already-open media descriptor with libavformat
 * and libavcodec, shared by the worker's daemon and command-line modes.
 */
#ifndef FS_DECODE_H
#define FS_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include <libavutil/frame.h>

/* A callback's way to stop a job for its own reasons (peer gone). */
#define DECODE_ABORT (-1)

struct extract_req {
    uint32_t frames; /* positions wanted, 1..PROTO_MAX_FRAMES */
    uint8_t mode;    /* MODE_ACCURATE or MODE_KEYFRAME */
};

struct extract_stats {
    uint32_t frames_sent;    /* frames the callback accepted */
    uint32_t frames_decoded; /* every frame the decoder produced */
    int64_t total_frames;    /* the count the positions were taken from */
    int is_decoder_reused;   /* the last job's decoder, flushed */
};

/*
 * Receives one extracted frame: index is the position (0..frames-1),
 * frame_number the frame actually delivered, pts_us its timestamp from the
 * stream start.  frame is only valid during the call.  Returns RESULT_OK
 * to go on, RESULT_PERMANENT or RESULT_TRANSIENT with err filled to fail
 * the job, or DECODE_ABORT to stop at once.
 */
typedef int (*frame_cb)(void *arg, uint32_t index, int64_t frame_number,
                        int64_t pts_us, const AVFrame *frame, char *err,
                        size_t errlen);

/*
 * Process-wide libav setup: quiet logging routed through log.h.  Call once
 * at startup, before the sandbox.
 */
void decode_init(void);

/* Frames above this many pixels are refused before decoding. */
void decode_set_max_pixels(uint64_t pixels);
/*
 * Tells the decoder an address-space limit of `bytes` is in force: running
 * out of memory then fails the job for good ("memory limit").
 */
void decode_set_memory_limited(uint64_t bytes);

/*
 * Extracts req->frames evenly spaced frames from fd, which the caller owns
 * and closes; the worker never opens paths, and the descriptor's own file
 * offset is neither used nor changed.  Calls cb for each frame, in index
 * order.  Fills *stats (zeroed on entry) and returns RESULT_OK when at
 * least one frame was delivered, RESULT_PERMANENT or RESULT_TRANSIENT with
 * err filled ("stage: reason", at most errlen - 1 bytes), or DECODE_ABORT
 * when cb asked for it.
 */
int decode_extract(int fd, const struct extract_req *req, frame_cb cb,
                   void *cb_arg, struct extract_stats *stats, char *err,
                   size_t errlen);

/*
 * Classifies a system error: RESULT_TRANSIENT for those a retry may cure
 * (EIO, ENOMEM, EMFILE, ENFILE, ENOSPC, EAGAIN, ...), RESULT_PERMANENT for
 * the rest.
 */
int decode_errno_result(int errnum);

#endif
