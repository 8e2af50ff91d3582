/*
 * Frame positions, timestamp conversions and the seek decision for the
 * worker, as pure functions so the unit test can pin them down.
 */
#include "plan.h"

#include <stdlib.h>

typedef __int128 wide;

static int
is_usable(struct plan_q q)
{
    return q.num > 0 && q.den > 0;
}

static int64_t
clamp64(wide v)
{
    if (v > INT64_MAX)
        return INT64_MAX;
    if (v < INT64_MIN)
        return INT64_MIN;
    return (int64_t)v;
}

/*
 * round(a * b / c), half away from zero, for c > 0.  Timestamps and time
 * bases are both up to 63/31 bits, so the product needs 128 bits; libav's
 * av_rescale does the same, but plan.c must not depend on libav.
 */
static int64_t
mul_div_round(wide a, wide b, wide c)
{
    wide p = a * b;

    if (p >= 0)
        return clamp64((p + c / 2) / c);
    return clamp64(-((-p + c / 2) / c));
}

uint32_t
plan_positions(int64_t total, uint32_t frames, int64_t *out)
{
    int64_t step;
    uint32_t kept = 0;

    if (total <= 0 || frames == 0)
        return 0;
    step = total / frames;
    if (step < 1)
        step = 1;
    /* i * step <= total for every kept i, so the product cannot overflow. */
    for (uint32_t i = 0; i < frames; i++) {
        if ((int64_t)i * step >= total)
            break;
        out[kept++] = (int64_t)i * step;
    }
    return kept;
}

int64_t
plan_count_from_duration(int64_t duration, struct plan_q tb,
                         struct plan_q fps)
{
    if (duration <= 0 || !is_usable(tb) || !is_usable(fps))
        return 0;
    return mul_div_round(duration, (wide)tb.num * fps.num,
                         (wide)tb.den * fps.den);
}

int64_t
plan_frame_to_pts(int64_t n, int64_t start, struct plan_q tb,
                  struct plan_q fps)
{
    if (!is_usable(tb) || !is_usable(fps))
        return start;
    return clamp64((wide)start + mul_div_round(n, (wide)fps.den * tb.den,
                                               (wide)fps.num * tb.num));
}

int64_t
plan_pts_to_frame(int64_t pts, int64_t start, struct plan_q tb,
                  struct plan_q fps)
{
    int64_t n;

    if (!is_usable(tb) || !is_usable(fps))
        return -1;
    n = mul_div_round((wide)pts - start, (wide)tb.num * fps.num,
                      (wide)tb.den * fps.den);
    return n < 0 ? 0 : n;
}

int64_t
plan_pts_to_us(int64_t pts, int64_t start, struct plan_q tb)
{
    if (!is_usable(tb))
        return 0;
    return mul_div_round((wide)pts - start, (wide)tb.num * 1000000, tb.den);
}

static int
cmp_ts(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a;
    int64_t y = *(const int64_t *)b;

    return (x > y) - (x < y);
}

void
plan_sort_ts(int64_t *t, size_t n)
{
    if (n > 1)
        qsort(t, n, sizeof(*t), cmp_ts);
}

size_t
plan_count_below(const int64_t *t, size_t len, int64_t v)
{
    size_t lo = 0, hi = len;

    /* Lower bound: the first entry >= v. */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (t[mid] < v)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

void
plan_sorted_insert(int64_t *t, size_t *len, int64_t v)
{
    size_t i = *len;

    /* From the end: decode order is display order but for a few frames. */
    while (i > 0 && t[i - 1] > v) {
        t[i] = t[i - 1];
        i--;
    }
    t[i] = v;
    (*len)++;
}

size_t
plan_table_nearest(const int64_t *t, size_t len, int64_t v)
{
    size_t lo = plan_count_below(t, len, v);

    if (lo == len)
        return len - 1;
    if (lo > 0 && (wide)v - t[lo - 1] <= (wide)t[lo] - v)
        return lo - 1;
    return lo;
}

int64_t
plan_table_place(const int64_t *t, size_t len, int64_t v, int64_t dur)
{
    size_t i = plan_table_nearest(t, len, v);
    wide steps;

    if (i + 1 < len || v <= t[i])
        return (int64_t)i;
    if (dur < 1)
        dur = 1;
    /* Half a step or less rounds down, like a tie in the table. */
    steps = ((wide)v - t[i] + (dur - 1) / 2) / dur;
    return clamp64((wide)i + steps);
}

/* floor(v / 2); C division truncates towards zero instead. */
static int64_t
half_floor(wide v)
{
    return clamp64(v >= 0 ? v / 2 : -((-v + 1) / 2));
}

void
plan_table_window(const int64_t *t, size_t len, size_t n, int64_t *lo,
                  int64_t *hi)
{
    *lo = INT64_MIN;
    *hi = INT64_MAX;
    /* Midpoints in 128 bits: neighbours may sit at opposite extremes. */
    if (n > 0)
        *lo = half_floor((wide)t[n - 1] + t[n] + 1);
    if (n + 1 < len)
        *hi = half_floor((wide)t[n] + t[n + 1]);
}

int
plan_should_seek(const struct plan_seek *s)
{
    if (!s->has_pos || s->has_kf_ahead)
        return 1;
    /* Every keyframe is indexed: none lies between here and the target. */
    if (s->is_index_exact)
        return 0;
    /*
     * Blind: a keyframe probably lies within the gap only if the gap is
     * longer than the GOPs seen so far.  Otherwise decoding forward costs
     * no more than what a seek would land us before.
     */
    return s->gap > s->gop;
}
