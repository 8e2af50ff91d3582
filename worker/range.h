/*
 * Limited (video, "MPEG") to full (JFIF, "JPEG") range for 8-bit planes.
 */
#ifndef FS_RANGE_H
#define FS_RANGE_H

#include <stddef.h>
#include <stdint.h>

enum range_plane {
    RANGE_LUMA,   /* y' = (y - 16) * 255 / 219 */
    RANGE_CHROMA, /* c' = (c - 128) * 255 / 224 + 128 */
};

/*
 * Writes n expanded samples of src to dst, each rounded to nearest
 * (halves away from zero) and clamped to 0..255.  dst and src may be the
 * same buffer, but must not otherwise overlap.
 */
void range_expand(uint8_t *dst, const uint8_t *src, size_t n,
                  enum range_plane kind);

#endif
