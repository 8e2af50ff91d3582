/*
 * Pure arithmetic the worker uses to pick frames: which frame numbers to
 * extract, and how frame numbers, timestamps and seeks relate.
 */
#ifndef FS_PLAN_H
#define FS_PLAN_H

#include <stddef.h>
#include <stdint.h>

/* A rational number, laid out like AVRational so plan.c needs no libav. */
struct plan_q {
    int num;
    int den;
};

/* What the decoder knows when it has to decide whether to seek. */
struct plan_seek {
    int has_pos;        /* something was decoded since the last seek/open */
    int is_index_exact; /* the index lists every frame, keyframes included */
    int has_kf_ahead;   /* the index has the target's keyframe unread */
    int64_t gap;        /* target minus current position (stream units) */
    int64_t gop;        /* longest keyframe distance seen (stream units) */
};

/*
 * Fills out[i] = i * max(1, total / frames) for i = 0..frames-1, the seed's
 * evenly spaced positions, and stops at the first one >= total.  out must
 * hold frames entries.  Returns how many positions were kept: 0 when total
 * <= 0 or frames == 0.
 */
uint32_t plan_positions(int64_t total, uint32_t frames, int64_t *out);

/*
 * Frame count of a constant-rate stream lasting duration (in units of tb):
 * round(duration * tb * fps).  Returns 0 when any input is unusable
 * (duration <= 0, a zero or negative rational).
 */
int64_t plan_count_from_duration(int64_t duration, struct plan_q tb,
                                 struct plan_q fps);

/*
 * Timestamp (units of tb) of frame n of a constant-rate stream that starts
 * at start: start + round(n / fps / tb).  tb and fps must be positive.
 */
int64_t plan_frame_to_pts(int64_t n, int64_t start, struct plan_q tb,
                          struct plan_q fps);

/*
 * Inverse of plan_frame_to_pts: round((pts - start) * tb * fps), clamped to
 * 0 for timestamps before start.  Returns -1 when tb or fps is unusable.
 */
int64_t plan_pts_to_frame(int64_t pts, int64_t start, struct plan_q tb,
                          struct plan_q fps);

/*
 * Microseconds from start to pts, rounded; 0 when tb is unusable.  Negative
 * results are kept: a frame may legitimately precede start_time.
 */
int64_t plan_pts_to_us(int64_t pts, int64_t start, struct plan_q tb);

/* Sorts n timestamps ascending in place. */
void plan_sort_ts(int64_t *t, size_t n);

/* Number of entries of the ascending table t that are below v. */
size_t plan_count_below(const int64_t *t, size_t len, int64_t v);

/*
 * Inserts v into the ascending table t of *len entries, keeping it sorted;
 * the caller guarantees room for one more.  Cheap for the nearly sorted
 * input it gets (packet timestamps in decode order).
 */
void plan_sorted_insert(int64_t *t, size_t *len, int64_t v);

/*
 * Index of the entry of the ascending table t (len > 0) closest to v; ties
 * go to the earlier entry.
 */
size_t plan_table_nearest(const int64_t *t, size_t len, int64_t v);

/*
 * Place of v in the ascending table t (len > 0) extended past its end by
 * steps of dur: the index of the nearest entry (ties to the earlier one),
 * or beyond the last entry by more than dur / 2, len - 1 plus the number
 * of steps, rounded the same way.  dur < 1 counts as 1.
 */
int64_t plan_table_place(const int64_t *t, size_t len, int64_t v,
                         int64_t dur);

/*
 * The window of timestamps that still count as frame n of the ascending
 * table t: [*lo, *hi], bounded by the midpoints to the neighbours (open to
 * INT64_MIN/INT64_MAX at the ends).  n must be < len.
 */
void plan_table_window(const int64_t *t, size_t len, size_t n, int64_t *lo,
                       int64_t *hi);

/*
 * Decides whether to seek before decoding forward to the next target.
 * Seeking pays when the target's keyframe is known to lie past what was
 * read, or, with an index that does not list every keyframe, when the gap
 * is longer than any keyframe distance seen so far.  Returns 1 to seek.
 */
int plan_should_seek(const struct plan_seek *);

#endif
