/*
 * Bounded capture of worker stderr for frameshieldd.  A worker is hostile
 * input: its bytes are capped, stripped of control characters and never
 * allowed to forge a log record of the daemon's own.
 */
#include "errlog.h"

#include <string.h>

#include "log.h"

void
errlog_init(struct errlog *e, int pid)
{
    memset(e, 0, sizeof(*e));
    e->pid = pid;
}

void
errlog_reset_tail(struct errlog *e)
{
    e->tail_len = 0;
}

static char
printable(char c)
{
    return (unsigned char)c < 0x20 || c == 0x7f ? '?' : c;
}

/*
 * Workers log with sd-daemon prefixes too.  Theirs is kept, but never
 * above warning: a worker cannot page an operator.
 */
static void
relay_line(struct errlog *e)
{
    const char *text = e->line;
    int prio = LOG_P_INFO;

    e->line[e->line_len] = '\0';
    if (text[0] == '<' && text[1] >= '0' && text[1] <= '7' && text[2] == '>') {
        prio = text[1] - '0' < LOG_P_WARNING ? LOG_P_WARNING : text[1] - '0';
        text += 3;
    }
    if (e->line_len > 0 || e->is_line_cut)
        log_msg(prio, "worker[%d] %s%s", e->pid, text,
                e->is_line_cut ? "..." : "");
    e->line_len = 0;
    e->is_line_cut = 0;
}

static void
append_tail(struct errlog *e, const char *buf, size_t len)
{
    if (len >= ERRLOG_TAIL_MAX) {
        memcpy(e->tail, buf + len - ERRLOG_TAIL_MAX, ERRLOG_TAIL_MAX);
        e->tail_len = ERRLOG_TAIL_MAX;
        return;
    }
    if (e->tail_len + len > ERRLOG_TAIL_MAX) {
        size_t drop = e->tail_len + len - ERRLOG_TAIL_MAX;
        memmove(e->tail, e->tail + drop, e->tail_len - drop);
        e->tail_len -= drop;
    }
    memcpy(e->tail + e->tail_len, buf, len);
    e->tail_len += len;
}

void
errlog_feed(struct errlog *e, const char *buf, size_t len)
{
    append_tail(e, buf, len);
    for (size_t i = 0; i < len; i++) {
        if (buf[i] == '\n') {
            relay_line(e);
            continue;
        }
        if (e->line_len < ERRLOG_LINE_MAX)
            e->line[e->line_len++] = printable(buf[i]);
        else
            e->is_line_cut = 1;
    }
}

void
errlog_flush(struct errlog *e)
{
    if (e->line_len > 0 || e->is_line_cut)
        relay_line(e);
}

const char *
errlog_tail(struct errlog *e)
{
    for (size_t i = 0; i < e->tail_len; i++)
        if (e->tail[i] != '\n' && e->tail[i] != '\t')
            e->tail[i] = printable(e->tail[i]);
    e->tail[e->tail_len] = '\0';
    return e->tail;
}
