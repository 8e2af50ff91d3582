/*
 * Finds and decodes the requested frames of one input descriptor with
 * libavformat/libavcodec, for the worker's job loop and its CLI modes.
 *
 * Frame numbers are display positions.  When the container indexes every
 * frame (MP4, AVI) they are counted exactly: frames before a keyframe are
 * the index entries before it, and a decoded frame's place after that is
 * the number of packets read since with a smaller pts.  Timestamps alone
 * cannot do this for MP4: its index holds decode timestamps, and with
 * B-frames at a variable rate their sorted order is not that of the pts.
 * AVI packets behind a reordering decoder carry no pts to count with:
 * there a frame's place in the index, found by its timestamp, numbers it,
 * less an offset that the first frame of the file shows (see learn_skew).
 * Other containers map frame numbers to timestamps through start_time and
 * the average frame rate.  The decoder seeks only when the target's
 * keyframe lies beyond what it has read, so targets inside one GOP cost
 * one pass over that GOP.
 */
#include "decode.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>

#include "log.h"
#include "plan.h"
#include "proto.h"

#define AVIO_BUF_SIZE (64 * 1024)
/* Frames (39 h at 30 fps) beyond which the table costs too much memory. */
#define TABLE_MAX_ENTRIES ((size_t)1 << 22)
/* Back-off seeks when the demuxer lands past the target; then the start. */
#define SEEK_RETRIES 4
/* Frames an AVI keyframe may show past its index place (H.264's DPB). */
#define LEAD_MAX 16
/* libav error lines per job: enough to diagnose, bounded for stderr. */
#define AV_LOG_LINES_PER_JOB 8

/*
 * Process-wide guards, set once from the command line before the sandbox:
 * the largest frame worth decoding, and whether an address-space limit is
 * in force (then running out of memory is the input's doing: a bomb).
 */
static uint64_t max_pixels = 64000000;
static uint64_t memory_limit_bytes;
/* The MP4/MOV demuxer, found before the sandbox (see known_format). */
static const AVInputFormat *mov_format;

void
decode_set_max_pixels(uint64_t pixels)
{
    max_pixels = pixels;
}

void
decode_set_memory_limited(uint64_t bytes)
{
    memory_limit_bytes = bytes;
}

enum got {
    GOT_FRAME,
    GOT_EOF,
    GOT_ERROR, /* j->code and the error text are set */
};

/* The input descriptor behind the custom AVIOContext. */
struct src {
    int fd;
    int64_t off;      /* our own offset: the fd's is never used */
    int io_errno;     /* first read error, to tell I/O from bad data */
};

/* One wanted frame. */
struct target {
    int64_t n;   /* frame number */
    int64_t pts; /* its pts, exact or estimated */
    int64_t lo;  /* without a count, frames from lo to hi are frame n */
    int64_t hi;
};

struct job {
    struct src src;
    AVIOContext *avio;
    AVFormatContext *fmt;
    AVCodecContext *dec;
    AVStream *st;
    AVPacket *pkt;
    AVFrame *frame;
    AVFrame *kept;        /* the last delivered frame, for repeats */
    int si;
    struct plan_q tb;
    struct plan_q fps;
    int has_fps;
    int64_t start;        /* stream start, stream time base */
    int64_t frame_dur;    /* one frame at the average rate, >= 1 */
    int64_t total;
    int64_t *table;       /* index timestamps + idx_shift, ascending */
    size_t table_len;
    int64_t idx_shift;    /* index timestamp + idx_shift = pts */
    int is_index_exact;
    /* Decoding position, reset by every seek. */
    int has_pos;
    int64_t cur_ts;       /* timestamp of the frame in j->frame */
    int64_t pkt_pos;      /* byte offset of the last packet read, or -1 */
    int64_t pkt_ts;       /* its index-domain timestamp */
    int has_key;
    int64_t key_pts;      /* pts of the last keyframe packet read */
    int64_t gop;          /* longest keyframe distance seen */
    int is_seek_sloppy;   /* seeks land anywhere, not on keyframes */
    int is_demux_eof;
    int nal_len;          /* H.264/HEVC length prefix size, else 0 */
    int is_spent;         /* damage or parameter sets seen: no hand-on */
    int64_t skip_below;   /* pts under which frames may go undecoded */
    int64_t drain_at;     /* the last target's exact pts, or NOPTS */
    int is_drain_due;     /* its packets are all in: drain, read no more */
    /* A run: the packets read since the last seek, when table is set. */
    int is_run_start;     /* the next packet read starts a run */
    int has_anchor;       /* run_base is known: frames can be counted */
    int64_t run_base;     /* frames that come before the run */
    int64_t run_key_dts;  /* dts of the run's first packet, or NOPTS */
    int64_t *run_pts;     /* pts of the run's packets, ascending */
    size_t run_len;
    size_t run_cap;
    int64_t run_last;     /* number of the run's last frame, or -1 */
    int has_skew;         /* frames are numbered by their index place */
    int64_t skew;         /* frame n's timestamp is index entry n + skew */
    int64_t skew_ts;      /* frame 0's timestamp minus start */
    int64_t lead;         /* most a landing showed past its index place */
    int64_t cur_num;      /* display number of j->frame */
    int is_cur_counted;   /* cur_num is exact: counted or placed */
    int has_kept;
    int64_t kept_ts;
    int64_t kept_num;
    int is_kept_counted;
    int64_t kept_kf;      /* index timestamp of kept's keyframe */
    /* Job plumbing. */
    frame_cb cb;
    void *cb_arg;
    struct extract_stats *stats;
    char *err;
    size_t errlen;
    int code;
};

static int av_lines_left;

static void
av_log_to_log(void *avcl, int level, const char *fmt, va_list ap)
{
    static int print_prefix = 1;
    char line[256];

    if (level > av_log_get_level() || av_lines_left <= 0)
        return;
    av_log_format_line2(avcl, level, fmt, ap, line, sizeof(line),
                        &print_prefix);
    line[strcspn(line, "\r\n")] = '\0';
    if (line[0] == '\0')
        return;
    /* Hostile input can make libav chatty: cap it per job. */
    if (--av_lines_left == 0)
        log_notice("libav: %s (further messages suppressed)", line);
    else
        log_notice("libav: %s", line);
}

void
decode_init(void)
{
    av_log_set_level(AV_LOG_ERROR);
    av_log_set_callback(av_log_to_log);
    mov_format = av_find_input_format("mov");
}

int
decode_errno_result(int errnum)
{
    switch (errnum) {
    case EIO:
    case ENOMEM:
    case EMFILE:
    case ENFILE:
    case ENOSPC:
    case EAGAIN:
    case EINTR:
    case ENOBUFS:
    case ETIMEDOUT:
    case ESTALE:
        return RESULT_TRANSIENT;
    default:
        return RESULT_PERMANENT;
    }
}

static int
fail(struct job *j, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
fail(struct job *j, int code, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(j->err, j->errlen, fmt, ap);
    va_end(ap);
    j->code = code;
    return code;
}

/* Out of memory: transient, unless our own limit made it deterministic. */
static int
out_of_memory(struct job *j, const char *stage)
{
    if (memory_limit_bytes == 0)
        return fail(j, RESULT_TRANSIENT, "%s: out of memory", stage);
    return fail(j, RESULT_PERMANENT, "%s: memory limit (%llu MiB) reached",
                stage, (unsigned long long)(memory_limit_bytes >> 20));
}

/*
 * Fails the job after a libav error in stage.  A read error recorded by
 * src_read wins: libav reports it as a generic failure (or even as invalid
 * data), but a retry may well succeed.
 */
static int
fail_av(struct job *j, const char *stage, int averr)
{
    int e = j->src.io_errno;

    if (e != 0)
        return fail(j, decode_errno_result(e), "%s: read: %s", stage,
                    strerror(e));
    if (averr == AVERROR(ENOMEM))
        return out_of_memory(j, stage);
    return fail(j, RESULT_PERMANENT, "%s: %s", stage, av_err2str(averr));
}

static int
src_read(void *opaque, uint8_t *buf, int size)
{
    struct src *s = opaque;
    ssize_t n;

    do
        n = pread(s->fd, buf, (size_t)size, s->off);
    while (n == -1 && errno == EINTR);
    if (n == -1) {
        if (s->io_errno == 0)
            s->io_errno = errno;
        return AVERROR(errno);
    }
    if (n == 0)
        return AVERROR_EOF;
    s->off += n;
    return (int)n;
}

static int64_t
src_seek(void *opaque, int64_t offset, int whence)
{
    struct src *s = opaque;
    struct stat sb;
    int64_t base;

    switch (whence & ~AVSEEK_FORCE) {
    case SEEK_SET:
        base = 0;
        break;
    case SEEK_CUR:
        base = s->off;
        break;
    case SEEK_END:
    case AVSEEK_SIZE:
        if (fstat(s->fd, &sb) == -1)
            return AVERROR(errno);
        if ((whence & ~AVSEEK_FORCE) == AVSEEK_SIZE)
            return sb.st_size;
        base = sb.st_size;
        break;
    default:
        return AVERROR(EINVAL);
    }
    if ((offset > 0 && base > INT64_MAX - offset) || base + offset < 0)
        return AVERROR(EINVAL);
    s->off = base + offset;
    return s->off;
}

/* Checks the descriptor and wraps it in a 64 KiB custom AVIOContext. */
static int
open_avio(struct job *j, int fd)
{
    struct stat sb;
    uint8_t *buf;

    if (fstat(fd, &sb) == -1)
        return fail(j, decode_errno_result(errno), "open: fstat: %s",
                    strerror(errno));
    if (!S_ISREG(sb.st_mode))
        return fail(j, RESULT_PERMANENT, "open: not a regular file");
    if (sb.st_size == 0)
        return fail(j, RESULT_PERMANENT, "open: empty file");
    j->src.fd = fd;
    if ((buf = av_malloc(AVIO_BUF_SIZE)) == NULL)
        return out_of_memory(j, "open");
    j->avio = avio_alloc_context(buf, AVIO_BUF_SIZE, 0, &j->src, src_read,
                                 NULL, src_seek);
    if (j->avio == NULL) {
        av_free(buf);
        return out_of_memory(j, "open");
    }
    return RESULT_OK;
}

/*
 * Picks the video stream.  Cover art (an attached picture) in an audio
 * file is not video: a one-frame "stream" would only yield the artwork.
 */
static int
pick_stream(struct job *j)
{
    AVFormatContext *fmt = j->fmt;
    int si = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);

    if (si >= 0 &&
        (fmt->streams[si]->disposition & AV_DISPOSITION_ATTACHED_PIC)) {
        si = -1;
        for (unsigned i = 0; i < fmt->nb_streams && si < 0; i++) {
            const AVStream *st = fmt->streams[i];
            if (st->codecpar->codec_type == AVMEDIA_TYPE_VIDEO &&
                !(st->disposition & AV_DISPOSITION_ATTACHED_PIC))
                si = (int)i;
        }
    }
    if (si < 0)
        return fail(j, RESULT_PERMANENT, "open: no video stream");
    j->si = si;
    j->st = fmt->streams[si];
    /* The demuxer can skip everything else instead of handing it to us. */
    for (unsigned i = 0; i < fmt->nb_streams; i++)
        if ((int)i != si)
            fmt->streams[i]->discard = AVDISCARD_ALL;
    return RESULT_OK;
}

/*
 * The decoder of the last job, flushed and handed to the next one when its
 * stream is configured exactly alike (a batch of clips from one camera or
 * encoder).  Allocating and opening an H.264 decoder, and refilling its
 * frame pools, is 1.8M of the 21M instructions a 1 s 160x120 clip costs.
 *
 * Flushing is what every seek already does to it, but a flush keeps what
 * the decoder learnt from the stream itself: parameter sets sent in-band
 * replace those of the extradata under the same id, and MPEG-4 or an old
 * x264 leave workaround flags behind.  So only H.264 and HEVC with
 * length-prefixed NAL units are handed on, and not after a job whose
 * packets carried parameter sets, whose decoder refused a packet or
 * flagged a frame as damaged, or that failed.  One state does survive: an
 * encoder build recognised from an SEI (x264, whose workarounds concern
 * builds from before 2017) would carry over to a clip that has none.
 */
static struct {
    AVCodecContext *dec;
    AVCodecParameters *par; /* the stream it was opened for */
} spare;

static void
drop_spare(void)
{
    avcodec_free_context(&spare.dec);
}

/* Everything avcodec_parameters_to_context() would hand the decoder. */
static int
is_same_stream(const AVCodecParameters *a, const AVCodecParameters *b)
{
    return a->codec_id == b->codec_id && a->codec_tag == b->codec_tag &&
           a->width == b->width && a->height == b->height &&
           a->format == b->format && a->profile == b->profile &&
           a->level == b->level && a->video_delay == b->video_delay &&
           a->bits_per_coded_sample == b->bits_per_coded_sample &&
           a->bits_per_raw_sample == b->bits_per_raw_sample &&
           a->field_order == b->field_order &&
           a->color_range == b->color_range &&
           a->color_primaries == b->color_primaries &&
           a->color_trc == b->color_trc && a->color_space == b->color_space &&
           a->chroma_location == b->chroma_location &&
           av_cmp_q(a->sample_aspect_ratio, b->sample_aspect_ratio) == 0 &&
           a->extradata_size == b->extradata_size &&
           (a->extradata_size == 0 ||
            memcmp(a->extradata, b->extradata, (size_t)a->extradata_size) ==
                0);
}

/*
 * The NAL length prefix size of an avcC/hvcC configuration, or 0 when the
 * stream is not H.264/HEVC in that form (Annex B carries its parameter
 * sets in-band anyway).
 */
static int
nal_len_of(const AVCodecParameters *par)
{
    const uint8_t *x = par->extradata;

    if (par->codec_id == AV_CODEC_ID_H264 && par->extradata_size >= 7 &&
        x[0] == 1)
        return (x[4] & 3) + 1;
    if (par->codec_id == AV_CODEC_ID_HEVC && par->extradata_size >= 23 &&
        x[0] == 1)
        return (x[21] & 3) + 1;
    return 0;
}

/* Whether a packet carries SPS/PPS (or VPS): a malformed one counts. */
static int
has_param_sets(const uint8_t *p, int size, int nal_len, int is_hevc)
{
    while (size > 0) {
        uint32_t n = 0;
        int type;

        if (size <= nal_len)
            return 1;
        for (int i = 0; i < nal_len; i++)
            n = n << 8 | p[i];
        p += nal_len;
        size -= nal_len;
        if (n == 0 || n > (uint32_t)size)
            return 1;
        type = is_hevc ? (p[0] >> 1) & 0x3f : p[0] & 0x1f;
        if (is_hevc ? type >= 32 && type <= 34 : type == 7 || type == 8)
            return 1;
        p += n;
        size -= (int)n;
    }
    return 0;
}

static int
take_spare(struct job *j, const AVCodecParameters *par)
{
    if (spare.dec == NULL)
        return 0;
    if (!is_same_stream(spare.par, par)) {
        drop_spare();
        return 0;
    }
    j->dec = spare.dec;
    spare.dec = NULL;
    avcodec_flush_buffers(j->dec);
    j->dec->skip_frame = AVDISCARD_DEFAULT;
    j->dec->pkt_timebase = j->st->time_base;
    /* As a new one starts: the last stream may have raised it. */
    j->dec->has_b_frames = par->video_delay;
    return 1;
}

/* Keeps the decoder of a job that went well, else frees it. */
static void
put_spare(struct job *j, int rc)
{
    if (j->dec == NULL)
        return;
    drop_spare();
    if (rc == RESULT_OK && j->nal_len > 0 && !j->is_spent &&
        (spare.par != NULL || (spare.par = avcodec_parameters_alloc())) &&
        avcodec_parameters_copy(spare.par, j->st->codecpar) >= 0) {
        spare.dec = j->dec;
        j->dec = NULL;
        return;
    }
    avcodec_free_context(&j->dec);
}

static int
open_decoder(struct job *j)
{
    const AVCodecParameters *par = j->st->codecpar;
    const AVCodec *codec = avcodec_find_decoder(par->codec_id);
    int ret;

    if (codec == NULL)
        return fail(j, RESULT_PERMANENT, "open: unsupported codec: %s",
                    avcodec_get_name(par->codec_id));
    /* A decompression bomb is refused before its first allocation. */
    if ((uint64_t)par->width * (uint64_t)par->height > max_pixels)
        return fail(j, RESULT_PERMANENT,
                    "open: frame too large: %dx%d exceeds max_megapixels %llu",
                    par->width, par->height,
                    (unsigned long long)(max_pixels / 1000000));
    j->nal_len = nal_len_of(par);
    if ((j->stats->is_decoder_reused = take_spare(j, par)))
        return RESULT_OK;
    if ((j->dec = avcodec_alloc_context3(codec)) == NULL)
        return out_of_memory(j, "open");
    if ((ret = avcodec_parameters_to_context(j->dec, par)) < 0)
        return fail_av(j, "open", ret);
    /* Parallelism comes from the pool; threads would only compete. */
    j->dec->thread_count = 1;
    /* Streams may change size mid-way: libavcodec checks every frame. */
    j->dec->max_pixels = (int64_t)max_pixels;
    j->dec->pkt_timebase = j->st->time_base;
    if ((ret = avcodec_open2(j->dec, codec, NULL)) < 0) {
        if (ret == AVERROR(ENOMEM))
            return fail_av(j, "open", ret);
        return fail(j, RESULT_PERMANENT, "open: cannot open %s decoder: %s",
                    codec->name, av_err2str(ret));
    }
    return RESULT_OK;
}

/*
 * Whether the header already says all that avformat_find_stream_info()
 * would learn by reading and decoding the first frames with a decoder of
 * its own (15 % of a 1 s clip's CPU).  An MP4/MOV moov box holds the size,
 * the codec configuration, a per-frame index, the rate, and (ctts) the
 * reordering depth.  One video stream only: with several, the choice
 * between them weighs what probing found.  Anything less is probed.
 */
static int
is_header_complete(const AVFormatContext *fmt)
{
    const AVStream *video = NULL;

    if (strncmp(fmt->iformat->name, "mov,", 4) != 0)
        return 0;
    for (unsigned i = 0; i < fmt->nb_streams; i++) {
        const AVStream *st = fmt->streams[i];
        if (st->codecpar->codec_type != AVMEDIA_TYPE_VIDEO ||
            (st->disposition & AV_DISPOSITION_ATTACHED_PIC))
            continue;
        if (video != NULL)
            return 0;
        video = st;
    }
    return video != NULL && video->codecpar->codec_id != AV_CODEC_ID_NONE &&
           video->codecpar->width > 0 && video->codecpar->height > 0 &&
           video->codecpar->extradata_size > 0 && video->nb_frames > 0 &&
           video->avg_frame_rate.num > 0 && video->avg_frame_rate.den > 0 &&
           video->time_base.num > 0 && video->time_base.den > 0 &&
           avformat_index_get_entries_count(video) > 0;
}

/*
 * Whether the MP4 demuxer's H.264 parser tells us nothing the file does
 * not: it runs over every packet's NAL units for the field order and the
 * picture type (2.7 % of a 160x120 clip's instructions, callgrind), while
 * the stss box already flags the keyframes we seek by, and stts/ctts give
 * every timestamp.  Without an stss box every sample counts as a
 * keyframe, and only the parser tells the real ones: it stays.  Outputs
 * are byte-identical (mixed, long and tiny corpora; open GOP, interlaced,
 * intra refresh, edit list).  AV1's parser is header-only too but
 * untested here, and the others' may split or join packets: they keep
 * theirs, as do probed files.
 */
static int
is_parser_redundant(const AVFormatContext *fmt)
{
    int has_delta = 0;

    for (unsigned i = 0; i < fmt->nb_streams; i++) {
        AVStream *st = fmt->streams[i];
        if (st->codecpar->codec_type != AVMEDIA_TYPE_VIDEO)
            continue;
        if (st->codecpar->codec_id != AV_CODEC_ID_H264)
            return 0;
        /* No stss: every sample a keyframe, and the parser knows better. */
        for (int k = 0; !has_delta && k < avformat_index_get_entries_count(st);
             k++) {
            const AVIndexEntry *e = avformat_index_get_entry(st, k);
            has_delta = e != NULL && !(e->flags & AVINDEX_KEYFRAME);
        }
    }
    return has_delta;
}

/*
 * The demuxer of a file whose first box is an ISO BMFF "ftyp" naming a
 * video brand, or NULL for libavformat to probe.  Probing runs every
 * demuxer's test over the first 2 KiB, 3.6 % of a 160x120 clip's
 * instructions (callgrind), and for these files the MP4/MOV demuxer wins
 * it with the top score anyway, damaged ones included; brands of still
 * images (JPEG 2000, JPEG XL, HEIF, AVIF) are left to the probe, which
 * hands some of them to other demuxers.
 */
static const AVInputFormat *
known_format(int fd)
{
    static const char video_brands[][5] = {
        "isom", "iso2", "iso3", "iso4", "iso5", "iso6", "mp41", "mp42",
        "avc1", "qt  ", "M4V ", "M4VP", "3gp4", "3gp5", "3gp6", "3g2a",
        "dash", "mmp4", "MSNV", "f4v "};
    uint8_t head[12];

    if (mov_format == NULL || pread(fd, head, sizeof(head), 0) != 12 ||
        memcmp(head + 4, "ftyp", 4) != 0)
        return NULL;
    for (size_t i = 0; i < sizeof(video_brands) / sizeof(video_brands[0]);
         i++)
        if (memcmp(head + 8, video_brands[i], 4) == 0)
            return mov_format;
    return NULL;
}

/* Opens the container, finds the video stream and opens its decoder. */
static int
job_open(struct job *j, int fd)
{
    int ret;

    if ((ret = open_avio(j, fd)) != RESULT_OK)
        return ret;
    if ((j->fmt = avformat_alloc_context()) == NULL)
        return out_of_memory(j, "open");
    j->fmt->pb = j->avio;
    j->fmt->flags |= AVFMT_FLAG_CUSTOM_IO; /* closing must not free pb */
    /* On failure avformat_open_input frees fmt, but never our pb. */
    if ((ret = avformat_open_input(&j->fmt, NULL, known_format(fd),
                                   NULL)) < 0) {
        if (j->src.io_errno != 0 || ret == AVERROR(ENOMEM))
            return fail_av(j, "open", ret);
        return fail(j, RESULT_PERMANENT,
                    "open: invalid data: cannot open container: %s",
                    av_err2str(ret));
    }
    if (!is_header_complete(j->fmt)) {
        if ((ret = avformat_find_stream_info(j->fmt, NULL)) < 0)
            return fail_av(j, "open: stream info", ret);
    } else if (is_parser_redundant(j->fmt)) {
        j->fmt->flags |= AVFMT_FLAG_NOPARSE;
    }
    if ((ret = pick_stream(j)) != RESULT_OK)
        return ret;
    return open_decoder(j);
}

/*
 * Counts index entries that are real frames (edit lists mark the others
 * DISCARD) and notes whether the index is a per-frame table rather than a
 * list of seek points: it holds non-keyframes, or as many entries as the
 * stream has samples.
 */
static int64_t
count_index(AVStream *st, int *is_per_frame)
{
    int n = avformat_index_get_entries_count(st);
    int64_t count = 0;

    *is_per_frame = n > 0 && n == st->nb_frames;
    for (int i = 0; i < n; i++) {
        const AVIndexEntry *e = avformat_index_get_entry(st, i);
        if (e == NULL || (e->flags & AVINDEX_DISCARD_FRAME))
            continue;
        count++;
        if (!(e->flags & AVINDEX_KEYFRAME))
            *is_per_frame = 1;
    }
    return count;
}

/* duration x average frame rate, from the stream or else the container. */
static int64_t
count_from_duration(const struct job *j)
{
    const AVStream *st = j->st;

    if (!j->has_fps)
        return 0;
    if (st->duration != AV_NOPTS_VALUE && st->duration > 0)
        return plan_count_from_duration(st->duration, j->tb, j->fps);
    if (j->fmt->duration != AV_NOPTS_VALUE && j->fmt->duration > 0)
        return plan_count_from_duration(j->fmt->duration,
                                        (struct plan_q){1, AV_TIME_BASE},
                                        j->fps);
    return 0;
}

/*
 * Collects the timestamps of the real (non-DISCARD) index entries.  MP4
 * indexes hold decode timestamps, which trail the presentation ones by the
 * reordering delay (-1024 vs 0 for x264 with B-frames), so the table is
 * shifted to start at the stream's start_time, the same shift mov applies
 * when it seeks; AVI needs none.  Entry n then estimates frame n's pts,
 * exactly so at a constant rate; counting (see note_packet) makes the
 * delivered frame exact either way.
 */
static int
build_table(struct job *j)
{
    int n = avformat_index_get_entries_count(j->st);
    size_t k = 0;

    if (j->total <= 0 || (size_t)j->total > TABLE_MAX_ENTRIES)
        return RESULT_OK; /* fall back to the frame rate */
    if ((j->table = malloc((size_t)j->total * sizeof(*j->table))) == NULL)
        return out_of_memory(j, "open");
    for (int i = 0; i < n && k < (size_t)j->total; i++) {
        const AVIndexEntry *e = avformat_index_get_entry(j->st, i);
        if (e != NULL && !(e->flags & AVINDEX_DISCARD_FRAME))
            j->table[k++] = e->timestamp;
    }
    j->table_len = k;
    if (k == 0) {
        free(j->table);
        j->table = NULL;
        return RESULT_OK;
    }
    plan_sort_ts(j->table, k);
    j->idx_shift = j->start - j->table[0];
    for (size_t i = 0; i < k; i++)
        j->table[i] += j->idx_shift;
    return RESULT_OK;
}

/* Decides the frame count and how frame numbers map to timestamps. */
static int
job_count(struct job *j)
{
    AVStream *st = j->st;
    AVRational fps = st->avg_frame_rate;
    int is_per_frame;
    int64_t n_idx;

    if (fps.num <= 0 || fps.den <= 0)
        fps = st->r_frame_rate;
    j->tb = (struct plan_q){st->time_base.num, st->time_base.den};
    j->fps = (struct plan_q){fps.num, fps.den};
    j->has_fps = fps.num > 0 && fps.den > 0;
    j->start = st->start_time != AV_NOPTS_VALUE ? st->start_time : 0;
    j->frame_dur = j->has_fps ? plan_frame_to_pts(1, 0, j->tb, j->fps) : 1;
    if (j->frame_dur < 1)
        j->frame_dur = 1;

    n_idx = count_index(st, &is_per_frame);
    /*
     * A per-frame index knows best: MP4's nb_frames also counts samples an
     * edit list hides.  Matroska and most others index keyframes only, and
     * their entry count is no frame count.
     */
    if (is_per_frame)
        j->total = n_idx;
    else if (st->nb_frames > 0)
        j->total = st->nb_frames;
    else
        j->total = count_from_duration(j);
    if (j->total <= 0)
        return fail(j, RESULT_PERMANENT, "open: cannot determine frame count");
    j->is_index_exact = is_per_frame && n_idx == j->total;
    if (j->is_index_exact && build_table(j) != RESULT_OK)
        return j->code;
    if (j->table == NULL && !j->has_fps)
        return fail(j, RESULT_PERMANENT, "open: unknown frame rate");
    return RESULT_OK;
}

/* Frame n's (estimated) pts and the window of timestamps that count. */
static struct target
target_of(const struct job *j, int64_t n)
{
    struct target t = {.n = n};

    if (j->table != NULL && (size_t)n < j->table_len) {
        /* Aim early enough for the keyframes seen so far (note_landing). */
        t.pts = j->table[n > j->lead ? n - j->lead : 0];
        plan_table_window(j->table, j->table_len, (size_t)n, &t.lo, &t.hi);
        return t;
    }
    t.pts = plan_frame_to_pts(n, j->start, j->tb, j->fps);
    t.lo = t.pts - j->frame_dur / 2;
    t.hi = t.pts + j->frame_dur / 2;
    return t;
}

static int64_t
frame_number_of(const struct job *j, int64_t ts)
{
    int64_t n;

    if (j->table != NULL && j->table_len > 0)
        return (int64_t)plan_table_nearest(j->table, j->table_len, ts);
    n = plan_pts_to_frame(ts, j->start, j->tb, j->fps);
    return n < 0 ? 0 : n;
}

/* Adds a packet's pts to the run, or gives up counting for this run. */
static void
run_add(struct job *j, int64_t pts)
{
    int64_t *p;

    if (pts == AV_NOPTS_VALUE || j->run_len >= j->table_len + 64) {
        j->has_anchor = 0;
        return;
    }
    if (j->run_len == j->run_cap) {
        size_t cap = j->run_cap ? j->run_cap * 2 : 256;
        if ((p = realloc(j->run_pts, cap * sizeof(*p))) == NULL) {
            j->has_anchor = 0;
            return;
        }
        j->run_pts = p;
        j->run_cap = cap;
    }
    plan_sorted_insert(j->run_pts, &j->run_len, pts);
}

/*
 * Tracks where the demuxer is, how far apart keyframes are, and the run
 * that counts frames: the first packet after a seek is where decoding
 * starts, and the real index entries before it are the frames before it.
 */
static void
note_packet(struct job *j, const AVPacket *pkt)
{
    if (j->is_run_start) {
        /*
         * mpegts seeks by timestamp to any packet (and indexes every
         * packet as a keyframe): the decoder then skips to the next
         * keyframe, possibly past the target.
         */
        if (!(pkt->flags & AV_PKT_FLAG_KEY))
            j->is_seek_sloppy = 1;
        j->is_run_start = 0;
        j->run_len = 0;
        j->run_last = -1;
        j->run_key_dts = pkt->dts;
        j->has_anchor = j->table != NULL && pkt->dts != AV_NOPTS_VALUE;
        if (j->has_anchor)
            j->run_base = (int64_t)plan_count_below(
                j->table, j->table_len, pkt->dts + j->idx_shift);
    }
    /* Edit lists mark frames that decode but never show: not frames. */
    if (j->has_anchor && !(pkt->flags & AV_PKT_FLAG_DISCARD))
        run_add(j, pkt->pts);
    j->pkt_pos = pkt->pos;
    j->pkt_ts = pkt->dts != AV_NOPTS_VALUE ? pkt->dts : pkt->pts;
    if (!(pkt->flags & AV_PKT_FLAG_KEY) || pkt->pts == AV_NOPTS_VALUE)
        return;
    if (j->has_key && pkt->pts - j->key_pts > j->gop)
        j->gop = pkt->pts - j->key_pts;
    j->has_key = 1;
    j->key_pts = pkt->pts;
}

/*
 * Whether every packet shown up to the last target has been read.  The
 * decoder holds a frame back until later packets show that no frame comes
 * before it (the reordering depth: on a clip with B-frames, the P-frame
 * after the target is decoded for nothing); drained instead, it hands the
 * target over at once.  On a 160x120 clip with five targets that is one
 * decode in seventeen.  Counted against the per-frame index exactly as
 * frames are numbered (next_frame), so only where they are counted.
 */
static int
is_last_target_in(const struct job *j)
{
    int64_t upto;

    if (j->drain_at == AV_NOPTS_VALUE || !j->has_anchor ||
        j->drain_at == INT64_MAX)
        return 0;
    upto = j->drain_at + 1;
    return j->run_base + (int64_t)plan_count_below(j->run_pts, j->run_len,
                                                   upto) >=
           (int64_t)plan_count_below(j->table, j->table_len, upto);
}

/*
 * Reads the next packet of our stream into the decoder; at the end of the
 * data starts draining it instead.  Returns GOT_FRAME (meaning: fed) or
 * GOT_ERROR.
 */
static int
feed(struct job *j)
{
    int ret;

    while ((ret = av_read_frame(j->fmt, j->pkt)) >= 0 &&
           j->pkt->stream_index != j->si)
        av_packet_unref(j->pkt);
    if (ret < 0) {
        if (j->src.io_errno != 0 || ret == AVERROR(ENOMEM)) {
            fail_av(j, "decode", ret);
            return GOT_ERROR;
        }
        /* The end, or data that stops making sense: a truncated file. */
        if (ret != AVERROR_EOF)
            log_debug("demux stopped: %s", av_err2str(ret));
        j->is_demux_eof = 1;
        avcodec_send_packet(j->dec, NULL);
        return GOT_FRAME;
    }
    note_packet(j, j->pkt);
    if (is_last_target_in(j))
        j->is_drain_due = 1;
    /*
     * A frame shown before the target is never delivered, so one that no
     * other frame refers to need not be decoded at all (a third to a half
     * of an H.264 GOP with B-frames).  Packets are still read and counted:
     * numbering does not depend on what the decoder outputs.
     */
    j->dec->skip_frame = j->skip_below != AV_NOPTS_VALUE &&
                                 j->pkt->pts != AV_NOPTS_VALUE &&
                                 j->pkt->pts < j->skip_below
                             ? AVDISCARD_NONREF
                             : AVDISCARD_DEFAULT;
    if (j->nal_len > 0 && !j->is_spent &&
        has_param_sets(j->pkt->data, j->pkt->size, j->nal_len,
                       j->dec->codec_id == AV_CODEC_ID_HEVC))
        j->is_spent = 1;
    ret = avcodec_send_packet(j->dec, j->pkt);
    av_packet_unref(j->pkt);
    if (ret == AVERROR(ENOMEM)) {
        fail_av(j, "decode", ret);
        return GOT_ERROR;
    }
    /* Any other error is a damaged packet: the decoder resyncs later. */
    if (ret < 0)
        j->is_spent = 1;
    return GOT_FRAME;
}

/* Decodes the next frame into j->frame and notes its timestamp. */
static int
next_frame(struct job *j)
{
    int64_t prev_ts = j->cur_ts;
    int ret;

    for (;;) {
        ret = avcodec_receive_frame(j->dec, j->frame);
        if (ret == 0)
            break;
        if (ret == AVERROR_EOF)
            return GOT_EOF;
        if (ret != AVERROR(EAGAIN)) {
            fail_av(j, "decode", ret);
            return GOT_ERROR;
        }
        if (j->is_demux_eof)
            return GOT_EOF;
        if (j->is_drain_due) {
            avcodec_send_packet(j->dec, NULL);
            j->is_demux_eof = 1;
            continue;
        }
        if (feed(j) == GOT_ERROR)
            return GOT_ERROR;
    }
    if (j->stats->frames_decoded < UINT32_MAX)
        j->stats->frames_decoded++;
    /* Concealed damage: nothing refused, but the decoder saw garbage. */
    if (j->frame->decode_error_flags != 0 ||
        (j->frame->flags & AV_FRAME_FLAG_CORRUPT))
        j->is_spent = 1;
    j->cur_ts = j->frame->best_effort_timestamp;
    if (j->cur_ts == AV_NOPTS_VALUE)
        j->cur_ts = j->frame->pts;
    /* No timestamp at all: assume the frame follows the previous one. */
    if (j->cur_ts == AV_NOPTS_VALUE)
        j->cur_ts = j->has_pos ? prev_ts + j->frame_dur : j->start;
    j->has_pos = 1;
    /*
     * Every packet shown before this frame has been read by now.  Frames
     * come out in display order, so two with the same pts (broken muxing)
     * still get consecutive numbers.
     */
    j->is_cur_counted = j->has_anchor && j->frame->pts != AV_NOPTS_VALUE;
    if (j->is_cur_counted) {
        j->cur_num = j->run_base + (int64_t)plan_count_below(
            j->run_pts, j->run_len, j->frame->pts);
    } else if (j->has_skew) { /* no pts to count with: see learn_skew */
        j->cur_num = plan_table_place(j->table, j->table_len, j->cur_ts,
                                      j->frame_dur) - j->skew;
        j->is_cur_counted = 1;
    } else {
        j->cur_num = frame_number_of(j, j->cur_ts);
        return GOT_FRAME;
    }
    if (j->cur_num <= j->run_last)
        j->cur_num = j->run_last + 1;
    j->run_last = j->cur_num;
    return GOT_FRAME;
}

static void
reset_position(struct job *j)
{
    avcodec_flush_buffers(j->dec);
    j->has_pos = 0;
    j->has_key = 0;
    j->pkt_pos = -1;
    j->is_demux_eof = 0;
    j->is_drain_due = 0; /* counted again over the new run */
    j->is_run_start = 1;
    j->has_anchor = 0;
    j->run_key_dts = AV_NOPTS_VALUE;
}

/* Keeps the current frame for positions that want it (again). */
static void
keep(struct job *j)
{
    av_frame_unref(j->kept);
    j->has_kept = av_frame_ref(j->kept, j->frame) == 0;
    j->kept_ts = j->cur_ts;
    j->kept_num = j->cur_num;
    j->is_kept_counted = j->is_cur_counted;
    j->kept_kf = AV_NOPTS_VALUE;
}

/*
 * AVI stores decode timestamps only, and a decoder that reorders (MPEG-4
 * with B-frames) stamps each frame it outputs with the dts of the packet
 * that pushed it out: frame n's timestamp is index entry n + skew, skew
 * being the decoder's delay in packets (1 behind B-frames; Xvid's leading
 * empty chunks add theirs).  The packets lack pts, so no run can count
 * frames.  Frame 0 is by definition the first frame of the file, so its
 * timestamp gives the skew.  Frames that can be counted need no skew.
 * The frame is kept as if delivered, for the first position (always frame
 * 0, or in keyframe mode the keyframe it starts with) to take without
 * decoding it again.
 */
static int
learn_skew(struct job *j)
{
    int is_sloppy = j->is_seek_sloppy;
    int got;

    if (j->table == NULL)
        return RESULT_OK;
    /* Probing queued what it read: the demuxer is at the start. */
    j->is_run_start = 1;
    got = next_frame(j);
    /* Reading from the start is no seek: its first packet says nothing. */
    j->is_seek_sloppy = is_sloppy;
    if (got == GOT_ERROR)
        return j->code;
    if (got == GOT_EOF)
        return RESULT_OK;
    if (!j->is_cur_counted) {
        j->has_skew = 1;
        j->skew = plan_table_place(j->table, j->table_len, j->cur_ts,
                                   j->frame_dur);
        j->skew_ts = j->cur_ts - j->start;
        j->cur_num = 0;
        j->is_cur_counted = 1;
        j->run_last = 0;
    }
    keep(j);
    j->kept_kf = j->run_key_dts; /* and for keyframe mode's */
    return RESULT_OK;
}

/* Whether the current frame is frame t->n or one that comes after it. */
static int
is_at_or_past(const struct job *j, const struct target *t)
{
    return j->is_cur_counted ? j->cur_num >= t->n : j->cur_ts >= t->lo;
}

static int
is_past(const struct job *j, const struct target *t)
{
    return j->is_cur_counted ? j->cur_num > t->n : j->cur_ts > t->hi;
}

/* The keyframe the index lists at or before pts, or NULL. */
static const AVIndexEntry *
keyframe_before(const struct job *j, int64_t pts)
{
    return avformat_index_get_entry_from_timestamp(
        j->st, pts - j->idx_shift, AVSEEK_FLAG_BACKWARD);
}

/* Whether the demuxer has yet to reach index entry e. */
static int
is_unread(const struct job *j, const AVIndexEntry *e)
{
    /* Byte offsets compare across containers; timestamps only mostly. */
    if (e->pos >= 0 && j->pkt_pos >= 0)
        return e->pos > j->pkt_pos;
    return e->timestamp > j->pkt_ts;
}

static int
should_seek(const struct job *j, const struct target *t)
{
    const AVIndexEntry *e = keyframe_before(j, t->pts);
    struct plan_seek s = {
        .has_pos = j->has_pos,
        .is_index_exact = j->is_index_exact,
        .has_kf_ahead = !j->is_seek_sloppy && e != NULL && is_unread(j, e),
        .gap = j->has_pos ? t->pts - j->cur_ts : 0,
        .gop = j->gop,
    };

    return plan_should_seek(&s);
}

/*
 * Learns how far past its index place the first frame after a seek shows,
 * where frames are numbered by skew: an open GOP's keyframe sorts before
 * the B-frames shown ahead of it, so a target among those lands past them.
 * Later targets aim that much earlier (see target_of).
 */
static void
note_landing(struct job *j)
{
    int64_t lead;

    if (!j->has_skew || j->run_key_dts == AV_NOPTS_VALUE)
        return;
    lead = j->cur_num - (int64_t)plan_count_below(
        j->table, j->table_len, j->run_key_dts + j->idx_shift);
    if (lead > LEAD_MAX)
        lead = LEAD_MAX;
    if (lead > j->lead)
        j->lead = lead;
}

/*
 * Seeks to the keyframe at or before the target and decodes the first
 * frame after it.  Should the decoder start past the target (timestamps
 * that only estimate, a demuxer that lands between keyframes, a keyframe
 * shown after B-frames it precedes in the index) or show nothing at all
 * (a recovery point, not a real keyframe), the seek is retried
 * further back (one keyframe at a time where the index lists every frame),
 * at last from the start; a sloppy demuxer is aimed one GOP early from the
 * outset.  A demuxer that cannot seek at all is decoded forward instead.
 */
static int
seek_near(struct job *j, const struct target *t)
{
    int64_t one_s = (j->tb.den + j->tb.num / 2) / j->tb.num;
    int64_t back = j->is_seek_sloppy ? j->gop : 0;
    int got, ret, is_late;

    for (int tries = 0;; tries++) {
        int64_t ts = tries < SEEK_RETRIES ? t->pts - back : j->start;

        ret = av_seek_frame(j->fmt, j->si, ts, AVSEEK_FLAG_BACKWARD);
        if (ret < 0 && j->src.io_errno != 0) {
            fail_av(j, "seek", ret);
            return GOT_ERROR;
        }
        if (ret < 0) {
            log_debug("seek: %s, decoding forward", av_err2str(ret));
            return next_frame(j);
        }
        reset_position(j);
        if ((got = next_frame(j)) == GOT_ERROR)
            return got;
        if (got == GOT_FRAME)
            note_landing(j);
        /*
         * Nothing decoded from the landing on: a sloppy seek past the last
         * keyframe, or a keyframe that is only a recovery point (x264's
         * intra refresh flags one every GOP) that the drain at the last
         * target cut short: the decoder shows nothing until the frames
         * after it repair the picture.  Either way an earlier start may.
         * The end of the data is no reason: a truncated file would be
         * decoded again from its start for a frame it does not have.
         */
        is_late = got == GOT_EOF ? j->is_seek_sloppy || j->is_drain_due
                                 : is_past(j, t);
        if (!is_late || tries >= SEEK_RETRIES) {
            if (got == GOT_EOF)
                return got;
            break;
        }
        /* Back to the indexed keyframe before the landing, else by time. */
        if (j->is_index_exact && j->run_key_dts != AV_NOPTS_VALUE &&
            t->pts - (j->run_key_dts + j->idx_shift) >= back)
            back = t->pts - (j->run_key_dts + j->idx_shift) + 1;
        else
            back = back == 0 ? (one_s > 0 ? one_s : 1) : back * 2;
    }
    /* The target's GOP is at least this long: a lower bound for later. */
    if (j->cur_ts < t->pts && t->pts - j->cur_ts > j->gop)
        j->gop = t->pts - j->cur_ts;
    return GOT_FRAME;
}

/* Hands the current frame (is_kept: the kept one) to the callback. */
static int
deliver(struct job *j, uint32_t index, int is_kept)
{
    int64_t ts = is_kept ? j->kept_ts : j->cur_ts;
    int rc;

    /* Keep a reference: a later position may want the same frame. */
    if (!is_kept)
        keep(j);
    if (j->has_skew)
        ts -= j->skew_ts; /* frame 0 shows at start */
    rc = j->cb(j->cb_arg, index, is_kept ? j->kept_num : j->cur_num,
               plan_pts_to_us(ts, j->start, j->tb),
               is_kept ? j->kept : j->frame, j->err, j->errlen);
    if (rc != RESULT_OK) {
        j->code = rc;
        return rc;
    }
    j->stats->frames_sent++;
    return RESULT_OK;
}

/* Decodes up to frame t->n, or the first frame after it. */
static int
reach(struct job *j, const struct target *t)
{
    int got;

    /*
     * Frames numbered by their place (see learn_skew) take their timestamp
     * from the packet that pushed them out: a skipped frame would shift
     * it.  Everything else is numbered by pts, which skipping keeps.
     */
    if (!j->has_skew)
        j->skip_below = t->lo;
    if (should_seek(j, t)) {
        got = seek_near(j, t);
        if (got != GOT_FRAME || is_at_or_past(j, t)) {
            j->skip_below = AV_NOPTS_VALUE;
            return got;
        }
    }
    while ((got = next_frame(j)) == GOT_FRAME && !is_at_or_past(j, t))
        ;
    j->skip_below = AV_NOPTS_VALUE;
    return got;
}

/*
 * The last target did not come out of the drained decoder (its frame was
 * damaged past decoding): read on from its keyframe as without draining,
 * so that the frame after the gap stands in for it, as elsewhere.
 */
static int
reach_undrained(struct job *j, const struct target *t)
{
    j->drain_at = AV_NOPTS_VALUE;
    reset_position(j);
    return reach(j, t);
}

/* Whether the frame delivered last is at or past t: a gap in the stream. */
static int
is_kept_at_or_past(const struct job *j, const struct target *t)
{
    if (!j->has_kept)
        return 0;
    return j->is_kept_counted ? j->kept_num >= t->n : j->kept_ts >= t->lo;
}

/*
 * Accurate mode: delivers exactly the frame at each position, decoding
 * forward inside a GOP and seeking only to a keyframe not yet read.  A
 * stream that ends early delivers what it has.
 */
static int
extract_accurate(struct job *j, const int64_t *pos, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        struct target t = target_of(j, pos[i]);
        int got, rc;

        /* The frame after a gap still is the nearest one to come. */
        if (is_kept_at_or_past(j, &t)) {
            rc = deliver(j, i, 1);
        } else {
            if (i == n - 1 && j->table != NULL && !j->has_skew &&
                (size_t)t.n < j->table_len)
                j->drain_at = j->table[t.n];
            got = reach(j, &t);
            if (got == GOT_EOF && j->is_drain_due)
                got = reach_undrained(j, &t);
            if (got == GOT_EOF)
                return RESULT_OK;
            if (got == GOT_ERROR)
                return j->code;
            rc = deliver(j, i, 0);
        }
        if (rc != RESULT_OK)
            return rc;
    }
    return RESULT_OK;
}

/*
 * Keyframe mode: delivers the keyframe at or before each position, with
 * its real frame number.  With a complete index, positions sharing a
 * keyframe reuse the frame instead of seeking and decoding it again.
 */
static int
extract_keyframe(struct job *j, const int64_t *pos, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        struct target t = target_of(j, pos[i]);
        int64_t kf = AV_NOPTS_VALUE;
        const AVIndexEntry *e;
        int got, rc;

        if (j->is_index_exact && (e = keyframe_before(j, t.pts)) != NULL)
            kf = e->timestamp;
        if (kf != AV_NOPTS_VALUE && j->has_kept && j->kept_kf == kf) {
            if ((rc = deliver(j, i, 1)) != RESULT_OK)
                return rc;
            continue;
        }
        got = seek_near(j, &t);
        if (got == GOT_EOF)
            return RESULT_OK;
        if (got == GOT_ERROR)
            return j->code;
        if ((rc = deliver(j, i, 0)) != RESULT_OK)
            return rc;
        /*
         * The keyframe landed on, which is the one aimed at unless the seek
         * landed late (a keyframe shown after the B-frames before it).
         */
        j->kept_kf = kf != AV_NOPTS_VALUE ? j->run_key_dts : kf;
    }
    return RESULT_OK;
}

static int
job_init(struct job *j, frame_cb cb, void *cb_arg,
         struct extract_stats *stats, char *err, size_t errlen)
{
    memset(j, 0, sizeof(*j));
    j->src.fd = -1;
    j->pkt_pos = -1;
    j->run_key_dts = AV_NOPTS_VALUE;
    j->kept_kf = AV_NOPTS_VALUE;
    j->skip_below = AV_NOPTS_VALUE;
    j->drain_at = AV_NOPTS_VALUE;
    j->cb = cb;
    j->cb_arg = cb_arg;
    j->stats = stats;
    j->err = err;
    j->errlen = errlen;
    if ((j->pkt = av_packet_alloc()) == NULL ||
        (j->frame = av_frame_alloc()) == NULL ||
        (j->kept = av_frame_alloc()) == NULL)
        return out_of_memory(j, "open");
    return RESULT_OK;
}

/* Frees everything job_init and job_open made, in reverse order. */
static void
job_close(struct job *j, int rc)
{
    free(j->run_pts);
    free(j->table);
    put_spare(j, rc);
    avformat_close_input(&j->fmt);
    if (j->avio != NULL) {
        /* libav may have swapped the buffer: free the current one. */
        av_freep(&j->avio->buffer);
        avio_context_free(&j->avio);
    }
    av_frame_free(&j->kept);
    av_frame_free(&j->frame);
    av_packet_free(&j->pkt);
}

int
decode_extract(int fd, const struct extract_req *req, frame_cb cb,
               void *cb_arg, struct extract_stats *stats, char *err,
               size_t errlen)
{
    struct job j;
    int64_t *pos = NULL;
    uint32_t n;
    int rc;

    memset(stats, 0, sizeof(*stats));
    if (errlen > 0)
        err[0] = '\0';
    av_lines_left = AV_LOG_LINES_PER_JOB;
    if ((rc = job_init(&j, cb, cb_arg, stats, err, errlen)) != RESULT_OK ||
        (rc = job_open(&j, fd)) != RESULT_OK ||
        (rc = job_count(&j)) != RESULT_OK ||
        (rc = learn_skew(&j)) != RESULT_OK)
        goto out;
    stats->total_frames = j.total;
    if ((pos = calloc(req->frames > 0 ? req->frames : 1, sizeof(*pos))) ==
        NULL) {
        rc = out_of_memory(&j, "open");
        goto out;
    }
    n = plan_positions(j.total, req->frames, pos);
    if (req->mode == MODE_KEYFRAME)
        rc = extract_keyframe(&j, pos, n);
    else
        rc = extract_accurate(&j, pos, n);
    if (rc == RESULT_OK && stats->frames_sent == 0)
        rc = fail(&j, RESULT_PERMANENT, "decode: no frames decoded");
out:
    free(pos);
    job_close(&j, rc);
    return rc;
}
