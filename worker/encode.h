/*
 * JPEG compression of decoded frames with TurboJPEG, for the worker.
 */
#ifndef FS_ENCODE_H
#define FS_ENCODE_H

#include <stddef.h>
#include <stdint.h>

#include <libavutil/frame.h>

/* Frames above this many pixels are refused before encoding (64 Mi). */
#define ENCODE_MAX_PIXELS ((int64_t)1 << 26)

struct encoder;

/*
 * Creates the encoder: the TurboJPEG handle is made here, once, so that
 * nothing loads lazily after the sandbox is up, and it is reused for every
 * job.  Returns NULL on failure.
 */
struct encoder *encode_new(void);

/* Frees the encoder and everything it caches; encode_free(NULL) is a no-op. */
void encode_free(struct encoder *);

/*
 * Compresses frame at quality (1..100).  Planar YUV and grey frames go to
 * TurboJPEG straight from their planes; any other pixel format is first
 * converted to 4:2:0 with a cached SwsContext.  On RESULT_OK, *jpeg points
 * into a buffer the encoder owns, valid until the next call, and *len is
 * its size.  Otherwise returns RESULT_PERMANENT or RESULT_TRANSIENT with
 * err filled ("encode: ...").
 */
int encode_frame(struct encoder *, const AVFrame *frame, int quality,
                 const uint8_t **jpeg, size_t *len, char *err,
                 size_t errlen);

#endif
