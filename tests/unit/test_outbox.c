/*
 * worker/outbox.c over a real socketpair: what a job's messages look like
 * on the supervisor's end, and when they get there.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "outbox.h"
#include "check.h"

static int
pending(int fd)
{
    int n = -1;

    ioctl(fd, FIONREAD, &n);
    return n;
}

/* Puts a "message" of a head and a body, as send_frame does. */
static int
put(struct outbox *ob, const char *head, const char *body, int may_hold)
{
    struct iovec iov[2] = {{(void *)head, strlen(head)},
                           {(void *)body, strlen(body)}};

    return outbox_put(ob, iov, 2, may_hold);
}

static void
expect_read(int fd, const char *want)
{
    char got[256] = {0};
    size_t len = strlen(want);
    ssize_t n = read(fd, got, len);

    CHECKF(n == (ssize_t)len && memcmp(got, want, len) == 0,
           "read %zd bytes \"%s\", want \"%s\"", n, got, want);
}

int
main(void)
{
    struct outbox ob;
    int sv[2];

    signal(SIGPIPE, SIG_IGN);
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
        return 2;

    /* A young, small job: frames wait for the result, then all go. */
    outbox_init(&ob, sv[0]);
    CHECK(ob.hold_ms == OUTBOX_HOLD_MS && ob.hold_bytes == OUTBOX_HOLD_BYTES);
    ob.hold_ms = 60000;
    outbox_start_job(&ob);
    CHECK(put(&ob, "F0:", "aaa|", 1) == 0);
    CHECK(put(&ob, "F1:", "bbb|", 1) == 0);
    CHECK(pending(sv[1]) == 0);
    CHECK(put(&ob, "R:", "ok|", 0) == 0);
    CHECK(pending(sv[1]) == 19);
    expect_read(sv[1], "F0:aaa|F1:bbb|R:ok|");
    CHECK(ob.len == 0);

    /* The size bound: the message that reaches it goes with the held. */
    ob.hold_bytes = 16;
    outbox_start_job(&ob);
    CHECK(put(&ob, "F0:", "aaaa|", 1) == 0); /* 8 held */
    CHECK(pending(sv[1]) == 0);
    CHECK(put(&ob, "F1:", "bbbb|", 1) == 0); /* 16: not under 16 */
    CHECK(pending(sv[1]) == 16);
    expect_read(sv[1], "F0:aaaa|F1:bbbb|");
    CHECK(put(&ob, "F2:", "c|", 1) == 0); /* held again after a flush */
    CHECK(pending(sv[1]) == 0);
    CHECK(put(&ob, "R:", "ok|", 0) == 0);
    expect_read(sv[1], "F2:c|R:ok|");

    /* The age bound: a job past hold_ms sends each frame as it comes. */
    ob.hold_bytes = OUTBOX_HOLD_BYTES;
    ob.hold_ms = 5;
    outbox_start_job(&ob);
    usleep(20 * 1000);
    CHECK(put(&ob, "F0:", "late|", 1) == 0);
    CHECK(pending(sv[1]) == 8);
    expect_read(sv[1], "F0:late|");
    ob.hold_ms = 0;
    outbox_start_job(&ob);
    CHECK(put(&ob, "F0:", "now|", 1) == 0);
    expect_read(sv[1], "F0:now|");

    /* A message of more pieces than it takes is refused, not cut. */
    struct iovec many[5] = {{"a", 1}, {"b", 1}, {"c", 1}, {"d", 1}, {"e", 1}};
    errno = 0;
    CHECK(outbox_put(&ob, many, 5, 0) == -1 && errno == EINVAL);
    CHECK(pending(sv[1]) == 0);

    /* A supervisor gone: the flush says so (EPIPE, SIGPIPE ignored). */
    ob.hold_ms = 60000;
    outbox_start_job(&ob);
    CHECK(put(&ob, "F0:", "x|", 1) == 0);
    close(sv[1]);
    errno = 0;
    CHECK(put(&ob, "R:", "ok|", 0) == -1 && errno == EPIPE);

    outbox_free(&ob);
    CHECK(ob.buf == NULL && ob.len == 0);
    close(sv[0]);
    return CHECK_DONE();
}
