/*
 * Unit test for worker/plan.c: frame positions, timestamp arithmetic and
 * the seek decision.
 */
#include "check.h"
#include "plan.h"

#include <stdint.h>
#include <string.h>

static const struct plan_q tb_mp4 = {1, 12800};
static const struct plan_q tb_ms = {1, 1000};
static const struct plan_q fps25 = {25, 1};
static const struct plan_q ntsc = {30000, 1001};

static void
test_positions(void)
{
    int64_t out[1000];
    uint32_t n;

    n = plan_positions(250, 5, out);
    CHECK(n == 5);
    for (uint32_t i = 0; i < n; i++)
        CHECKF(out[i] == (int64_t)i * 50, "i=%u got %lld", i,
               (long long)out[i]);

    /* Fewer frames than positions: step 1, the rest dropped. */
    n = plan_positions(3, 5, out);
    CHECK(n == 3);
    CHECK(out[0] == 0 && out[1] == 1 && out[2] == 2);

    CHECK(plan_positions(0, 5, out) == 0);
    CHECK(plan_positions(-7, 5, out) == 0);
    CHECK(plan_positions(250, 0, out) == 0);

    n = plan_positions(250, 1, out);
    CHECK(n == 1 && out[0] == 0);
    n = plan_positions(1, 1, out);
    CHECK(n == 1 && out[0] == 0);

    /* Integer division like the seed: 251 / 5 = 50, never 50.2. */
    n = plan_positions(251, 5, out);
    CHECK(n == 5 && out[4] == 200);
    n = plan_positions(9, 2, out);
    CHECK(n == 2 && out[0] == 0 && out[1] == 4);
    n = plan_positions(5, 5, out);
    CHECK(n == 5 && out[4] == 4);

    /* Huge totals: no overflow, last position below total. */
    n = plan_positions(INT64_MAX, 1000, out);
    CHECK(n == 1000);
    CHECK(out[1] == INT64_MAX / 1000);
    CHECK(out[999] == 999 * (INT64_MAX / 1000));
    CHECK(out[999] < INT64_MAX);
    n = plan_positions(INT64_MAX, 7, out);
    CHECK(n == 7 && out[6] == 6 * (INT64_MAX / 7));
}

static void
test_count(void)
{
    CHECK(plan_count_from_duration(128000, tb_mp4, fps25) == 250);
    CHECK(plan_count_from_duration(10000, tb_ms, fps25) == 250);
    /* 10.02 s rounds to 251 frames, 10.019 s to 250. */
    CHECK(plan_count_from_duration(10020, tb_ms, fps25) == 251);
    CHECK(plan_count_from_duration(10019, tb_ms, fps25) == 250);
    CHECK(plan_count_from_duration(10010, tb_ms, ntsc) == 300);
    CHECK(plan_count_from_duration(0, tb_ms, fps25) == 0);
    CHECK(plan_count_from_duration(-5, tb_ms, fps25) == 0);
    CHECK(plan_count_from_duration(100, tb_ms, (struct plan_q){0, 0}) == 0);
    CHECK(plan_count_from_duration(100, (struct plan_q){0, 1}, fps25) == 0);
    /* No overflow on absurd durations: saturates instead. */
    CHECK(plan_count_from_duration(INT64_MAX, (struct plan_q){1000, 1},
                                   (struct plan_q){240, 1}) == INT64_MAX);
}

static void
test_frame_pts(void)
{
    CHECK(plan_frame_to_pts(0, 0, tb_mp4, fps25) == 0);
    CHECK(plan_frame_to_pts(1, 0, tb_mp4, fps25) == 512);
    CHECK(plan_frame_to_pts(200, 0, tb_mp4, fps25) == 102400);
    CHECK(plan_frame_to_pts(50, 1000, tb_ms, fps25) == 3000);
    /* 29.97 fps in ms: 1001/30 = 33.37 ms per frame, rounded. */
    CHECK(plan_frame_to_pts(1, 0, tb_ms, ntsc) == 33);
    CHECK(plan_frame_to_pts(2, 0, tb_ms, ntsc) == 67);
    CHECK(plan_frame_to_pts(30, 0, tb_ms, ntsc) == 1001);
    /* 90 kHz MPEG time base: exact 3003 ticks per frame. */
    CHECK(plan_frame_to_pts(7, 900, (struct plan_q){1, 90000}, ntsc) ==
          900 + 7 * 3003);
    CHECK(plan_frame_to_pts(5, 42, tb_ms, (struct plan_q){0, 1}) == 42);

    CHECK(plan_pts_to_frame(512, 0, tb_mp4, fps25) == 1);
    CHECK(plan_pts_to_frame(102400, 0, tb_mp4, fps25) == 200);
    /* Within half a frame rounds to the nearest frame. */
    CHECK(plan_pts_to_frame(102400 + 255, 0, tb_mp4, fps25) == 200);
    CHECK(plan_pts_to_frame(102400 + 257, 0, tb_mp4, fps25) == 201);
    CHECK(plan_pts_to_frame(67, 0, tb_ms, ntsc) == 2);
    CHECK(plan_pts_to_frame(3000, 1000, tb_ms, fps25) == 50);
    CHECK(plan_pts_to_frame(500, 1000, tb_ms, fps25) == 0);
    CHECK(plan_pts_to_frame(5, 0, tb_ms, (struct plan_q){0, 0}) == -1);
    /* Round trip over a long NTSC stream. */
    for (int64_t n = 0; n < 200000; n += 997)
        CHECKF(plan_pts_to_frame(plan_frame_to_pts(n, 0, tb_ms, ntsc), 0,
                                 tb_ms, ntsc) == n,
               "n=%lld", (long long)n);

    CHECK(plan_pts_to_us(512, 0, tb_mp4) == 40000);
    CHECK(plan_pts_to_us(3000, 1000, tb_ms) == 2000000);
    CHECK(plan_pts_to_us(-1024, 0, tb_mp4) == -80000);
    CHECK(plan_pts_to_us(1, 0, (struct plan_q){1, 3}) == 333333);
    CHECK(plan_pts_to_us(2, 0, (struct plan_q){1, 3}) == 666667);
    CHECK(plan_pts_to_us(INT64_MAX, INT64_MIN, tb_ms) == INT64_MAX);
    CHECK(plan_pts_to_us(7, 0, (struct plan_q){1, 0}) == 0);
}

static void
test_table(void)
{
    /* DTS-ordered B-frame timestamps, as an MP4 index would hold them. */
    int64_t t[] = {0, 2048, 1024, 512, 1536, 4096, 3072, 2560, 3584};
    size_t len = sizeof(t) / sizeof(t[0]);
    int64_t lo, hi;

    plan_sort_ts(t, len);
    for (size_t i = 0; i < len; i++)
        CHECKF(t[i] == (int64_t)i * 512, "i=%zu", i);
    plan_sort_ts(t, 0);
    plan_sort_ts(t, 1);

    CHECK(plan_table_nearest(t, len, 0) == 0);
    CHECK(plan_table_nearest(t, len, -100000) == 0);
    CHECK(plan_table_nearest(t, len, 1024) == 2);
    CHECK(plan_table_nearest(t, len, 1100) == 2);
    CHECK(plan_table_nearest(t, len, 1400) == 3);
    CHECK(plan_table_nearest(t, len, 1280) == 2); /* tie: earlier */
    CHECK(plan_table_nearest(t, len, 999999) == len - 1);
    CHECK(plan_table_nearest(t, 1, 77) == 0);

    CHECK(plan_count_below(t, len, 0) == 0);
    CHECK(plan_count_below(t, len, 1) == 1);
    CHECK(plan_count_below(t, len, 1024) == 2);
    CHECK(plan_count_below(t, len, 1025) == 3);
    CHECK(plan_count_below(t, len, INT64_MAX) == len);
    CHECK(plan_count_below(t, 0, 5) == 0);

    plan_table_window(t, len, 0, &lo, &hi);
    CHECK(lo == INT64_MIN && hi == 256);
    plan_table_window(t, len, 3, &lo, &hi);
    CHECK(lo == 1280 && hi == 1792);
    plan_table_window(t, len, len - 1, &lo, &hi);
    CHECK(lo == 3840 && hi == INT64_MAX);

    /* Negative timestamps: midpoints still between the neighbours. */
    int64_t neg[] = {-3, -1, 1};
    plan_table_window(neg, 3, 1, &lo, &hi);
    CHECK(lo == -2 && hi == 0);
    int64_t ext[] = {INT64_MIN, INT64_MAX};
    plan_table_window(ext, 2, 1, &lo, &hi);
    CHECK(lo == 0 && hi == INT64_MAX);
}

/*
 * An AVI index (decode timestamps, in frames) behind MPEG-4 with B-frames:
 * frame n shows at entry n + 1, the last one past the table.  Xvid leaves
 * empty chunks ahead (no entries for dts 1 and 2), and frames dropped
 * mid-stream leave gaps the place skips over.
 */
static void
test_table_place(void)
{
    const int64_t avi[] = {0, 1, 2, 3, 4, 5};
    const int64_t xvid[] = {0, 3, 4, 5, 6};
    const int64_t gap[] = {0, 1, 2, 6, 7};
    const int64_t mp4[] = {0, 512, 1024, 1536};

    for (int64_t n = 0; n < 6; n++)
        CHECKF(plan_table_place(avi, 6, n + 1, 1) - 1 == n, "n=%lld",
               (long long)n);
    CHECK(plan_table_place(avi, 6, 9, 1) == 9);
    CHECK(plan_table_place(avi, 6, -4, 1) == 0);
    for (int64_t n = 0; n < 6; n++)
        CHECKF(plan_table_place(xvid, 5, n + 3, 1) - 1 == n, "n=%lld",
               (long long)n);
    CHECK(plan_table_place(gap, 5, 6, 1) == 3);
    CHECK(plan_table_place(gap, 5, 4, 1) == 2); /* tie: earlier */
    CHECK(plan_table_place(gap, 5, 8, 1) == 5);
    /* Past the end in steps of dur, ties rounding down as in the table. */
    CHECK(plan_table_place(mp4, 4, 1536, 512) == 3);
    CHECK(plan_table_place(mp4, 4, 1792, 512) == 3);
    CHECK(plan_table_place(mp4, 4, 1793, 512) == 4);
    CHECK(plan_table_place(mp4, 4, 2048, 512) == 4);
    CHECK(plan_table_place(mp4, 4, 2305, 512) == 5);
    CHECK(plan_table_place(mp4, 4, 1600, 0) == 67); /* dur < 1: 1 */
    CHECK(plan_table_place(mp4, 1, 600, 512) == 1);
    CHECK(plan_table_place(mp4, 4, INT64_MAX, 1) == INT64_MAX - 1533);
    const int64_t low[] = {INT64_MIN};
    CHECK(plan_table_place(low, 1, INT64_MAX, 1) == INT64_MAX); /* clamps */
}

/* Packet pts in decode order, as an x264 stream with B-pyramid gives. */
static void
test_sorted_insert(void)
{
    const int64_t dec[] = {0, 4, 2, 1, 3, 8, 6, 5, 7, 8, -1};
    int64_t t[16];
    size_t len = 0;

    for (size_t i = 0; i < sizeof(dec) / sizeof(dec[0]); i++) {
        plan_sorted_insert(t, &len, dec[i]);
        CHECK(len == i + 1);
        for (size_t k = 1; k < len; k++)
            CHECKF(t[k - 1] <= t[k], "after %zu inserts", i + 1);
    }
    CHECK(t[0] == -1 && t[1] == 0 && t[len - 1] == 8 && t[len - 2] == 8);
    /* The rank of a frame is its display number within the run. */
    CHECK(plan_count_below(t, len, 5) == 6);
}

static void
test_seek(void)
{
    struct plan_seek s;

    memset(&s, 0, sizeof(s));
    CHECK(plan_should_seek(&s) == 1); /* nothing decoded yet */

    s.has_pos = 1;
    s.is_index_exact = 1;
    s.gap = 1000000;
    CHECK(plan_should_seek(&s) == 0); /* same GOP, however far */
    s.has_kf_ahead = 1;
    CHECK(plan_should_seek(&s) == 1);

    s.is_index_exact = 0;
    s.has_kf_ahead = 1;
    s.gap = 1;
    s.gop = 100;
    CHECK(plan_should_seek(&s) == 1); /* a known keyframe is never wrong */
    s.has_kf_ahead = 0;
    CHECK(plan_should_seek(&s) == 0);
    s.gap = 100;
    CHECK(plan_should_seek(&s) == 0);
    s.gap = 101;
    CHECK(plan_should_seek(&s) == 1);
    s.gop = 0;
    s.gap = 1;
    CHECK(plan_should_seek(&s) == 1);
}

int
main(void)
{
    test_positions();
    test_count();
    test_frame_pts();
    test_table();
    test_table_place();
    test_sorted_insert();
    test_seek();
    return CHECK_DONE();
}
