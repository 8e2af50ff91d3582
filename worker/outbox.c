/* Held messages of one job (see outbox.h). */
#include "outbox.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "writeall.h"

#define OUTBOX_MAX_IOV 4

static int64_t
now_ns(void)
{
    struct timespec ts = {0};

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void
outbox_init(struct outbox *ob, int sock)
{
    *ob = (struct outbox){.sock = sock,
                          .hold_ms = OUTBOX_HOLD_MS,
                          .hold_bytes = OUTBOX_HOLD_BYTES};
}

void
outbox_start_job(struct outbox *ob)
{
    /* Left over only after a failed send: never the next job's. */
    ob->len = 0;
    ob->job_start_ns = now_ns();
}

static size_t
total_len(const struct iovec *iov, int iovcnt)
{
    size_t n = 0;

    for (int i = 0; i < iovcnt; i++)
        n += iov[i].iov_len;
    return n;
}

/* Appends the message; returns -1 when it does not fit in memory. */
static int
hold(struct outbox *ob, const struct iovec *iov, int iovcnt, size_t len)
{
    if (ob->cap - ob->len < len) {
        size_t cap = ob->cap ? ob->cap : 16u << 10;
        uint8_t *p;

        while (cap - ob->len < len)
            cap *= 2;
        if ((p = realloc(ob->buf, cap)) == NULL)
            return -1;
        ob->buf = p;
        ob->cap = cap;
    }
    for (int i = 0; i < iovcnt; i++) {
        memcpy(ob->buf + ob->len, iov[i].iov_base, iov[i].iov_len);
        ob->len += iov[i].iov_len;
    }
    return 0;
}

int
outbox_put(struct outbox *ob, const struct iovec *iov, int iovcnt, int may_hold)
{
    struct iovec all[1 + OUTBOX_MAX_IOV];
    size_t len = total_len(iov, iovcnt);
    int n = 0;

    if (iovcnt > OUTBOX_MAX_IOV) {
        errno = EINVAL;
        return -1;
    }
    if (may_hold && ob->len + len < ob->hold_bytes &&
        now_ns() - ob->job_start_ns < (int64_t)ob->hold_ms * 1000000 &&
        hold(ob, iov, iovcnt, len) == 0)
        return 0;
    /* What is held goes first, then this message, in one write. */
    if (ob->len > 0)
        all[n++] = (struct iovec){.iov_base = ob->buf, .iov_len = ob->len};
    memcpy(all + n, iov, sizeof(*iov) * (size_t)iovcnt);
    ob->len = 0;
    return writev_all(ob->sock, all, n + iovcnt);
}

void
outbox_free(struct outbox *ob)
{
    free(ob->buf);
    ob->buf = NULL;
    ob->len = ob->cap = 0;
}
