/*
 * worker/outbox.c over a real socketpair: what a job's messages look like
 * on the supervisor's end, and when they get there.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
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

/* What arrived, without waiting: a check that fails must not hang. */
static void
expect_read(int fd, const char *want)
{
    char got[256] = {0};
    size_t len = strlen(want);
    ssize_t n = recv(fd, got, len, MSG_DONTWAIT);

    CHECKF(n == (ssize_t)len && memcmp(got, want, len) == 0,
           "read %zd bytes \"%s\", want \"%s\"", n, got, want);
}

#define BIG_LEN (1u << 20) /* several times a socket's buffer */

struct drain {
    int fd;
    size_t got;
    int is_in_order; /* byte i is (uint8_t)i */
};

static volatile sig_atomic_t interrupts;

static void
on_usr1(int sig)
{
    (void)sig;
    interrupts++;
}

/* Interrupts the main thread's blocked write: it returns what it wrote. */
static void *
interrupt(void *arg)
{
    usleep(30 * 1000);
    pthread_kill(*(pthread_t *)arg, SIGUSR1);
    return NULL;
}

static void *
drain(void *arg)
{
    struct drain *dr = arg;
    uint8_t buf[65536];
    ssize_t n;

    usleep(100 * 1000); /* the writer fills the socket and blocks first */
    dr->is_in_order = 1;
    while (dr->got < BIG_LEN && (n = read(dr->fd, buf, sizeof(buf))) > 0)
        for (ssize_t i = 0; i < n; i++, dr->got++)
            if (buf[i] != (uint8_t)dr->got)
                dr->is_in_order = 0;
    return NULL;
}

int
main(void)
{
    struct outbox ob;
    int sv[2];

    signal(SIGPIPE, SIG_IGN);
    alarm(20); /* a blocking write gone wrong ends the test, red */
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

    /* What a failed send left held never goes out with the next job. */
    ob.hold_ms = 60000;
    outbox_start_job(&ob);
    CHECK(put(&ob, "F0:", "old|", 1) == 0);
    outbox_start_job(&ob);
    CHECK(put(&ob, "R:", "new|", 0) == 0);
    expect_read(sv[1], "R:new|");
    CHECK(pending(sv[1]) == 0);

    /* A message larger than the socket takes goes out whole, in order,
     * after what was held, though a signal cuts the blocked write short
     * (a blocking unix socket's write is partial only then). */
    uint8_t *big = malloc(BIG_LEN);
    struct drain dr = {.fd = sv[1]};
    struct sigaction sa = {.sa_handler = on_usr1}; /* no SA_RESTART */
    pthread_t reader, interrupter, self = pthread_self();
    sigaction(SIGUSR1, &sa, NULL);
    CHECK(big != NULL);
    if (big != NULL) {
        for (size_t i = 0; i < BIG_LEN; i++)
            big[i] = (uint8_t)i;
        ob.hold_ms = 60000;
        outbox_start_job(&ob);
        struct iovec head = {big, 100}, rest = {big + 100, BIG_LEN - 100};
        CHECK(outbox_put(&ob, &head, 1, 1) == 0);
        CHECK(pthread_create(&reader, NULL, drain, &dr) == 0);
        CHECK(pthread_create(&interrupter, NULL, interrupt, &self) == 0);
        CHECK(outbox_put(&ob, &rest, 1, 0) == 0);
        pthread_join(interrupter, NULL);
        pthread_join(reader, NULL);
        CHECK(interrupts == 1);
        CHECKF(dr.got == BIG_LEN && dr.is_in_order,
               "got %zu of %u bytes, in order %d", dr.got, BIG_LEN,
               dr.is_in_order);
        free(big);
    }

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
