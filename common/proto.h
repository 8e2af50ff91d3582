/*
 * Wire format between the supervisor and its workers; linked into both.
 *
 * Every message is  u32 payload_len | u16 type | u16 version | payload,
 * all integers big-endian.  The supervisor treats whatever a worker sends
 * as hostile: lengths are checked against per-type caps before anything is
 * allocated, every field is read through a bounds-checked getter, and a
 * message is valid only when its payload is consumed exactly.
 */
#ifndef FS_PROTO_H
#define FS_PROTO_H

#include <stddef.h>
#include <stdint.h>

#define PROTO_VERSION 1
#define PROTO_HDR_LEN 8
/* Control messages are tiny; anything bigger is a lie. */
#define PROTO_CTL_MAX 1024
/* Default cap on one JPEG; a setting of the daemon can change it. */
#define PROTO_FRAME_MAX_DEFAULT (8u << 20)
/* Bytes of a FRAME payload before the JPEG: job, index, number, pts, len. */
#define PROTO_FRAME_FIXED (8 + 4 + 8 + 8 + 4)
#define PROTO_ERROR_MAX 400
#define PROTO_MAX_FRAMES 1000

/* Worker exit codes (sysexits.h values): part of the protocol. */
#define WORKER_EXIT_OK 0
#define WORKER_EXIT_USAGE 64     /* EX_USAGE: bad command line */
#define WORKER_EXIT_SOFTWARE 70  /* EX_SOFTWARE: init failed */
#define WORKER_EXIT_PROTOCOL 76  /* EX_PROTOCOL: supervisor spoke nonsense */

enum msg_type {
    MSG_HELLO = 1, /* worker -> supervisor, once, when ready */
    /*
     * supervisor -> worker, with the input fd attached; a worker that
     * takes it sets the fd's offset to 1 (it reads with pread), which
     * tells the supervisor, whose copy shares the offset, that the job
     * was taken if the worker dies.
     */
    MSG_JOB = 2,
    MSG_FRAME = 3,  /* worker -> supervisor, one JPEG */
    MSG_RESULT = 4, /* worker -> supervisor, once per job, last */
};

enum job_mode {
    MODE_ACCURATE = 0,
    MODE_KEYFRAME = 1,
};

enum result_code {
    RESULT_OK = 0,
    RESULT_PERMANENT = 1, /* the input is bad: no retry helps */
    RESULT_TRANSIENT = 2, /* I/O trouble: a retry may help */
};

struct msg_hello {
    uint32_t pid;
};

struct msg_job {
    uint64_t job_id;
    uint32_t frames;
    uint8_t mode;
    uint8_t quality;
};

/* jpeg points into the received payload: valid until the buffer moves. */
struct msg_frame {
    uint64_t job_id;
    uint32_t index;
    int64_t frame_number;
    int64_t pts_us;
    const uint8_t *jpeg;
    uint32_t jpeg_len;
};

struct msg_result {
    uint64_t job_id;
    uint8_t code;
    uint32_t frames_sent;
    uint32_t frames_decoded;
    int64_t total_frames;
    char error[PROTO_ERROR_MAX + 1];
};

struct proto_hdr {
    uint32_t len;
    uint16_t type;
    uint16_t version;
};

/* Sequential writer into a caller-owned buffer; overflow is sticky. */
struct proto_writer {
    uint8_t *buf;
    size_t cap;
    size_t len;
    int is_overflow;
};

/* Sequential bounds-checked reader; any bad read is sticky. */
struct proto_reader {
    const uint8_t *p;
    size_t len;
    size_t off;
    int is_bad;
};

void proto_writer_init(struct proto_writer *, uint8_t *, size_t, uint16_t);
void proto_put_u8(struct proto_writer *, uint8_t);
void proto_put_u16(struct proto_writer *, uint16_t);
void proto_put_u32(struct proto_writer *, uint32_t);
void proto_put_u64(struct proto_writer *, uint64_t);
void proto_put_str(struct proto_writer *, const char *);
/*
 * Writes the header's length field.  extra_len counts payload bytes the
 * caller sends after the buffer (a JPEG).  Returns the buffer length, or
 * -1 if anything overflowed.
 */
long proto_writer_finish(struct proto_writer *, uint32_t extra_len);

void proto_reader_init(struct proto_reader *, const uint8_t *, size_t);
uint8_t proto_get_u8(struct proto_reader *);
uint16_t proto_get_u16(struct proto_reader *);
uint32_t proto_get_u32(struct proto_reader *);
uint64_t proto_get_u64(struct proto_reader *);
/* Copies a u16-length string of at most max bytes, NUL-free, into dst. */
void proto_get_str(struct proto_reader *, char *dst, size_t max);
/* Returns 0 when nothing went wrong and the payload was used up exactly. */
int proto_end(const struct proto_reader *);

/*
 * Checks a received header: version, known type, and a payload length
 * within the cap for that type (frame_max for MSG_FRAME, PROTO_CTL_MAX for
 * the rest).  Returns 0 or -1 with *why set to a static explanation.
 */
int proto_parse_header(const uint8_t *, uint32_t frame_max,
                       struct proto_hdr *, const char **why);

/* Encoders: return the message length in buf, or -1 if cap is too small. */
long proto_encode_hello(uint8_t *buf, size_t cap, const struct msg_hello *);
long proto_encode_job(uint8_t *buf, size_t cap, const struct msg_job *);
long proto_encode_result(uint8_t *buf, size_t cap, const struct msg_result *);
/* Encodes everything but the JPEG bytes, which the sender appends. */
long proto_encode_frame_head(uint8_t *buf, size_t cap,
                             const struct msg_frame *);

/* Decoders take the payload only; return 0, or -1 if it is malformed. */
int proto_decode_hello(const uint8_t *, size_t, struct msg_hello *);
int proto_decode_job(const uint8_t *, size_t, struct msg_job *);
int proto_decode_frame(const uint8_t *, size_t, struct msg_frame *);
int proto_decode_result(const uint8_t *, size_t, struct msg_result *);

const char *proto_type_name(uint16_t type);

#endif
