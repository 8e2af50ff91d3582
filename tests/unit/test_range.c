/*
 * Unit test for worker/range.c: the fixed-point expansion gives exactly
 * the rounded quotient for all 256 inputs, on the vector path (whole
 * blocks of 16) and on the scalar path (single samples, tails).
 */
#include "check.h"
#include "range.h"

#include <string.h>

static int
clamp_u8(long v)
{
    return v < 0 ? 0 : v > 255 ? 255 : (int)v;
}

/* The definition: rounded to nearest, halves away from zero, clamped. */
static int
reference(long v, enum range_plane kind)
{
    long off = kind == RANGE_LUMA ? 16 : 128;
    long den = kind == RANGE_LUMA ? 219 : 224;
    long num = (v - off) * 255;
    long q = num >= 0 ? (num * 2 + den) / (den * 2)
                      : -((-num * 2 + den) / (den * 2));

    return clamp_u8(q + (kind == RANGE_LUMA ? 0 : 128));
}

static const char *
name(enum range_plane kind)
{
    return kind == RANGE_LUMA ? "luma" : "chroma";
}

/* Each input alone: the scalar path. */
static void
test_each_value(enum range_plane kind)
{
    for (int v = 0; v < 256; v++) {
        uint8_t in = (uint8_t)v, out = 0;

        range_expand(&out, &in, 1, kind);
        CHECKF(out == reference(v, kind), "%s v=%d got %d want %d", name(kind),
               v, out, reference(v, kind));
    }
}

/*
 * Every input in one buffer, at every length up to 300 and from every
 * offset mod 16: whole blocks, tails, and unaligned loads and stores.
 */
static void
test_buffers(enum range_plane kind)
{
    uint8_t in[320], out[320];
    int bad = 0;

    for (int i = 0; i < (int)sizeof(in); i++)
        in[i] = (uint8_t)(i * 7 + 3); /* 7 is odd: all 256 values */
    for (int off = 0; off < 16; off++)
        for (size_t n = 0; n + (size_t)off <= 300; n++) {
            memset(out, 0xa5, sizeof(out));
            range_expand(out + off, in + off, n, kind);
            for (size_t i = 0; i < n; i++)
                bad += out[off + i] != reference(in[off + i], kind);
            /* Nothing written past the end. */
            bad += off + n < sizeof(out) && out[off + n] != 0xa5;
        }
    CHECKF(bad == 0, "%s: %d wrong samples", name(kind), bad);
}

/* In place, as the API allows. */
static void
test_in_place(enum range_plane kind)
{
    uint8_t buf[256];
    int bad = 0;

    for (int v = 0; v < 256; v++)
        buf[v] = (uint8_t)v;
    range_expand(buf, buf, sizeof(buf), kind);
    for (int v = 0; v < 256; v++)
        bad += buf[v] != reference(v, kind);
    CHECKF(bad == 0, "%s in place: %d wrong", name(kind), bad);
}

/* Spot values anyone can check by hand. */
static void
test_landmarks(void)
{
    CHECK(reference(16, RANGE_LUMA) == 0);
    CHECK(reference(235, RANGE_LUMA) == 255);
    CHECK(reference(0, RANGE_LUMA) == 0);
    CHECK(reference(255, RANGE_LUMA) == 255);
    CHECK(reference(126, RANGE_LUMA) == 128); /* 110 * 255 / 219 = 128.08 */
    CHECK(reference(128, RANGE_CHROMA) == 128);
    CHECK(reference(240, RANGE_CHROMA) == 255);
    /* (128 - 112) is an exact half below: -127.5 rounds away, to -128. */
    CHECK(reference(16, RANGE_CHROMA) == 0);
    CHECK(reference(17, RANGE_CHROMA) == 2);
}

int
main(void)
{
    test_landmarks();
    for (int k = RANGE_LUMA; k <= RANGE_CHROMA; k++) {
        test_each_value((enum range_plane)k);
        test_buffers((enum range_plane)k);
        test_in_place((enum range_plane)k);
    }
    return CHECK_DONE();
}
