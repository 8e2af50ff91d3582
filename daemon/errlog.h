/*
 * A worker's stderr (FFmpeg's log, assertion messages): the last bytes of
 * each attempt kept for its attempts row, and every line relayed to the
 * daemon's log, bounded and made harmless.  frameshieldd.
 */
#ifndef FS_ERRLOG_H
#define FS_ERRLOG_H

#include <stddef.h>

#define ERRLOG_TAIL_MAX 4096
#define ERRLOG_LINE_MAX 200

struct errlog {
    int pid;
    char tail[ERRLOG_TAIL_MAX + 1];
    size_t tail_len;
    char line[ERRLOG_LINE_MAX + 1];
    size_t line_len;
    int is_line_cut;
};

/* Starts a new life: pid for the log prefix, empty tail and line. */
void errlog_init(struct errlog *, int pid);
/* Forgets the tail: a new attempt starts. */
void errlog_reset_tail(struct errlog *);
/* Takes bytes as they come; relays each complete line. */
void errlog_feed(struct errlog *, const char *buf, size_t len);
/* Relays an unfinished last line (at EOF). */
void errlog_flush(struct errlog *);
/* The tail, NUL-terminated, control characters replaced; may be "". */
const char *errlog_tail(struct errlog *);

#endif
