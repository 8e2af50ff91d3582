/*
 * Test-only LD_PRELOAD fault injector for bin/frameshield-worker: it wraps
 * avcodec_send_packet() and, when the job's input path carries a marker,
 * makes the real worker process crash, hang or exit.  Never installed.
 * avformat_open_input() is wrapped too, only to tell jobs apart.
 *
 * Markers (anywhere in the input's path, as the kernel reports it):
 *   FAULT_ONCE_SEGV  SIGSEGV the first time an input (by inode) is seen;
 *                    state lives in $FS_FAULT_STATE_DIR so a retry succeeds
 *   FAULT_SEGV       store through an invalid pointer (real SIGSEGV)
 *   FAULT_ABORT      abort() (SIGABRT)
 *   FAULT_HANG       sleep forever, until the supervisor kills us
 *   FAULT_EXIT       _exit(3)
 *   FAULT_FPE        integer division by a volatile zero (SIGFPE)
 *   FAULT_BUS        raise(SIGBUS)
 *   FAULT_SLOW       sleep $FS_FAULT_SLOW_MS (default 1500) ms, then decode
 *                    normally: a job that is still running when a test
 *                    signals the supervisor
 * FS_FAULT_START=die in the environment makes the worker exit 1 before it
 * can say HELLO: a broken install, as the supervisor sees it.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

typedef int (*send_packet_fn)(void *, const void *);

/* libavcodec's symbol; declared by hand so no FFmpeg header is needed. */
int avcodec_send_packet(void *avctx, const void *pkt);

enum fault {
    FAULT_NONE,
    FAULT_SEGV,
    FAULT_ONCE_SEGV,
    FAULT_ABORT,
    FAULT_HANG,
    FAULT_EXIT,
    FAULT_FPE,
    FAULT_BUS,
    FAULT_SLOW,
};

/*
 * One injection per job.  A job starts when the worker opens a demuxer
 * (avformat_open_input bumps job_gen); as a fallback, a different input
 * file on the descriptor we found also counts as a new job.  Per-packet
 * cost is then one fstat.
 */
static unsigned long job_gen = 1;
static struct {
    unsigned long gen;
    int fd;
    dev_t dev;
    ino_t ino;
} seen;

/*
 * FS_FAULT_START=die: exit before the worker's main() can say HELLO.  Each
 * such start is appended to $FS_FAULT_STATE_DIR/starts so that a test can
 * count how often the supervisor respawned.
 */
__attribute__((constructor)) static void
fault_start(void)
{
    const char *s = getenv("FS_FAULT_START");
    const char *dir = getenv("FS_FAULT_STATE_DIR");

    if (s == NULL || strcmp(s, "die") != 0)
        return;
    if (dir != NULL && *dir != '\0') {
        char p[4096];
        char line[32];
        int fd;

        snprintf(p, sizeof(p), "%s/starts", dir);
        fd = open(p, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (fd != -1) {
            int n = snprintf(line, sizeof(line), "%d\n", (int)getpid());
            ssize_t w = write(fd, line, (size_t)n);

            (void)w;
            close(fd);
        }
    }
    {
        static const char msg[] = "libfault: FS_FAULT_START=die\n";
        ssize_t n = write(2, msg, sizeof(msg) - 1);

        (void)n;
    }
    _exit(1);
}

static enum fault
marker_of(const char *path)
{
    /* FAULT_ONCE_SEGV first: it must not be read as a plain FAULT_SEGV. */
    if (strstr(path, "FAULT_ONCE_SEGV") != NULL)
        return FAULT_ONCE_SEGV;
    if (strstr(path, "FAULT_SEGV") != NULL)
        return FAULT_SEGV;
    if (strstr(path, "FAULT_ABORT") != NULL)
        return FAULT_ABORT;
    if (strstr(path, "FAULT_HANG") != NULL)
        return FAULT_HANG;
    if (strstr(path, "FAULT_EXIT") != NULL)
        return FAULT_EXIT;
    if (strstr(path, "FAULT_FPE") != NULL)
        return FAULT_FPE;
    if (strstr(path, "FAULT_BUS") != NULL)
        return FAULT_BUS;
    if (strstr(path, "FAULT_SLOW") != NULL)
        return FAULT_SLOW;
    return FAULT_NONE;
}

/*
 * Finds the job's input among our open descriptors: a regular file on an
 * fd above 3 (0-2 are stdio, 3 is the channel).  Returns the fd or -1,
 * with its path in path and its identity in *st.
 */
static int
find_input(char *path, size_t cap, struct stat *st)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int found = -1;

    if (d == NULL)
        return -1;
    while ((e = readdir(d)) != NULL) {
        char link[64];
        char *end;
        long fd = strtol(e->d_name, &end, 10);
        ssize_t n;

        if (*end != '\0' || end == e->d_name || fd <= 3 || fd == dirfd(d))
            continue;
        if (fstat((int)fd, st) == -1 || !S_ISREG(st->st_mode))
            continue;
        snprintf(link, sizeof(link), "/proc/self/fd/%ld", fd);
        if ((n = readlink(link, path, cap - 1)) <= 0)
            continue;
        path[n] = '\0';
        found = (int)fd;
        if (marker_of(path) != FAULT_NONE)
            break; /* a marked input wins over any other regular file */
    }
    closedir(d);
    return found;
}

/*
 * True the first time this inode is seen, across processes: the state is
 * a file in $FS_FAULT_STATE_DIR.  Without that variable every sighting is
 * a first one, so a test that forgot it fails loudly instead of leaving
 * files behind.
 */
static int
first_sighting(const struct stat *st)
{
    const char *dir = getenv("FS_FAULT_STATE_DIR");
    char p[4096];
    int fd;

    if (dir == NULL || *dir == '\0') {
        fprintf(stderr, "libfault: FS_FAULT_STATE_DIR is not set\n");
        return 1;
    }
    snprintf(p, sizeof(p), "%s/once-%lu-%lu", dir, (unsigned long)st->st_dev,
             (unsigned long)st->st_ino);
    fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd == -1)
        return errno == EEXIST ? 0 : 1;
    close(fd);
    return 1;
}

static void
say(const char *what, const char *path)
{
    fprintf(stderr, "libfault: injecting %s on %s\n", what, path);
    fflush(stderr);
}

static void
inject(enum fault f, const char *path, const struct stat *st)
{
    switch (f) {
    case FAULT_NONE:
        return;
    case FAULT_ONCE_SEGV:
        if (!first_sighting(st))
            return;
        /* FALLTHROUGH */
    case FAULT_SEGV:
    {
        volatile int *volatile bad = (int *)16;

        say("SIGSEGV", path);
        *bad = 1;
        break;
    }
    case FAULT_ABORT:
        say("abort", path);
        abort();
    case FAULT_HANG:
        say("hang", path);
        for (;;)
            pause();
    case FAULT_EXIT:
        say("exit 3", path);
        _exit(3);
    case FAULT_FPE:
    {
        volatile int zero = 0;
        volatile int one = 1;

        say("SIGFPE", path);
        one = one / zero;
        raise(SIGFPE); /* in case the division did not trap */
        break;
    }
    case FAULT_BUS:
        say("SIGBUS", path);
        raise(SIGBUS);
        break;
    case FAULT_SLOW:
    {
        const char *ms = getenv("FS_FAULT_SLOW_MS");
        long v = ms != NULL ? strtol(ms, NULL, 10) : 1500;
        struct timespec ts = {.tv_sec = v / 1000,
                              .tv_nsec = (v % 1000) * 1000000L};

        say("delay", path);
        while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
            ;
        break;
    }
    }
}

typedef int (*open_input_fn)(void *, const char *, const void *, void *);

/* libavformat's symbol, interposed only to notice that a job starts. */
int avformat_open_input(void *ps, const char *url, const void *fmt,
                        void *options);

int
avformat_open_input(void *ps, const char *url, const void *fmt, void *options)
{
    static open_input_fn real;

    if (real == NULL &&
        (real = (open_input_fn)dlsym(RTLD_NEXT, "avformat_open_input")) ==
            NULL) {
        fprintf(stderr, "libfault: dlsym: %s\n", dlerror());
        abort();
    }
    job_gen++;
    return real(ps, url, fmt, options);
}

int
avcodec_send_packet(void *avctx, const void *pkt)
{
    static send_packet_fn real;
    char path[4096];
    struct stat st;
    int fd;

    if (real == NULL &&
        (real = (send_packet_fn)dlsym(RTLD_NEXT, "avcodec_send_packet")) ==
            NULL) {
        fprintf(stderr, "libfault: dlsym: %s\n", dlerror());
        abort();
    }
    if (seen.gen == job_gen && fstat(seen.fd, &st) == 0 &&
        st.st_dev == seen.dev && st.st_ino == seen.ino)
        return real(avctx, pkt);

    /* First packet of a job: look at the input once. */
    if ((fd = find_input(path, sizeof(path), &st)) != -1) {
        seen.gen = job_gen;
        seen.fd = fd;
        seen.dev = st.st_dev;
        seen.ino = st.st_ino;
        inject(marker_of(path), path, &st);
    }
    return real(avctx, pkt);
}
