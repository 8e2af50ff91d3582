/*
 * Turns decoded frames into JPEG bytes with TurboJPEG, in the worker.
 *
 * Planar YUV goes to tjCompressFromYUVPlanes directly: no RGB round trip.
 * JPEG (JFIF) samples are full range, while most video is limited range
 * (Y 16..235), so limited planes are stretched first (range.c); without
 * it every picture comes out grey and flat.
 */
#include "encode.h"

#include <stdio.h>
#include <stdlib.h>

#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>
#include <turbojpeg.h>

#include "proto.h"
#include "range.h"

struct encoder {
    tjhandle tj;
    struct SwsContext *sws;  /* cached converter for other formats */
    AVFrame *conv;           /* its 4:2:0 output, reused */
    uint8_t *full[3];        /* range-expanded copies of the planes */
    size_t full_cap[3];
    unsigned char *jpeg;     /* tjAlloc'ed, tjBufSize-sized */
    unsigned long jpeg_cap;
};

/* One frame as TurboJPEG sees it. */
struct planes {
    const uint8_t *data[3];
    int stride[3];
    int width;
    int height;
    int subsamp;
    int is_full_range;
};

struct encoder *
encode_new(void)
{
    struct encoder *enc;

    if ((enc = calloc(1, sizeof(*enc))) == NULL)
        return NULL;
    if ((enc->tj = tjInitCompress()) == NULL ||
        (enc->conv = av_frame_alloc()) == NULL) {
        encode_free(enc);
        return NULL;
    }
    return enc;
}

void
encode_free(struct encoder *enc)
{
    if (enc == NULL)
        return;
    for (int i = 0; i < 3; i++)
        free(enc->full[i]);
    if (enc->jpeg != NULL)
        tjFree(enc->jpeg);
    av_frame_free(&enc->conv);
    sws_freeContext(enc->sws);
    if (enc->tj != NULL)
        tjDestroy(enc->tj);
    free(enc);
}

/*
 * Maps a planar pixel format to its TurboJPEG subsampling, or -1.  The
 * YUVJ formats are full range by definition; the others only when the
 * frame says so.  Grey is taken as full range unless marked limited,
 * which is how libav treats it.
 */
static int
subsamp_of(const AVFrame *f, int *is_full)
{
    int is_j = 0, s;

    switch (f->format) {
    case AV_PIX_FMT_YUVJ420P: is_j = 1; /* fallthrough */
    case AV_PIX_FMT_YUV420P: s = TJSAMP_420; break;
    case AV_PIX_FMT_YUVJ422P: is_j = 1; /* fallthrough */
    case AV_PIX_FMT_YUV422P: s = TJSAMP_422; break;
    case AV_PIX_FMT_YUVJ444P: is_j = 1; /* fallthrough */
    case AV_PIX_FMT_YUV444P: s = TJSAMP_444; break;
    case AV_PIX_FMT_YUVJ440P: is_j = 1; /* fallthrough */
    case AV_PIX_FMT_YUV440P: s = TJSAMP_440; break;
    case AV_PIX_FMT_YUVJ411P: is_j = 1; /* fallthrough */
    case AV_PIX_FMT_YUV411P: s = TJSAMP_411; break;
    case AV_PIX_FMT_GRAY8:
        *is_full = f->color_range != AVCOL_RANGE_MPEG;
        return TJSAMP_GRAY;
    default:
        return -1;
    }
    *is_full = is_j || f->color_range == AVCOL_RANGE_JPEG;
    return s;
}

/*
 * Converts any other pixel format to 4:2:0 with the SwsContext cached
 * across frames and jobs.  RGB becomes full-range BT.601, the JPEG colour
 * space, directly.  YUV keeps its range: swscale skips range conversion
 * for YUV deeper than 8 bits (ff_sws_init_range_convert runs only for
 * srcBpc == 8), so expand_range() does it afterwards, as for 8-bit input.
 */
static int
convert(struct encoder *enc, const AVFrame *f, struct planes *p)
{
    const AVPixFmtDescriptor *d = av_pix_fmt_desc_get(f->format);
    AVFrame *c = enc->conv;
    int src_full = f->color_range == AVCOL_RANGE_JPEG;
    int is_rgb = d != NULL && (d->flags & AV_PIX_FMT_FLAG_RGB);
    int dst_full = is_rgb || src_full;

    enc->sws = sws_getCachedContext(enc->sws, f->width, f->height, f->format,
                                    f->width, f->height, AV_PIX_FMT_YUV420P,
                                    SWS_BILINEAR, NULL, NULL, NULL);
    if (enc->sws == NULL)
        return -1;
    sws_setColorspaceDetails(enc->sws, sws_getCoefficients(f->colorspace),
                             src_full, sws_getCoefficients(SWS_CS_ITU601),
                             dst_full, 0, 1 << 16, 1 << 16);
    if (c->width != f->width || c->height != f->height) {
        av_frame_unref(c);
        c->format = AV_PIX_FMT_YUV420P;
        c->width = f->width;
        c->height = f->height;
        if (av_frame_get_buffer(c, 0) < 0) {
            av_frame_unref(c);
            return -1;
        }
    }
    if (sws_scale(enc->sws, (const uint8_t *const *)f->data, f->linesize, 0,
                  f->height, c->data, c->linesize) != f->height)
        return -1;
    for (int i = 0; i < 3; i++) {
        p->data[i] = c->data[i];
        p->stride[i] = c->linesize[i];
    }
    p->subsamp = TJSAMP_420;
    p->is_full_range = dst_full;
    return 0;
}

/* Stretches each limited-range plane into enc->full[i]. */
static int
expand_range(struct encoder *enc, struct planes *p)
{
    int n = p->subsamp == TJSAMP_GRAY ? 1 : 3;

    for (int i = 0; i < n; i++) {
        int w = tjPlaneWidth(i, p->width, p->subsamp);
        int h = tjPlaneHeight(i, p->height, p->subsamp);
        enum range_plane kind = i == 0 ? RANGE_LUMA : RANGE_CHROMA;
        size_t need;

        if (w <= 0 || h <= 0)
            return -1;
        need = (size_t)w * (size_t)h;
        if (need > enc->full_cap[i]) {
            free(enc->full[i]);
            enc->full_cap[i] = 0;
            if ((enc->full[i] = malloc(need)) == NULL)
                return -1;
            enc->full_cap[i] = need;
        }
        for (int y = 0; y < h; y++)
            range_expand(enc->full[i] + (size_t)y * (size_t)w,
                         p->data[i] + (ptrdiff_t)y * p->stride[i], (size_t)w,
                         kind);
        p->data[i] = enc->full[i];
        p->stride[i] = w;
    }
    p->is_full_range = 1;
    return 0;
}

static int
compress(struct encoder *enc, const struct planes *p, int quality,
         unsigned long *size)
{
    unsigned long need = tjBufSize(p->width, p->height, p->subsamp);
    /* TurboJPEG's prototype lacks the inner const. */
    const unsigned char *data[3] = {p->data[0], p->data[1], p->data[2]};
    int stride[3] = {p->stride[0], p->stride[1], p->stride[2]};

    if (need == (unsigned long)-1 || need > (unsigned long)INT32_MAX)
        return -1;
    if (need > enc->jpeg_cap) {
        if (enc->jpeg != NULL)
            tjFree(enc->jpeg);
        enc->jpeg_cap = 0;
        if ((enc->jpeg = tjAlloc((int)need)) == NULL)
            return -1;
        enc->jpeg_cap = need;
    }
    /* Worst-case sized, so TurboJPEG never has to reallocate behind us. */
    *size = enc->jpeg_cap;
    return tjCompressFromYUVPlanes(enc->tj, data, p->width, stride,
                                   p->height, p->subsamp, &enc->jpeg, size,
                                   quality, TJFLAG_NOREALLOC);
}

int
encode_frame(struct encoder *enc, const AVFrame *f, int quality,
             const uint8_t **jpeg, size_t *len, char *err, size_t errlen)
{
    struct planes p = {.width = f->width, .height = f->height};
    unsigned long size = 0;

    *jpeg = NULL;
    *len = 0;
    /* 65535 is JPEG's own limit on either side. */
    if (f->width <= 0 || f->height <= 0 || f->width > 65535 ||
        f->height > 65535 ||
        (int64_t)f->width * f->height > ENCODE_MAX_PIXELS) {
        snprintf(err, errlen, "encode: frame too large: %dx%d", f->width,
                 f->height);
        return RESULT_PERMANENT;
    }
    if ((p.subsamp = subsamp_of(f, &p.is_full_range)) >= 0) {
        for (int i = 0; i < 3; i++) {
            p.data[i] = f->data[i];
            p.stride[i] = f->linesize[i];
        }
    } else if (convert(enc, f, &p) == -1) {
        snprintf(err, errlen, "encode: cannot convert from %s",
                 av_get_pix_fmt_name(f->format) ? av_get_pix_fmt_name(f->format)
                                                : "unknown pixel format");
        return RESULT_PERMANENT;
    }
    if (!p.is_full_range && expand_range(enc, &p) == -1) {
        snprintf(err, errlen, "encode: out of memory");
        return RESULT_TRANSIENT;
    }
    /*
     * The planes are well-formed by now, so a failure here is the
     * environment (memory), not the input: worth a retry.
     */
    if (compress(enc, &p, quality, &size) == -1) {
        snprintf(err, errlen, "encode: turbojpeg: %s",
                 enc->jpeg_cap ? tjGetErrorStr2(enc->tj) : "out of memory");
        return RESULT_TRANSIENT;
    }
    *jpeg = enc->jpeg;
    *len = size;
    return RESULT_OK;
}
