/*
 * Unit test of common/proto.c: round trips, every truncation, trailing
 * bytes, header caps, string rules, the JPEG magic check and a fixed-seed
 * mutation fuzz loop; built plain and under ASan/UBSan.
 */
#include "check.h"
#include "proto.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define BUF_MAX 4096

static const uint8_t tiny_jpeg[] = {0xFF, 0xD8, 0xFF, 0xE0, 0x00,
                                    0x10, 0x4A, 0x46, 0xFF, 0xD9};

/* A message split as the wire carries it. */
struct wire {
    uint8_t buf[BUF_MAX];
    size_t len;
};

static void
wire_hello(struct wire *w, uint32_t pid)
{
    struct msg_hello m = {.pid = pid};
    long n = proto_encode_hello(w->buf, sizeof(w->buf), &m);

    CHECK(n == PROTO_HDR_LEN + 4);
    w->len = n < 0 ? 0 : (size_t)n;
}

static void
wire_job(struct wire *w, const struct msg_job *m)
{
    long n = proto_encode_job(w->buf, sizeof(w->buf), m);

    CHECK(n == PROTO_HDR_LEN + 8 + 4 + 1 + 1);
    w->len = n < 0 ? 0 : (size_t)n;
}

static void
wire_result(struct wire *w, const struct msg_result *m)
{
    long n = proto_encode_result(w->buf, sizeof(w->buf), m);

    CHECK(n == (long)(PROTO_HDR_LEN + 8 + 1 + 4 + 4 + 8 + 2 +
                      strlen(m->error)));
    w->len = n < 0 ? 0 : (size_t)n;
}

/* FRAME = encoded head followed by the JPEG bytes, as the worker sends. */
static void
wire_frame(struct wire *w, const struct msg_frame *m)
{
    long n = proto_encode_frame_head(w->buf, sizeof(w->buf), m);

    CHECK(n == PROTO_HDR_LEN + PROTO_FRAME_FIXED);
    if (n < 0 || (size_t)n + m->jpeg_len > sizeof(w->buf)) {
        w->len = 0;
        return;
    }
    memcpy(w->buf + n, m->jpeg, m->jpeg_len);
    w->len = (size_t)n + m->jpeg_len;
}

/* Header of a wire message must parse and agree with the real length. */
static void
check_header(const struct wire *w, uint16_t type)
{
    struct proto_hdr h;
    const char *why = NULL;

    CHECK(w->len >= PROTO_HDR_LEN);
    CHECK(proto_parse_header(w->buf, PROTO_FRAME_MAX_DEFAULT, &h, &why) == 0);
    CHECK(h.type == type);
    CHECK(h.version == PROTO_VERSION);
    CHECK(h.len == w->len - PROTO_HDR_LEN);
}

/*
 * Copies len bytes to an exact-size heap block so that ASan flags any
 * read past the end, then runs the decoder.
 */
typedef int (*decode_fn)(const uint8_t *, size_t, void *);

static int
decode_exact(decode_fn fn, const uint8_t *p, size_t len, void *out)
{
    uint8_t *copy = malloc(len ? len : 1);
    int rc;

    if (copy == NULL)
        abort();
    if (len)
        memcpy(copy, p, len);
    rc = fn(copy, len, out);
    free(copy);
    return rc;
}

static int
dec_hello(const uint8_t *p, size_t n, void *m)
{
    return proto_decode_hello(p, n, m);
}

static int
dec_job(const uint8_t *p, size_t n, void *m)
{
    return proto_decode_job(p, n, m);
}

static int
dec_frame(const uint8_t *p, size_t n, void *m)
{
    return proto_decode_frame(p, n, m);
}

static int
dec_result(const uint8_t *p, size_t n, void *m)
{
    return proto_decode_result(p, n, m);
}

/* Every strict prefix and one byte of trailing garbage must be refused. */
static void
check_framing(const struct wire *w, decode_fn fn, const char *name)
{
    const uint8_t *pl = w->buf + PROTO_HDR_LEN;
    size_t plen = w->len - PROTO_HDR_LEN;
    uint8_t longer[BUF_MAX + 1];
    union {
        struct msg_hello h;
        struct msg_job j;
        struct msg_frame f;
        struct msg_result r;
    } out;

    CHECKF(decode_exact(fn, pl, plen, &out) == 0, "%s: valid", name);
    for (size_t cut = 0; cut < plen; cut++)
        CHECKF(decode_exact(fn, pl, cut, &out) == -1,
               "%s: prefix of %zu of %zu bytes accepted", name, cut, plen);
    memcpy(longer, pl, plen);
    for (int extra = 1; extra <= 3; extra++) {
        memset(longer + plen, 0xD9, (size_t)extra);
        CHECKF(decode_exact(fn, longer, plen + (size_t)extra, &out) == -1,
               "%s: %d trailing bytes accepted", name, extra);
    }
}

static void
test_hello(void)
{
    struct wire w;
    struct msg_hello got;
    uint32_t pids[] = {0, 1, 4242, UINT32_MAX};

    for (size_t i = 0; i < sizeof(pids) / sizeof(pids[0]); i++) {
        wire_hello(&w, pids[i]);
        check_header(&w, MSG_HELLO);
        memset(&got, 0xAA, sizeof(got));
        CHECK(proto_decode_hello(w.buf + PROTO_HDR_LEN,
                                 w.len - PROTO_HDR_LEN, &got) == 0);
        CHECK(got.pid == pids[i]);
    }
    /* Byte order is fixed: big-endian on the wire. */
    wire_hello(&w, 0x01020304);
    CHECK(w.buf[0] == 0 && w.buf[1] == 0 && w.buf[2] == 0 && w.buf[3] == 4);
    CHECK(w.buf[4] == 0 && w.buf[5] == MSG_HELLO);
    CHECK(w.buf[6] == 0 && w.buf[7] == PROTO_VERSION);
    CHECK(w.buf[8] == 1 && w.buf[9] == 2 && w.buf[10] == 3 && w.buf[11] == 4);
    check_framing(&w, dec_hello, "hello");
}

static void
test_job(void)
{
    struct msg_job cases[] = {
        {.job_id = 1, .frames = 5, .mode = MODE_ACCURATE, .quality = 90},
        {.job_id = UINT64_MAX, .frames = PROTO_MAX_FRAMES,
         .mode = MODE_KEYFRAME, .quality = 100},
        {.job_id = 0x0102030405060708ull, .frames = 1, .mode = MODE_KEYFRAME,
         .quality = 1},
    };
    struct msg_job bad[] = {
        {.job_id = 1, .frames = 0, .mode = 0, .quality = 90},
        {.job_id = 1, .frames = PROTO_MAX_FRAMES + 1, .mode = 0, .quality = 90},
        {.job_id = 1, .frames = 5, .mode = 2, .quality = 90},
        {.job_id = 1, .frames = 5, .mode = 255, .quality = 90},
        {.job_id = 1, .frames = 5, .mode = 0, .quality = 0},
        {.job_id = 1, .frames = 5, .mode = 0, .quality = 101},
        {.job_id = 1, .frames = UINT32_MAX, .mode = 0, .quality = 90},
    };
    struct wire w;
    struct msg_job got;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        wire_job(&w, &cases[i]);
        check_header(&w, MSG_JOB);
        memset(&got, 0xAA, sizeof(got));
        CHECK(proto_decode_job(w.buf + PROTO_HDR_LEN, w.len - PROTO_HDR_LEN,
                               &got) == 0);
        CHECK(got.job_id == cases[i].job_id);
        CHECK(got.frames == cases[i].frames);
        CHECK(got.mode == cases[i].mode);
        CHECK(got.quality == cases[i].quality);
        check_framing(&w, dec_job, "job");
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        wire_job(&w, &bad[i]);
        CHECKF(proto_decode_job(w.buf + PROTO_HDR_LEN, w.len - PROTO_HDR_LEN,
                                &got) == -1,
               "bad job %zu accepted", i);
    }
}

static void
test_result(void)
{
    struct msg_result m;
    struct msg_result got;
    struct wire w;
    const char *errs[] = {"", "invalid data: moov atom not found",
                          "x\x01\x7f\xff utf-8 \xc3\xa9"};

    for (size_t i = 0; i < sizeof(errs) / sizeof(errs[0]); i++) {
        memset(&m, 0, sizeof(m));
        m.job_id = 77 + i;
        m.code = (uint8_t)(i % 3);
        m.frames_sent = (uint32_t)i * 2;
        m.frames_decoded = 123456;
        m.total_frames = i == 2 ? -1 : (int64_t)1 << 40;
        strcpy(m.error, errs[i]);
        wire_result(&w, &m);
        check_header(&w, MSG_RESULT);
        memset(&got, 0xAA, sizeof(got));
        CHECK(proto_decode_result(w.buf + PROTO_HDR_LEN,
                                  w.len - PROTO_HDR_LEN, &got) == 0);
        CHECK(got.job_id == m.job_id);
        CHECK(got.code == m.code);
        CHECK(got.frames_sent == m.frames_sent);
        CHECK(got.frames_decoded == m.frames_decoded);
        CHECK(got.total_frames == m.total_frames);
        CHECK(strcmp(got.error, m.error) == 0);
        check_framing(&w, dec_result, "result");
    }

    /* The longest allowed error string round-trips; one more is refused. */
    memset(&m, 0, sizeof(m));
    m.job_id = 9;
    memset(m.error, 'e', PROTO_ERROR_MAX);
    m.error[PROTO_ERROR_MAX] = '\0';
    wire_result(&w, &m);
    CHECK(w.len - PROTO_HDR_LEN <= PROTO_CTL_MAX);
    CHECK(proto_decode_result(w.buf + PROTO_HDR_LEN, w.len - PROTO_HDR_LEN,
                              &got) == 0);
    CHECK(strlen(got.error) == PROTO_ERROR_MAX);
    check_framing(&w, dec_result, "result max string");
    {
        /* Hand-build a payload with a PROTO_ERROR_MAX + 1 byte string. */
        uint8_t p[64 + PROTO_ERROR_MAX + 1];
        size_t off = 8 + 1 + 4 + 4 + 8;
        uint16_t n = PROTO_ERROR_MAX + 1;

        memcpy(p, w.buf + PROTO_HDR_LEN, off);
        p[off] = (uint8_t)(n >> 8);
        p[off + 1] = (uint8_t)n;
        memset(p + off + 2, 'e', n);
        CHECK(decode_exact(dec_result, p, off + 2 + n, &got) == -1);
        /* A string length that runs past the payload. */
        p[off] = 0xFF;
        p[off + 1] = 0xFF;
        CHECK(decode_exact(dec_result, p, off + 2 + n, &got) == -1);
    }

    /* A NUL anywhere inside the string is refused. */
    memset(&m, 0, sizeof(m));
    strcpy(m.error, "abcdef");
    wire_result(&w, &m);
    for (size_t at = 0; at < 6; at++) {
        uint8_t p[BUF_MAX];
        size_t plen = w.len - PROTO_HDR_LEN;

        memcpy(p, w.buf + PROTO_HDR_LEN, plen);
        p[plen - 6 + at] = '\0';
        CHECKF(decode_exact(dec_result, p, plen, &got) == -1,
               "NUL at %zu accepted", at);
    }

    /* Out-of-range fields. */
    memset(&m, 0, sizeof(m));
    m.code = RESULT_TRANSIENT + 1;
    wire_result(&w, &m);
    CHECK(proto_decode_result(w.buf + PROTO_HDR_LEN, w.len - PROTO_HDR_LEN,
                              &got) == -1);
    m.code = RESULT_OK;
    m.frames_sent = PROTO_MAX_FRAMES + 1;
    wire_result(&w, &m);
    CHECK(proto_decode_result(w.buf + PROTO_HDR_LEN, w.len - PROTO_HDR_LEN,
                              &got) == -1);
    m.frames_sent = PROTO_MAX_FRAMES;
    wire_result(&w, &m);
    CHECK(proto_decode_result(w.buf + PROTO_HDR_LEN, w.len - PROTO_HDR_LEN,
                              &got) == 0);
}

static void
test_frame(void)
{
    struct msg_frame m = {.job_id = 5,
                          .index = 3,
                          .frame_number = 150,
                          .pts_us = -40000,
                          .jpeg = tiny_jpeg,
                          .jpeg_len = sizeof(tiny_jpeg)};
    struct msg_frame got;
    struct wire w;
    uint8_t p[BUF_MAX];
    size_t plen;

    wire_frame(&w, &m);
    check_header(&w, MSG_FRAME);
    plen = w.len - PROTO_HDR_LEN;
    memset(&got, 0xAA, sizeof(got));
    CHECK(proto_decode_frame(w.buf + PROTO_HDR_LEN, plen, &got) == 0);
    CHECK(got.job_id == 5 && got.index == 3);
    CHECK(got.frame_number == 150 && got.pts_us == -40000);
    CHECK(got.jpeg_len == sizeof(tiny_jpeg));
    CHECK(got.jpeg == w.buf + PROTO_HDR_LEN + PROTO_FRAME_FIXED);
    CHECK(got.jpeg != NULL &&
          memcmp(got.jpeg, tiny_jpeg, sizeof(tiny_jpeg)) == 0);
    check_framing(&w, dec_frame, "frame");

    /* Not a JPEG: either of the two SOI bytes wrong. */
    memcpy(p, w.buf + PROTO_HDR_LEN, plen);
    p[PROTO_FRAME_FIXED] = 0x89;
    CHECK(decode_exact(dec_frame, p, plen, &got) == -1);
    memcpy(p, w.buf + PROTO_HDR_LEN, plen);
    p[PROTO_FRAME_FIXED + 1] = 0xD9;
    CHECK(decode_exact(dec_frame, p, plen, &got) == -1);

    /* JPEG shorter than 4 bytes, even with a valid SOI. */
    for (uint32_t n = 0; n < 4; n++) {
        struct msg_frame s = m;

        s.jpeg_len = n;
        wire_frame(&w, &s);
        CHECKF(decode_exact(dec_frame, w.buf + PROTO_HDR_LEN,
                            w.len - PROTO_HDR_LEN, &got) == -1,
               "jpeg of %u bytes accepted", n);
    }

    /* jpeg_len field that disagrees with the payload, both ways. */
    wire_frame(&w, &m);
    memcpy(p, w.buf + PROTO_HDR_LEN, plen);
    {
        size_t at = PROTO_FRAME_FIXED - 4;
        uint32_t lies[] = {(uint32_t)sizeof(tiny_jpeg) + 1,
                           (uint32_t)sizeof(tiny_jpeg) - 1, UINT32_MAX,
                           0x80000000u};

        for (size_t i = 0; i < sizeof(lies) / sizeof(lies[0]); i++) {
            p[at] = (uint8_t)(lies[i] >> 24);
            p[at + 1] = (uint8_t)(lies[i] >> 16);
            p[at + 2] = (uint8_t)(lies[i] >> 8);
            p[at + 3] = (uint8_t)lies[i];
            CHECKF(decode_exact(dec_frame, p, plen, &got) == -1,
                   "jpeg_len %u accepted", lies[i]);
        }
    }
}

static void
put_hdr(uint8_t *h, uint32_t len, uint16_t type, uint16_t version)
{
    h[0] = (uint8_t)(len >> 24);
    h[1] = (uint8_t)(len >> 16);
    h[2] = (uint8_t)(len >> 8);
    h[3] = (uint8_t)len;
    h[4] = (uint8_t)(type >> 8);
    h[5] = (uint8_t)type;
    h[6] = (uint8_t)(version >> 8);
    h[7] = (uint8_t)version;
}

static int
parse(uint32_t len, uint16_t type, uint16_t version, uint32_t frame_max,
      const char **why)
{
    uint8_t h[PROTO_HDR_LEN];
    struct proto_hdr out;

    put_hdr(h, len, type, version);
    *why = NULL;
    return proto_parse_header(h, frame_max, &out, why);
}

static void
test_header(void)
{
    const char *why;
    uint16_t ctl[] = {MSG_HELLO, MSG_JOB, MSG_RESULT};
    uint16_t unknown[] = {0, 5, 6, 0x0100, 0xFFFF};
    uint16_t versions[] = {0, PROTO_VERSION + 1, 99, 0x0100, 0xFFFF};
    uint32_t fmax = PROTO_FRAME_MAX_DEFAULT;

    for (size_t i = 0; i < 3; i++) {
        CHECK(parse(0, ctl[i], PROTO_VERSION, fmax, &why) == 0);
        CHECK(parse(PROTO_CTL_MAX, ctl[i], PROTO_VERSION, fmax, &why) == 0);
        CHECK(parse(PROTO_CTL_MAX + 1, ctl[i], PROTO_VERSION, fmax, &why) ==
              -1);
        CHECK(why != NULL && strstr(why, "long") != NULL);
        CHECK(parse(0xFFFFFFF0u, ctl[i], PROTO_VERSION, fmax, &why) == -1);
        CHECK(parse(UINT32_MAX, ctl[i], PROTO_VERSION, fmax, &why) == -1);
    }
    /* FRAME: the cap is frame_max plus the fixed fields, no more. */
    CHECK(parse(fmax + PROTO_FRAME_FIXED, MSG_FRAME, PROTO_VERSION, fmax,
                &why) == 0);
    CHECK(parse(fmax + PROTO_FRAME_FIXED + 1, MSG_FRAME, PROTO_VERSION, fmax,
                &why) == -1);
    CHECK(why != NULL);
    CHECK(parse(UINT32_MAX, MSG_FRAME, PROTO_VERSION, fmax, &why) == -1);
    CHECK(parse(0xF0000000u, MSG_FRAME, PROTO_VERSION, fmax, &why) == -1);
    CHECK(parse(1024 + PROTO_FRAME_FIXED, MSG_FRAME, PROTO_VERSION, 1024,
                &why) == 0);
    CHECK(parse(1025 + PROTO_FRAME_FIXED, MSG_FRAME, PROTO_VERSION, 1024,
                &why) == -1);

    for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
        CHECKF(parse(4, unknown[i], PROTO_VERSION, fmax, &why) == -1,
               "type %u accepted", unknown[i]);
        CHECK(why != NULL && strstr(why, "type") != NULL);
    }
    for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
        CHECKF(parse(4, MSG_HELLO, versions[i], fmax, &why) == -1,
               "version %u accepted", versions[i]);
        CHECK(why != NULL && strstr(why, "version") != NULL);
    }
    CHECK(strcmp(proto_type_name(MSG_HELLO), "HELLO") == 0);
    CHECK(strcmp(proto_type_name(MSG_JOB), "JOB") == 0);
    CHECK(strcmp(proto_type_name(MSG_FRAME), "FRAME") == 0);
    CHECK(strcmp(proto_type_name(MSG_RESULT), "RESULT") == 0);
    CHECK(strcmp(proto_type_name(0), "UNKNOWN") == 0);
    CHECK(strcmp(proto_type_name(999), "UNKNOWN") == 0);
}

/* Encoders never write past cap and fail for every cap too small. */
static void
test_encoder_caps(void)
{
    struct msg_hello h = {.pid = 1};
    struct msg_job j = {.job_id = 1, .frames = 5, .quality = 90};
    struct msg_result r;
    struct msg_frame f = {.jpeg = tiny_jpeg, .jpeg_len = sizeof(tiny_jpeg)};
    uint8_t full[BUF_MAX];
    long need[4];

    memset(&r, 0, sizeof(r));
    strcpy(r.error, "some error text");
    need[0] = proto_encode_hello(full, sizeof(full), &h);
    need[1] = proto_encode_job(full, sizeof(full), &j);
    need[2] = proto_encode_result(full, sizeof(full), &r);
    need[3] = proto_encode_frame_head(full, sizeof(full), &f);
    for (int k = 0; k < 4; k++) {
        CHECK(need[k] > PROTO_HDR_LEN);
        for (long cap = 0; cap < need[k]; cap++) {
            /* Heap block of exactly cap bytes: ASan sees any overrun. */
            uint8_t *b = malloc(cap ? (size_t)cap : 1);
            long n = -2;

            if (b == NULL)
                abort();
            switch (k) {
            case 0:
                n = proto_encode_hello(b, (size_t)cap, &h);
                break;
            case 1:
                n = proto_encode_job(b, (size_t)cap, &j);
                break;
            case 2:
                n = proto_encode_result(b, (size_t)cap, &r);
                break;
            case 3:
                n = proto_encode_frame_head(b, (size_t)cap, &f);
                break;
            }
            CHECKF(n == -1, "encoder %d with cap %ld returned %ld", k, cap,
                   n);
            free(b);
        }
    }

    /* Writer: sticky overflow, strings over 64 KiB, payload over 4 GiB. */
    {
        struct proto_writer w;
        uint8_t b[16];
        char *big = malloc(UINT16_MAX + 2);

        if (big == NULL)
            abort();
        proto_writer_init(&w, b, sizeof(b), MSG_HELLO);
        proto_put_u64(&w, 1);
        CHECK(!w.is_overflow);
        proto_put_u32(&w, 1);
        CHECK(w.is_overflow);
        proto_put_u8(&w, 1);
        CHECK(proto_writer_finish(&w, 0) == -1);

        memset(big, 'a', UINT16_MAX + 1);
        big[UINT16_MAX + 1] = '\0';
        proto_writer_init(&w, b, sizeof(b), MSG_RESULT);
        proto_put_str(&w, big);
        CHECK(w.is_overflow);
        free(big);

        proto_writer_init(&w, b, sizeof(b), MSG_FRAME);
        proto_put_u32(&w, 7);
        CHECK(proto_writer_finish(&w, UINT32_MAX) == -1);
        proto_writer_init(&w, b, sizeof(b), MSG_FRAME);
        CHECK(proto_writer_finish(&w, UINT32_MAX) == PROTO_HDR_LEN);
    }
}

/* Reader getters on an empty or short buffer yield 0 and stay bad. */
static void
test_reader(void)
{
    struct proto_reader r;
    uint8_t one[1] = {0x7F};
    char s[8];

    proto_reader_init(&r, one, 1);
    CHECK(proto_get_u16(&r) == 0);
    CHECK(r.is_bad);
    CHECK(proto_get_u8(&r) == 0); /* sticky even though a byte is left */
    CHECK(proto_end(&r) == -1);

    proto_reader_init(&r, one, 1);
    CHECK(proto_get_u8(&r) == 0x7F);
    CHECK(proto_end(&r) == 0);

    proto_reader_init(&r, one, 0);
    CHECK(proto_end(&r) == 0);
    proto_get_str(&r, s, sizeof(s) - 1);
    CHECK(r.is_bad && s[0] == '\0');

    {
        uint8_t str[] = {0, 3, 'a', 'b', 'c'};

        proto_reader_init(&r, str, sizeof(str));
        proto_get_str(&r, s, 2);
        CHECK(r.is_bad && s[0] == '\0');
        proto_reader_init(&r, str, sizeof(str));
        proto_get_str(&r, s, 3);
        CHECK(!r.is_bad && strcmp(s, "abc") == 0 && proto_end(&r) == 0);
    }
}

/* xorshift64*: fixed seed, so a failure reproduces. */
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint64_t
rng(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1Dull;
}

static void
mutate(uint8_t *b, size_t *len, size_t cap)
{
    int rounds = 1 + (int)(rng() % 4);

    for (int i = 0; i < rounds; i++) {
        size_t n = *len;

        switch (rng() % 7) {
        case 0: /* flip a bit */
            if (n)
                b[rng() % n] ^= (uint8_t)(1u << (rng() % 8));
            break;
        case 1: /* random byte */
            if (n)
                b[rng() % n] = (uint8_t)rng();
            break;
        case 2: /* interesting byte */
            if (n) {
                static const uint8_t v[] = {0, 1, 0x7F, 0x80, 0xFF, 0xD8};
                b[rng() % n] = v[rng() % sizeof(v)];
            }
            break;
        case 3: /* truncate */
            *len = n ? rng() % n : 0;
            break;
        case 4: /* append random bytes */
        {
            size_t add = 1 + rng() % 16;
            for (size_t k = 0; k < add && *len < cap; k++)
                b[(*len)++] = (uint8_t)rng();
            break;
        }
        case 5: /* delete one byte */
            if (n) {
                size_t at = rng() % n;
                memmove(b + at, b + at + 1, n - at - 1);
                *len = n - 1;
            }
            break;
        case 6: /* insert one byte */
            if (n < cap) {
                size_t at = n ? rng() % (n + 1) : 0;
                memmove(b + at + 1, b + at, n - at);
                b[at] = (uint8_t)rng();
                *len = n + 1;
            }
            break;
        }
    }
}

/*
 * Runs every decoder over one mutated message in an exact-size heap copy.
 * Whatever a decoder accepts must be canonical: encoding the decoded
 * struct again gives back the very same bytes.
 */
static unsigned long fuzz_accepted;

static void
fuzz_one(const uint8_t *msg, size_t len)
{
    uint8_t *m = malloc(len ? len : 1);
    uint8_t re[BUF_MAX];
    const uint8_t *pl;
    size_t plen;
    struct proto_hdr h;
    const char *why;
    struct msg_hello mh;
    struct msg_job mj;
    struct msg_frame mf;
    struct msg_result mr;

    if (m == NULL)
        abort();
    memcpy(m, msg, len);
    if (len >= PROTO_HDR_LEN &&
        proto_parse_header(m, PROTO_FRAME_MAX_DEFAULT, &h, &why) == 0) {
        CHECK(h.version == PROTO_VERSION);
        CHECK(h.type >= MSG_HELLO && h.type <= MSG_RESULT);
        CHECK(h.len <= PROTO_FRAME_MAX_DEFAULT + PROTO_FRAME_FIXED);
        CHECK(h.type == MSG_FRAME || h.len <= PROTO_CTL_MAX);
    }
    pl = len >= PROTO_HDR_LEN ? m + PROTO_HDR_LEN : m;
    plen = len >= PROTO_HDR_LEN ? len - PROTO_HDR_LEN : len;
    /* Decode the payload in its own exact-size block too. */
    {
        uint8_t *p = malloc(plen ? plen : 1);

        if (p == NULL)
            abort();
        memcpy(p, pl, plen);
        if (proto_decode_hello(p, plen, &mh) == 0) {
            fuzz_accepted++;
            CHECK(plen == 4);
            CHECK(proto_encode_hello(re, sizeof(re), &mh) == 12 &&
                  memcmp(re + PROTO_HDR_LEN, p, plen) == 0);
        }
        if (proto_decode_job(p, plen, &mj) == 0) {
            fuzz_accepted++;
            CHECK(mj.frames >= 1 && mj.frames <= PROTO_MAX_FRAMES);
            CHECK(mj.mode <= MODE_KEYFRAME);
            CHECK(mj.quality >= 1 && mj.quality <= 100);
            CHECK(proto_encode_job(re, sizeof(re), &mj) ==
                      (long)(PROTO_HDR_LEN + plen) &&
                  memcmp(re + PROTO_HDR_LEN, p, plen) == 0);
        }
        if (proto_decode_frame(p, plen, &mf) == 0) {
            fuzz_accepted++;
            CHECK(mf.jpeg == p + PROTO_FRAME_FIXED);
            CHECK(mf.jpeg_len >= 4 &&
                  (size_t)mf.jpeg_len + PROTO_FRAME_FIXED == plen);
            CHECK(mf.jpeg[0] == 0xFF && mf.jpeg[1] == 0xD8);
            CHECK(proto_encode_frame_head(re, sizeof(re), &mf) ==
                      PROTO_HDR_LEN + PROTO_FRAME_FIXED &&
                  memcmp(re + PROTO_HDR_LEN, p, PROTO_FRAME_FIXED) == 0);
        }
        if (proto_decode_result(p, plen, &mr) == 0) {
            fuzz_accepted++;
            CHECK(mr.code <= RESULT_TRANSIENT);
            CHECK(mr.frames_sent <= PROTO_MAX_FRAMES);
            CHECK(strlen(mr.error) <= PROTO_ERROR_MAX);
            CHECK(proto_encode_result(re, sizeof(re), &mr) ==
                      (long)(PROTO_HDR_LEN + plen) &&
                  memcmp(re + PROTO_HDR_LEN, p, plen) == 0);
        }
        free(p);
    }
    free(m);
}

static void
test_fuzz(unsigned long iterations)
{
    struct wire seeds[6];
    struct msg_job j = {.job_id = 3, .frames = 5, .mode = 1, .quality = 90};
    struct msg_result r;
    struct msg_frame f = {.job_id = 3, .index = 1, .frame_number = 25,
                          .pts_us = 1000000, .jpeg = tiny_jpeg,
                          .jpeg_len = sizeof(tiny_jpeg)};
    size_t nseeds = sizeof(seeds) / sizeof(seeds[0]);
    unsigned long before = check_failed;

    wire_hello(&seeds[0], 31337);
    wire_job(&seeds[1], &j);
    memset(&r, 0, sizeof(r));
    wire_result(&seeds[2], &r);
    strcpy(r.error, "invalid data: no video stream");
    r.frames_sent = 5;
    wire_result(&seeds[3], &r);
    wire_frame(&seeds[4], &f);
    f.jpeg_len = 4;
    wire_frame(&seeds[5], &f);

    for (unsigned long i = 0; i < iterations; i++) {
        uint8_t b[BUF_MAX];
        const struct wire *s = &seeds[rng() % nseeds];
        size_t len = s->len;

        memcpy(b, s->buf, len);
        mutate(b, &len, sizeof(b));
        fuzz_one(b, len);
        if (check_failed - before > 20) {
            fprintf(stderr, "fuzz: too many failures, stopping at %lu\n", i);
            break;
        }
    }
    /* Some mutations (e.g. a flipped pid bit) stay valid: prove the
     * accepting paths were exercised, not only the rejecting ones. */
    CHECK(fuzz_accepted > iterations / 100);
}

int
main(int argc, char **argv)
{
    unsigned long iterations = 200000;

    if (argc > 1)
        iterations = strtoul(argv[1], NULL, 10);
    test_hello();
    test_job();
    test_result();
    test_frame();
    test_header();
    test_encoder_caps();
    test_reader();
    test_fuzz(iterations);
    return CHECK_DONE();
}
