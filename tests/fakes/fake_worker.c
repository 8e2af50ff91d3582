/*
 * Test-only fake worker that misbehaves on the supervisor channel (fd 3)
 * in the ways a real worker cannot, chosen by $FAKE_MODE:
 *   good        a valid 16x16 JPEG FRAME per requested frame, RESULT OK
 *   big         as good, each JPEG padded to $FAKE_BYTES bytes after its end
 *   garbage     random bytes instead of messages
 *   badpayload  a valid RESULT header over a payload too short to decode
 *   oversize    a FRAME header claiming a ~4 GiB payload
 *   lie         RESULT OK frames_sent=N without sending any FRAME
 *   wrongjob    a FRAME for another job id, then the rest as in good
 *   notjpeg     FRAMEs whose bytes do not start with FF D8, then RESULT OK
 *   double      good frames, then two RESULTs
 *   badindex    a FRAME with index >= frames, then the rest as in good
 *   quit        as good, but stops reading before its RESULT, then exits
 *               1 s later: the job sent next can never reach it
 *   badversion  HELLO with protocol version 99
 *   nohello     never says HELLO
 * With $FAKE_GATE set, each RESULT waits while that file exists, so a test
 * can hold jobs RUNNING and let them end at a moment of its choosing.
 * After a misbehaviour it carries on as a good worker would, so that a
 * supervisor that misses the violation ends the job DONE and the test
 * fails; then it idles until the supervisor kills it or hangs up.  It
 * reads no media.
 */
#include "fdpass.h"
#include "proto.h"
#include "zygote.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CHAN 3

/* A real baseline JPEG (16x16 grey), made once with the ffmpeg CLI. */
static const uint8_t tiny_jpeg[] = {
  0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01,
  0x02, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0xff, 0xfe, 0x00, 0x10,
  0x4c, 0x61, 0x76, 0x63, 0x35, 0x39, 0x2e, 0x33, 0x37, 0x2e, 0x31, 0x30,
  0x30, 0x00, 0xff, 0xdb, 0x00, 0x43, 0x00, 0x08, 0x0a, 0x0a, 0x0b, 0x0a,
  0x0b, 0x0d, 0x0d, 0x0d, 0x0d, 0x0d, 0x0d, 0x10, 0x0f, 0x10, 0x10, 0x10,
  0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x12, 0x12, 0x12, 0x15,
  0x15, 0x15, 0x12, 0x12, 0x12, 0x10, 0x10, 0x12, 0x12, 0x14, 0x14, 0x15,
  0x15, 0x17, 0x17, 0x17, 0x15, 0x15, 0x15, 0x15, 0x17, 0x17, 0x19, 0x19,
  0x19, 0x1e, 0x1e, 0x1c, 0x1c, 0x23, 0x23, 0x24, 0x2b, 0x2b, 0x33, 0xff,
  0xc4, 0x00, 0x4a, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x01, 0x00,
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
  0x00, 0x00, 0x00, 0x10, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x11, 0x01, 0x00,
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
  0x00, 0x00, 0x00, 0xff, 0xc0, 0x00, 0x11, 0x08, 0x00, 0x10, 0x00, 0x10,
  0x03, 0x01, 0x22, 0x00, 0x02, 0x11, 0x00, 0x03, 0x11, 0x00, 0xff, 0xda,
  0x00, 0x0c, 0x03, 0x01, 0x00, 0x02, 0x11, 0x03, 0x11, 0x00, 0x3f, 0x00,
  0x00, 0x0f, 0xff, 0xd9
};

static const char *mode = "good";

static int
is_mode(const char *m)
{
    return strcmp(mode, m) == 0;
}

static void
write_all(const void *buf, size_t len)
{
    const uint8_t *p = buf;

    while (len > 0) {
        ssize_t n = write(CHAN, p, len);

        if (n == -1 && errno == EINTR)
            continue;
        if (n <= 0) {
            fprintf(stderr, "fake_worker: write: %s\n", strerror(errno));
            _exit(0); /* the supervisor hung up on us: fine */
        }
        p += n;
        len -= (size_t)n;
    }
}

/*
 * After misbehaving, idle like a real worker between jobs: read and drop
 * whatever the supervisor sends until it hangs up or kills us.
 */
static void
wait_forever(void)
{
    char sink[256];
    ssize_t n;

    fprintf(stderr, "fake_worker[%d]: mode %s done, waiting\n", (int)getpid(),
            mode);
    while ((n = read(CHAN, sink, sizeof(sink))) != 0)
        if (n == -1 && errno != EINTR)
            break;
    exit(0);
}

/* $FAKE_PID_DIR/<pid>: lets a test find and kill every fake by pid. */
static void
note_pid(void)
{
    const char *dir = getenv("FAKE_PID_DIR");
    char p[4096];
    FILE *f;

    if (dir == NULL || *dir == '\0')
        return;
    snprintf(p, sizeof(p), "%s/%d", dir, (int)getpid());
    if ((f = fopen(p, "w")) != NULL)
        fclose(f);
}

static void
send_hello(uint16_t version)
{
    struct msg_hello h = {.pid = (uint32_t)getpid()};
    uint8_t buf[64];
    long n = proto_encode_hello(buf, sizeof(buf), &h);

    if (n < 0)
        abort();
    buf[6] = (uint8_t)(version >> 8);
    buf[7] = (uint8_t)version;
    write_all(buf, (size_t)n);
}

static void
send_frame(uint64_t job_id, uint32_t index, const uint8_t *jpeg,
           uint32_t len)
{
    struct msg_frame f = {.job_id = job_id,
                          .index = index,
                          .frame_number = (int64_t)index * 10,
                          .pts_us = (int64_t)index * 400000,
                          .jpeg = jpeg,
                          .jpeg_len = len};
    uint8_t head[64];
    long n = proto_encode_frame_head(head, sizeof(head), &f);

    if (n < 0)
        abort();
    write_all(head, (size_t)n);
    write_all(jpeg, len);
}

static void
send_result(uint64_t job_id, uint32_t frames_sent)
{
    struct msg_result r;
    uint8_t buf[PROTO_CTL_MAX + PROTO_HDR_LEN];
    long n;

    memset(&r, 0, sizeof(r));
    r.job_id = job_id;
    r.code = RESULT_OK;
    r.frames_sent = frames_sent;
    r.frames_decoded = frames_sent * 10;
    r.total_frames = 100;
    if ((n = proto_encode_result(buf, sizeof(buf), &r)) < 0)
        abort();
    write_all(buf, (size_t)n);
}

/* Reads one JOB with its descriptor; returns 0, or 1 on EOF. */
static int
recv_job(struct msg_job *job)
{
    uint8_t hdr[PROTO_HDR_LEN];
    uint8_t payload[PROTO_CTL_MAX];
    struct proto_hdr h;
    const char *why = "";
    int fd = -1;
    int fd2 = -1;
    int rc;

    if ((rc = fdpass_recv(CHAN, hdr, sizeof(hdr), &fd)) != 0) {
        if (rc == 1)
            return 1;
        fprintf(stderr, "fake_worker: recv: %s\n", strerror(errno));
        exit(WORKER_EXIT_PROTOCOL);
    }
    if (proto_parse_header(hdr, PROTO_FRAME_MAX_DEFAULT, &h, &why) == -1 ||
        h.type != MSG_JOB) {
        fprintf(stderr, "fake_worker: bad header from supervisor: %s\n", why);
        exit(WORKER_EXIT_PROTOCOL);
    }
    if (h.len > 0 && fdpass_recv(CHAN, payload, h.len, &fd2) != 0) {
        fprintf(stderr, "fake_worker: short JOB\n");
        exit(WORKER_EXIT_PROTOCOL);
    }
    if (fd2 != -1)
        close(fd2);
    if (fd == -1 || proto_decode_job(payload, h.len, job) == -1) {
        fprintf(stderr, "fake_worker: bad JOB (fd %d)\n", fd);
        exit(WORKER_EXIT_PROTOCOL);
    }
    (void)lseek(fd, 1, SEEK_SET); /* taken, as worker/main.c marks it */
    close(fd);                    /* a fake never reads media */
    return 0;
}

/* FAKE_MODE=big: frames as large as the supervisor's disk must take. */
static uint8_t *big_jpeg;
static size_t big_len;

static void
make_big_jpeg(void)
{
    const char *n = getenv("FAKE_BYTES");

    big_len = n != NULL ? strtoul(n, NULL, 10) : 0;
    if (big_len < sizeof(tiny_jpeg))
        big_len = sizeof(tiny_jpeg);
    if ((big_jpeg = calloc(1, big_len)) == NULL) {
        fprintf(stderr, "fake_worker: out of memory\n");
        exit(1);
    }
    memcpy(big_jpeg, tiny_jpeg, sizeof(tiny_jpeg));
}

static void
send_good_frames(uint64_t job_id, uint32_t from, uint32_t frames)
{
    for (uint32_t i = from; i < frames; i++)
        send_frame(job_id, i, tiny_jpeg, sizeof(tiny_jpeg));
}

static void
misbehave(const struct msg_job *job)
{
    uint64_t id = job->job_id;

    if (is_mode("garbage")) {
        uint8_t junk[4096];
        uint32_t s = (uint32_t)getpid() * 2654435761u;

        for (size_t i = 0; i < sizeof(junk); i++) {
            s = s * 1103515245u + 12345u;
            junk[i] = (uint8_t)(s >> 16);
        }
        junk[6] = 0xBE; /* never a valid version by chance */
        junk[7] = 0xEF;
        write_all(junk, sizeof(junk));
    } else if (is_mode("badpayload")) {
        uint8_t m[PROTO_HDR_LEN + 24] = {0, 0, 0, 24, 0, MSG_RESULT, 0,
                                         PROTO_VERSION};

        memset(m + PROTO_HDR_LEN, 0x5A, 24);
        write_all(m, sizeof(m));
        send_good_frames(id, 0, job->frames);
        send_result(id, job->frames);
    } else if (is_mode("oversize")) {
        uint8_t hdr[PROTO_HDR_LEN + 64] = {0xFF, 0xFF, 0xFF, 0xF0, 0,
                                           MSG_FRAME, 0, PROTO_VERSION};

        memset(hdr + PROTO_HDR_LEN, 0xAB, 64);
        write_all(hdr, sizeof(hdr));
    } else if (is_mode("lie")) {
        send_result(id, job->frames);
    } else if (is_mode("wrongjob")) {
        send_frame(id + 1000, 0, tiny_jpeg, sizeof(tiny_jpeg));
        send_good_frames(id, 0, job->frames);
        send_result(id, job->frames);
    } else if (is_mode("notjpeg")) {
        uint8_t png[sizeof(tiny_jpeg)];

        memcpy(png, tiny_jpeg, sizeof(png));
        png[0] = 0x89;
        png[1] = 'P';
        for (uint32_t i = 0; i < job->frames; i++)
            send_frame(id, i, png, sizeof(png));
        send_result(id, job->frames);
    } else if (is_mode("double")) {
        send_good_frames(id, 0, job->frames);
        send_result(id, job->frames);
        send_result(id, job->frames);
    } else if (is_mode("badindex")) {
        send_frame(id, job->frames, tiny_jpeg, sizeof(tiny_jpeg));
        send_good_frames(id, 0, job->frames);
        send_result(id, job->frames);
    } else {
        fprintf(stderr, "fake_worker: unknown FAKE_MODE %s\n", mode);
        exit(WORKER_EXIT_USAGE);
    }
    wait_forever();
}

/* FAKE_GATE: the RESULT waits while the file exists. */
static void
wait_gate(void)
{
    const char *gate = getenv("FAKE_GATE");
    const struct timespec tick = {0, 10 * 1000 * 1000};

    while (gate != NULL && access(gate, F_OK) == 0)
        nanosleep(&tick, NULL);
}

int
main(int argc, char **argv)
{
    struct msg_job job;
    const char *m = getenv("FAKE_MODE");

    /* Started as the daemon starts every worker: become one by fork. */
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], ZYGOTE_ARG) == 0)
            zygote_serve(argv);

    if (m != NULL && *m != '\0')
        mode = m;
    note_pid();
    if (is_mode("nohello"))
        wait_forever();
    send_hello(is_mode("badversion") ? 99 : PROTO_VERSION);
    if (is_mode("badversion"))
        wait_forever();
    if (is_mode("big"))
        make_big_jpeg();
    while (recv_job(&job) == 0) {
        if (is_mode("big")) {
            for (uint32_t i = 0; i < job.frames; i++)
                send_frame(job.job_id, i, big_jpeg, big_len);
        } else if (!is_mode("good") && !is_mode("quit")) {
            misbehave(&job);
        } else {
            send_good_frames(job.job_id, 0, job.frames);
        }
        wait_gate();
        /*
         * Deaf before the RESULT goes: the supervisor's next send fails
         * (EPIPE), however soon after reading it it sends.
         */
        if (is_mode("quit"))
            shutdown(CHAN, SHUT_RD);
        send_result(job.job_id, job.frames);
        if (is_mode("quit")) {
            close(CHAN);
            sleep(1);
            exit(0);
        }
    }
    return 0;
}
