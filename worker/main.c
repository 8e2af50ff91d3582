/*
 * Entry point of bin/frameshield-worker: serves the supervisor's jobs on
 * fd 3, or runs the same extraction from the command line for debugging.
 *
 * Daemon mode:  frameshield-worker [sandbox options]   (by frameshieldd)
 *               --sandbox yes|no|debug  --memory-limit-mb N
 *               --max-megapixels N  --user NAME  --core-dumps
 *               --zygote (a fork server: workers on request, zygote.h)
 * One file:     frameshield-worker --extract IN OUTDIR [options]
 * Many files:   frameshield-worker --extract-list FILE [options]
 *               (each line "IN<TAB>OUTDIR"; one process for all)
 * Options:      --frames N  --mode accurate|keyframe  --quality Q  --verbose
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sysexits.h>
#include <unistd.h>

#include <libavutil/pixdesc.h>

#include "decode.h"
#include "encode.h"
#include "fdpass.h"
#include "log.h"
#include "outbox.h"
#include "proto.h"
#include "sandbox.h"
#include "writeall.h"
#include "zygote.h"

#define WORKER_FD 3
#define DEFAULT_FRAMES 5
#define DEFAULT_QUALITY 90

struct worker {
    struct encoder *enc;      /* reused by every job */
    int sock;                 /* daemon mode: the supervisor */
    struct outbox outbox;     /* daemon mode: the job's messages to it */
    uint64_t job_id;
    int quality;
    const char *outdir;       /* CLI mode: where frames go */
    int has_outdir;           /* CLI mode: outdir exists */
    int is_verbose;           /* CLI mode: a line per frame on stdout */
};

struct cli_opts {
    struct extract_req req;
    int quality;
    int is_verbose;
    const char *args[2];
    int nargs;
};

static int
send_buf(int sock, const void *buf, long len)
{
    struct iovec iov = {.iov_base = (void *)buf, .iov_len = (size_t)len};

    return len < 0 ? -1 : writev_all(sock, &iov, 1);
}

/* Frame callback of daemon mode: one MSG_FRAME per frame, held (outbox.h). */
static int
send_frame(void *arg, uint32_t index, int64_t frame_number, int64_t pts_us,
           const AVFrame *frame, char *err, size_t errlen)
{
    struct worker *w = arg;
    uint8_t head[PROTO_HDR_LEN + PROTO_FRAME_FIXED];
    struct msg_frame m = {.job_id = w->job_id, .index = index,
                          .frame_number = frame_number, .pts_us = pts_us};
    struct iovec iov[2];
    const uint8_t *jpeg;
    size_t len;
    long n;
    int rc;

    rc = encode_frame(w->enc, frame, w->quality, &jpeg, &len, err, errlen);
    if (rc != RESULT_OK)
        return rc;
    /* The supervisor would take an oversize frame for a protocol attack. */
    if (len > PROTO_FRAME_MAX_DEFAULT) {
        snprintf(err, errlen, "encode: jpeg too large: %zu bytes", len);
        return RESULT_PERMANENT;
    }
    m.jpeg_len = (uint32_t)len;
    if ((n = proto_encode_frame_head(head, sizeof(head), &m)) < 0)
        return DECODE_ABORT; /* cannot happen: the buffer is exact */
    iov[0] = (struct iovec){.iov_base = head, .iov_len = (size_t)n};
    iov[1] = (struct iovec){.iov_base = (void *)jpeg, .iov_len = len};
    if (outbox_put(&w->outbox, iov, 2, 1) == -1) {
        log_debug("send frame: %s", strerror(errno));
        return DECODE_ABORT;
    }
    return RESULT_OK;
}

/* Error text goes into the supervisor's log and database: printable only. */
static void
sanitize(char *s)
{
    for (; *s != '\0'; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            *s = '?';
}

/*
 * Runs one job on fd (closed here, -1 when none came) and reports it.
 * Returns 0, or -1 when the supervisor is gone.
 */
static int
run_job(struct worker *w, const struct msg_job *job, int fd)
{
    struct extract_req req = {.frames = job->frames, .mode = job->mode};
    struct extract_stats st = {0};
    struct msg_result res = {.job_id = job->job_id};
    uint8_t buf[PROTO_CTL_MAX];
    int rc;

    w->job_id = job->job_id;
    w->quality = job->quality;
    outbox_start_job(&w->outbox);
    if (fd == -1) {
        rc = RESULT_PERMANENT;
        snprintf(res.error, sizeof(res.error), "job: no input descriptor");
    } else {
        rc = decode_extract(fd, &req, send_frame, w, &st, res.error,
                            sizeof(res.error));
        close(fd);
    }
    if (rc == DECODE_ABORT)
        return -1;
    sanitize(res.error);
    res.code = (uint8_t)rc;
    res.frames_sent = st.frames_sent;
    res.frames_decoded = st.frames_decoded;
    res.total_frames = st.total_frames;
    log_debug("job=%llu code=%d frames=%u decoded=%u total=%lld "
              "decoder=%s %s",
              (unsigned long long)job->job_id, rc, st.frames_sent,
              st.frames_decoded, (long long)st.total_frames,
              st.is_decoder_reused ? "reused" : "new", res.error);
    long n = proto_encode_result(buf, sizeof(buf), &res);
    struct iovec iov = {.iov_base = buf, .iov_len = (size_t)n};
    if (n < 0 || outbox_put(&w->outbox, &iov, 1, 0) == -1) {
        log_debug("send result: %s", strerror(errno));
        return -1;
    }
    return 0;
}

/*
 * Receives one MSG_JOB and the descriptor that comes with it (-1 if none).
 * Returns 0, 1 when the supervisor has gone away, or -1 when it sent
 * something that is not a valid job.
 */
static int
recv_job(int sock, struct msg_job *job, int *fd)
{
    uint8_t hdr[PROTO_HDR_LEN], payload[PROTO_CTL_MAX];
    struct proto_hdr h;
    const char *why = NULL;
    int extra = -1, r;

    *fd = -1;
    if ((r = fdpass_recv(sock, hdr, sizeof(hdr), fd)) != 0) {
        if (r == -1)
            log_debug("recv: %s", strerror(errno));
        return 1;
    }
    if (proto_parse_header(hdr, 0, &h, &why) == -1)
        goto bad;
    if (h.type != MSG_JOB) {
        why = "unexpected message type";
        goto bad;
    }
    /* parse_header capped h.len at PROTO_CTL_MAX. */
    if ((r = fdpass_recv(sock, payload, h.len, &extra)) != 0) {
        if (r == -1)
            log_debug("recv: %s", strerror(errno));
        goto gone;
    }
    if (extra != -1)
        close(extra);
    if (proto_decode_job(payload, h.len, job) == -1) {
        why = "malformed job";
        goto bad;
    }
    return 0;
bad:
    log_err("protocol: %s from supervisor (%s)", why, proto_type_name(h.type));
    r = -1;
    goto drop;
gone:
    r = 1;
drop:
    if (*fd != -1)
        close(*fd);
    *fd = -1;
    return r;
}

/* The daemon-mode loop: HELLO, then jobs until the supervisor hangs up. */
static int
serve(struct worker *w)
{
    struct msg_hello hello = {.pid = (uint32_t)getpid()};
    uint8_t buf[PROTO_CTL_MAX];
    struct msg_job job;
    int fd, r;

    if (send_buf(w->sock, buf, proto_encode_hello(buf, sizeof(buf), &hello))
        == -1) {
        log_debug("send hello: %s", strerror(errno));
        return WORKER_EXIT_OK;
    }
    for (;;) {
        if ((r = recv_job(w->sock, &job, &fd)) == 1)
            return WORKER_EXIT_OK;
        if (r == -1)
            return WORKER_EXIT_PROTOCOL;
        /*
         * Taken: the offset is shared with the supervisor's copy, which
         * reads it if we die, to tell a job we never took from one we
         * crashed on.  Reads use pread, so nothing else moves it.
         */
        if (fd >= 0)
            (void)lseek(fd, 1, SEEK_SET);
        if (run_job(w, &job, fd) == -1)
            return WORKER_EXIT_OK;
    }
}

/* mkdir -p: creates dir and its missing parents. */
static int
mkdir_p(const char *dir)
{
    char path[PATH_MAX];
    size_t n = strlen(dir);

    if (n == 0 || n >= sizeof(path)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(path, dir, n + 1);
    for (char *p = path + 1; *p != '\0'; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(path, 0755) == -1 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    if (mkdir(path, 0755) == -1 && errno != EEXIST)
        return -1;
    return 0;
}

/* Frame callback of CLI mode: OUTDIR/frame_<index>.jpg. */
static int
write_frame(void *arg, uint32_t index, int64_t frame_number, int64_t pts_us,
            const AVFrame *frame, char *err, size_t errlen)
{
    struct worker *w = arg;
    char path[PATH_MAX];
    struct iovec iov;
    const uint8_t *jpeg;
    size_t len;
    int fd, rc;

    rc = encode_frame(w->enc, frame, w->quality, &jpeg, &len, err, errlen);
    if (rc != RESULT_OK)
        return rc;
    /* Made on the first frame: a bad input leaves no empty directory. */
    if (!w->has_outdir && mkdir_p(w->outdir) == -1) {
        snprintf(err, errlen, "write: mkdir %s: %s", w->outdir,
                 strerror(errno));
        return decode_errno_result(errno);
    }
    w->has_outdir = 1;
    snprintf(path, sizeof(path), "%s/frame_%u.jpg", w->outdir, index);
    if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) ==
        -1)
        goto fail;
    iov = (struct iovec){.iov_base = (void *)jpeg, .iov_len = len};
    if (writev_all(fd, &iov, 1) == -1) {
        int saved = errno;
        close(fd);
        errno = saved;
        goto fail;
    }
    if (close(fd) == -1)
        goto fail;
    if (w->is_verbose)
        printf("index=%u frame=%lld pts_us=%lld size=%dx%d fmt=%s bytes=%zu\n",
               index, (long long)frame_number, (long long)pts_us,
               frame->width, frame->height,
               av_get_pix_fmt_name(frame->format) ? av_get_pix_fmt_name(
                   frame->format) : "?", len);
    return RESULT_OK;
fail:
    snprintf(err, errlen, "write: %s: %s", path, strerror(errno));
    return decode_errno_result(errno);
}

static int
exit_code_of(int rc)
{
    switch (rc) {
    case RESULT_OK:
        return EX_OK;
    case RESULT_TRANSIENT:
        return EX_TEMPFAIL;
    default:
        return EX_DATAERR;
    }
}

/*
 * Extracts frames of the file in into outdir, as a job would, and prints
 * the statistics line.  Returns a sysexits code.
 */
static int
extract_one(struct worker *w, const struct cli_opts *o, const char *in,
            const char *outdir, int is_list)
{
    char err[PROTO_ERROR_MAX + 1] = "";
    struct extract_stats st = {0};
    int fd, rc;

    w->outdir = outdir;
    w->has_outdir = 0;
    w->quality = o->quality;
    w->is_verbose = o->is_verbose;
    if ((fd = open(in, O_RDONLY | O_CLOEXEC)) == -1) {
        rc = decode_errno_result(errno);
        snprintf(err, sizeof(err), "open: %s", strerror(errno));
    } else {
        rc = decode_extract(fd, &o->req, write_frame, w, &st, err,
                            sizeof(err));
        close(fd);
    }
    if (rc != RESULT_OK) {
        log_warn("%s: %s", in, err);
        return exit_code_of(rc);
    }
    printf("frames=%u decoded=%u total=%lld decoder=%s%s%s\n",
           st.frames_sent, st.frames_decoded, (long long)st.total_frames,
           st.is_decoder_reused ? "reused" : "new", is_list ? " in=" : "",
           is_list ? in : "");
    fflush(stdout);
    return EX_OK;
}

/* Runs every "IN<TAB>OUTDIR" line of list; failures do not stop it. */
static int
extract_list(struct worker *w, const struct cli_opts *o, const char *list)
{
    FILE *f = fopen(list, "re");
    char *line = NULL, *tab;
    size_t cap = 0;
    ssize_t n;
    int worst = EX_OK, rc;

    if (f == NULL) {
        log_err("open %s: %s", list, strerror(errno));
        return EX_NOINPUT;
    }
    while ((n = getline(&line, &cap, f)) != -1) {
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] == '\0' || line[0] == '#')
            continue;
        if ((tab = strchr(line, '\t')) == NULL) {
            log_warn("%s: no tab in line: %s", list, line);
            worst = worst == EX_OK ? EX_DATAERR : worst;
            continue;
        }
        *tab = '\0';
        rc = extract_one(w, o, line, tab + 1, 1);
        /* TEMPFAIL beats DATAERR: rerunning the list may then help. */
        if (rc != EX_OK && worst != EX_TEMPFAIL)
            worst = rc;
    }
    free(line);
    fclose(f);
    return worst;
}

static void
usage(FILE *out)
{
    fprintf(out,
            "usage: frameshield-worker            (spawned by frameshieldd)\n"
            "       frameshield-worker --extract IN OUTDIR [options]\n"
            "       frameshield-worker --extract-list FILE [options]\n"
            "options: --frames N (1-%d, default %d)\n"
            "         --mode accurate|keyframe (default accurate)\n"
            "         --quality Q (1-100, default %d)\n"
            "         --verbose (a line per frame)\n",
            PROTO_MAX_FRAMES, DEFAULT_FRAMES, DEFAULT_QUALITY);
}

static int
parse_num(const char *s, long min, long max, long *out)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

/* Parses options and up to two positional arguments after argv[first]. */
static int
parse_opts(int argc, char **argv, int first, struct cli_opts *o)
{
    long v;

    o->req = (struct extract_req){.frames = DEFAULT_FRAMES,
                                  .mode = MODE_ACCURATE};
    o->quality = DEFAULT_QUALITY;
    o->is_verbose = 0;
    o->nargs = 0;
    for (int i = first; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;

        if (strcmp(a, "--verbose") == 0) {
            o->is_verbose = 1;
            continue;
        }
        if (strcmp(a, "--frames") == 0 && val != NULL &&
            parse_num(val, 1, PROTO_MAX_FRAMES, &v) == 0)
            o->req.frames = (uint32_t)v;
        else if (strcmp(a, "--quality") == 0 && val != NULL &&
                 parse_num(val, 1, 100, &v) == 0)
            o->quality = (int)v;
        else if (strcmp(a, "--mode") == 0 && val != NULL &&
                 (strcmp(val, "accurate") == 0 || strcmp(val, "keyframe") == 0))
            o->req.mode = val[0] == 'k' ? MODE_KEYFRAME : MODE_ACCURATE;
        else if (a[0] != '-' && o->nargs < 2) {
            o->args[o->nargs++] = a;
            continue;
        } else
            return -1;
        i++; /* the option's value */
    }
    return 0;
}

static int
run_cli(struct worker *w, int argc, char **argv)
{
    struct cli_opts o;
    int is_list = strcmp(argv[1], "--extract-list") == 0;

    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(stdout);
        return EX_OK;
    }
    if ((!is_list && strcmp(argv[1], "--extract") != 0) ||
        parse_opts(argc, argv, 2, &o) == -1 ||
        o.nargs != (is_list ? 1 : 2)) {
        usage(stderr);
        return EX_USAGE;
    }
    if (is_list)
        return extract_list(w, &o, o.args[0]);
    return extract_one(w, &o, o.args[0], o.args[1], 0);
}

struct daemon_opts {
    struct sandbox_opts sandbox;
    const char *sandbox_mode; /* yes, no, debug */
    int is_zygote;            /* fork workers on the daemon's request */
};

/* Daemon-mode flags, all set by frameshieldd.  Returns 0 or -1. */
static int
parse_daemon_opts(int argc, char **argv, struct daemon_opts *o)
{
    long v;

    o->sandbox_mode = "yes";
    o->sandbox.memory_limit_bytes = 1024ull << 20;
    for (int i = 1; i < argc; i++) {
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;

        if (!strcmp(argv[i], "--core-dumps")) {
            o->sandbox.has_core_dumps = 1;
            continue;
        }
        if (!strcmp(argv[i], ZYGOTE_ARG)) {
            o->is_zygote = 1;
            continue;
        }
        if (val == NULL)
            return -1;
        i++;
        if (!strcmp(argv[i - 1], "--sandbox") &&
            (!strcmp(val, "yes") || !strcmp(val, "no") ||
             !strcmp(val, "debug")))
            o->sandbox_mode = val;
        else if (!strcmp(argv[i - 1], "--memory-limit-mb") &&
                 parse_num(val, 16, 1 << 20, &v) == 0)
            o->sandbox.memory_limit_bytes = (uint64_t)v << 20;
        else if (!strcmp(argv[i - 1], "--max-megapixels") &&
                 parse_num(val, 1, 10000, &v) == 0)
            decode_set_max_pixels((uint64_t)v * 1000000);
        else if (!strcmp(argv[i - 1], "--user"))
            o->sandbox.user = val;
        else
            return -1;
    }
    o->sandbox.is_debug = !strcmp(o->sandbox_mode, "debug");
    return 0;
}

/*
 * Daemon mode: sandbox, then serve.  Memory limits make an allocation
 * failure the input's fault (a bomb), not a passing condition.
 */
static int
run_daemon(struct worker *w, int argc, char **argv)
{
    struct daemon_opts o = {0};
    char err[256];
    int flags;

    if (fcntl(WORKER_FD, F_GETFL) == -1) {
        log_err("fd %d is not open: run by frameshieldd, or see --help",
                WORKER_FD);
        return WORKER_EXIT_USAGE;
    }
    if (parse_daemon_opts(argc, argv, &o) == -1) {
        usage(stderr);
        return WORKER_EXIT_USAGE;
    }
    /* Libraries are loaded: from here on each worker is a fork. */
    if (o.is_zygote)
        zygote_serve(argv);
    /* Die with the supervisor (or zygote), even when stuck in a decoder. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() == 1)
        return WORKER_EXIT_OK;
    if ((flags = fcntl(WORKER_FD, F_GETFL)) == -1)
        return WORKER_EXIT_USAGE;
    /* A blocking socket keeps writev_all simple; libuv may hand us a
     * non-blocking one. */
    fcntl(WORKER_FD, F_SETFL, flags & ~O_NONBLOCK);
    if (strcmp(o.sandbox_mode, "no") != 0) {
        if (sandbox_enter(&o.sandbox, err, sizeof(err)) == -1) {
            log_err("sandbox: %s", err);
            return WORKER_EXIT_SOFTWARE;
        }
        decode_set_memory_limited(o.sandbox.memory_limit_bytes);
    }
    /* From here on nothing may load a library or open a file. */
    return serve(w);
}

static int
is_cli(int argc, char **argv)
{
    return argc > 1 && (!strcmp(argv[1], "--extract") ||
                        !strcmp(argv[1], "--extract-list") ||
                        !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"));
}

int
main(int argc, char **argv)
{
    struct worker w = {.sock = WORKER_FD};
    int rc;

    outbox_init(&w.outbox, WORKER_FD);
    /* A dead supervisor must show up as EPIPE, not kill us mid-job. */
    signal(SIGPIPE, SIG_IGN);
    /* Load and initialise every library before the sandbox goes up. */
    decode_init();
    if ((w.enc = encode_new()) == NULL) {
        log_err("encoder init failed (tjInitCompress or out of memory)");
        return WORKER_EXIT_SOFTWARE;
    }
    if (is_cli(argc, argv))
        rc = run_cli(&w, argc, argv);
    else
        rc = run_daemon(&w, argc, argv);
    encode_free(w.enc);
    outbox_free(&w.outbox);
    return rc;
}
