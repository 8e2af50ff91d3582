/*
 * Encoding and bounds-checked decoding of supervisor/worker messages; linked
 * into both processes.
 */
#include "proto.h"

#include <string.h>

void
proto_writer_init(struct proto_writer *w, uint8_t *buf, size_t cap,
                  uint16_t type)
{
    w->buf = buf;
    w->cap = cap;
    w->len = 0;
    w->is_overflow = 0;
    proto_put_u32(w, 0); /* length, filled in by proto_writer_finish */
    proto_put_u16(w, type);
    proto_put_u16(w, PROTO_VERSION);
}

static void
put_be(struct proto_writer *w, uint64_t v, size_t n)
{
    if (w->is_overflow || w->cap - w->len < n) {
        w->is_overflow = 1;
        return;
    }
    for (size_t i = 0; i < n; i++)
        w->buf[w->len + i] = (uint8_t)(v >> (8 * (n - 1 - i)));
    w->len += n;
}

void
proto_put_u8(struct proto_writer *w, uint8_t v)
{
    put_be(w, v, 1);
}

void
proto_put_u16(struct proto_writer *w, uint16_t v)
{
    put_be(w, v, 2);
}

void
proto_put_u32(struct proto_writer *w, uint32_t v)
{
    put_be(w, v, 4);
}

void
proto_put_u64(struct proto_writer *w, uint64_t v)
{
    put_be(w, v, 8);
}

void
proto_put_str(struct proto_writer *w, const char *s)
{
    size_t n = strlen(s);

    if (n > UINT16_MAX) {
        w->is_overflow = 1;
        return;
    }
    proto_put_u16(w, (uint16_t)n);
    if (w->is_overflow || w->cap - w->len < n) {
        w->is_overflow = 1;
        return;
    }
    memcpy(w->buf + w->len, s, n);
    w->len += n;
}

long
proto_writer_finish(struct proto_writer *w, uint32_t extra_len)
{
    uint64_t payload;
    size_t len = w->len;

    if (w->is_overflow || len < PROTO_HDR_LEN)
        return -1;
    payload = (uint64_t)(len - PROTO_HDR_LEN) + extra_len;
    if (payload > UINT32_MAX)
        return -1;
    w->len = 0;
    proto_put_u32(w, (uint32_t)payload);
    w->len = len;
    return (long)len;
}

void
proto_reader_init(struct proto_reader *r, const uint8_t *p, size_t len)
{
    r->p = p;
    r->len = len;
    r->off = 0;
    r->is_bad = 0;
}

static uint64_t
get_be(struct proto_reader *r, size_t n)
{
    uint64_t v = 0;

    if (r->is_bad || r->len - r->off < n) {
        r->is_bad = 1;
        return 0;
    }
    for (size_t i = 0; i < n; i++)
        v = (v << 8) | r->p[r->off + i];
    r->off += n;
    return v;
}

uint8_t
proto_get_u8(struct proto_reader *r)
{
    return (uint8_t)get_be(r, 1);
}

uint16_t
proto_get_u16(struct proto_reader *r)
{
    return (uint16_t)get_be(r, 2);
}

uint32_t
proto_get_u32(struct proto_reader *r)
{
    return (uint32_t)get_be(r, 4);
}

uint64_t
proto_get_u64(struct proto_reader *r)
{
    return get_be(r, 8);
}

void
proto_get_str(struct proto_reader *r, char *dst, size_t max)
{
    uint16_t n = proto_get_u16(r);

    dst[0] = '\0';
    if (r->is_bad || n > max || r->len - r->off < n ||
        memchr(r->p + r->off, '\0', n) != NULL) {
        r->is_bad = 1;
        return;
    }
    memcpy(dst, r->p + r->off, n);
    dst[n] = '\0';
    r->off += n;
}

int
proto_end(const struct proto_reader *r)
{
    return r->is_bad || r->off != r->len ? -1 : 0;
}

int
proto_parse_header(const uint8_t *hdr, uint32_t frame_max,
                   struct proto_hdr *out, const char **why)
{
    struct proto_reader r;
    uint32_t cap;

    proto_reader_init(&r, hdr, PROTO_HDR_LEN);
    out->len = proto_get_u32(&r);
    out->type = proto_get_u16(&r);
    out->version = proto_get_u16(&r);
    if (out->version != PROTO_VERSION) {
        *why = "protocol version mismatch";
        return -1;
    }
    switch (out->type) {
    case MSG_HELLO:
    case MSG_JOB:
    case MSG_RESULT:
        cap = PROTO_CTL_MAX;
        break;
    case MSG_FRAME:
        cap = frame_max + PROTO_FRAME_FIXED;
        break;
    default:
        *why = "unknown message type";
        return -1;
    }
    if (out->len > cap) {
        *why = "message too long";
        return -1;
    }
    return 0;
}

long
proto_encode_hello(uint8_t *buf, size_t cap, const struct msg_hello *m)
{
    struct proto_writer w;

    proto_writer_init(&w, buf, cap, MSG_HELLO);
    proto_put_u32(&w, m->pid);
    return proto_writer_finish(&w, 0);
}

long
proto_encode_job(uint8_t *buf, size_t cap, const struct msg_job *m)
{
    struct proto_writer w;

    proto_writer_init(&w, buf, cap, MSG_JOB);
    proto_put_u64(&w, m->job_id);
    proto_put_u32(&w, m->frames);
    proto_put_u8(&w, m->mode);
    proto_put_u8(&w, m->quality);
    return proto_writer_finish(&w, 0);
}

long
proto_encode_result(uint8_t *buf, size_t cap, const struct msg_result *m)
{
    struct proto_writer w;

    proto_writer_init(&w, buf, cap, MSG_RESULT);
    proto_put_u64(&w, m->job_id);
    proto_put_u8(&w, m->code);
    proto_put_u32(&w, m->frames_sent);
    proto_put_u32(&w, m->frames_decoded);
    proto_put_u64(&w, (uint64_t)m->total_frames);
    proto_put_str(&w, m->error);
    return proto_writer_finish(&w, 0);
}

long
proto_encode_frame_head(uint8_t *buf, size_t cap, const struct msg_frame *m)
{
    struct proto_writer w;

    proto_writer_init(&w, buf, cap, MSG_FRAME);
    proto_put_u64(&w, m->job_id);
    proto_put_u32(&w, m->index);
    proto_put_u64(&w, (uint64_t)m->frame_number);
    proto_put_u64(&w, (uint64_t)m->pts_us);
    proto_put_u32(&w, m->jpeg_len);
    return proto_writer_finish(&w, m->jpeg_len);
}

int
proto_decode_hello(const uint8_t *p, size_t len, struct msg_hello *m)
{
    struct proto_reader r;

    proto_reader_init(&r, p, len);
    m->pid = proto_get_u32(&r);
    return proto_end(&r);
}

int
proto_decode_job(const uint8_t *p, size_t len, struct msg_job *m)
{
    struct proto_reader r;

    proto_reader_init(&r, p, len);
    m->job_id = proto_get_u64(&r);
    m->frames = proto_get_u32(&r);
    m->mode = proto_get_u8(&r);
    m->quality = proto_get_u8(&r);
    if (m->frames == 0 || m->frames > PROTO_MAX_FRAMES ||
        m->mode > MODE_KEYFRAME || m->quality < 1 || m->quality > 100)
        return -1;
    return proto_end(&r);
}

int
proto_decode_frame(const uint8_t *p, size_t len, struct msg_frame *m)
{
    struct proto_reader r;

    proto_reader_init(&r, p, len);
    m->job_id = proto_get_u64(&r);
    m->index = proto_get_u32(&r);
    m->frame_number = (int64_t)proto_get_u64(&r);
    m->pts_us = (int64_t)proto_get_u64(&r);
    m->jpeg_len = proto_get_u32(&r);
    m->jpeg = NULL;
    if (r.is_bad || len - r.off != m->jpeg_len || m->jpeg_len < 4)
        return -1;
    m->jpeg = p + r.off;
    /* A JPEG starts with SOI; anything else would land on disk as junk. */
    if (m->jpeg[0] != 0xFF || m->jpeg[1] != 0xD8)
        return -1;
    return 0;
}

int
proto_decode_result(const uint8_t *p, size_t len, struct msg_result *m)
{
    struct proto_reader r;

    proto_reader_init(&r, p, len);
    m->job_id = proto_get_u64(&r);
    m->code = proto_get_u8(&r);
    m->frames_sent = proto_get_u32(&r);
    m->frames_decoded = proto_get_u32(&r);
    m->total_frames = (int64_t)proto_get_u64(&r);
    proto_get_str(&r, m->error, PROTO_ERROR_MAX);
    if (m->code > RESULT_TRANSIENT || m->frames_sent > PROTO_MAX_FRAMES)
        return -1;
    return proto_end(&r);
}

const char *
proto_type_name(uint16_t type)
{
    switch (type) {
    case MSG_HELLO:
        return "HELLO";
    case MSG_JOB:
        return "JOB";
    case MSG_FRAME:
        return "FRAME";
    case MSG_RESULT:
        return "RESULT";
    default:
        return "UNKNOWN";
    }
}
