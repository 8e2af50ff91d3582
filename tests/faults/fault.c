/*
 * Test-only LD_PRELOAD fault injector for bin/frameshield-worker: real
 * faults inside the real worker, mid-decode, on inputs that carry a marker
 * in their container's "comment" tag (tests/integration/lib.sh fault_clip
 * remuxes a clip with -metadata comment=FAULT_...).  Never installed.
 *
 * The worker runs under a seccomp filter that kills it for any system call
 * outside a short allow-list, so the injector itself makes none that a
 * decoding worker would not: no /proc, no readlink, no state files.  It
 * wraps avformat_open_input() to read the marker of the job being opened
 * (pure memory: av_dict_get) and injects at the job's first
 * avcodec_send_packet().  Everything else it needs (the real functions,
 * the environment) is looked up in the constructor, before the worker
 * enters its sandbox and clears its environment.
 *
 * Markers (the whole comment tag):
 *   FAULT_SEGV     store through an invalid pointer (real SIGSEGV)
 *   FAULT_ABORT    abort() (SIGABRT)
 *   FAULT_HANG     sleep forever (clock_nanosleep), until the supervisor
 *                  kills us
 *   FAULT_EXIT     _exit(3)
 *   FAULT_FPE      integer division by a volatile zero (SIGFPE)
 *   FAULT_BUS      raise(SIGBUS)
 *   FAULT_SLOW     sleep $FS_FAULT_SLOW_MS (default 1500) ms, then decode
 *                  normally: a job that is still running when a test
 *                  signals the supervisor
 *   FAULT_SEGV_IDLE  decode normally; then, at the worker's next wait for
 *                  a job (its poll), sleep $FS_FAULT_IDLE_MS (default 300)
 *                  ms, long enough for the supervisor to send one, and
 *                  SIGSEGV before reading it
 * Sandbox escape attempts; under the sandbox each must end in SIGSYS:
 *   FAULT_OPEN     open("/etc/passwd", O_RDONLY)
 *   FAULT_SOCKET   socket(AF_INET, SOCK_STREAM, 0)
 *   FAULT_EXEC     execve("/bin/sh", ...)
 *   FAULT_FORK     fork()
 * When such a call succeeds the injector writes "libfault: ESCAPED <call>"
 * to stderr and exits 99; when it fails with an error (a filter that
 * denies instead of killing) it writes "libfault: DENIED <call> errno N"
 * and exits 98.  Either way the job does not end as a sandbox violation.
 *   FAULT_MEMBOMB  allocate and touch 64 MiB blocks until malloc() fails
 *                  (RLIMIT_AS), free them, and make that
 *                  avcodec_send_packet() return AVERROR(ENOMEM), so the
 *                  worker's own error path reports it.  Without a limit
 *                  it stops at $FS_FAULT_MEMBOMB_MAX_MB (default 3072),
 *                  says "libfault: ESCAPED membomb" and exits 99.
 *
 * FS_FAULT_START=die in the environment makes the worker exit 1 before it
 * can say HELLO: a broken install, as the supervisor sees it.
 * FS_FAULT_IDLE_CRASH=always arms FAULT_SEGV_IDLE in every worker the
 * zygote forks, before its first job: a worker that always dies before
 * it reads one (the zygote itself, which polls too, is spared).  With
 * =always-sys it makes a forbidden call (socket) instead of the SIGSEGV:
 * the sandbox kills it with SIGSYS.
 *
 * Messages go to stderr with write(2) only ("libfault: injecting ...").
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/dict.h>
#include <libavutil/error.h>

#define MIB (1024UL * 1024UL)
#define MEMBOMB_STEP (64 * MIB)

enum fault {
    FAULT_NONE,
    FAULT_SEGV,
    FAULT_ABORT,
    FAULT_HANG,
    FAULT_EXIT,
    FAULT_FPE,
    FAULT_BUS,
    FAULT_SLOW,
    FAULT_OPEN,
    FAULT_SOCKET,
    FAULT_EXEC,
    FAULT_FORK,
    FAULT_MEMBOMB,
    FAULT_SEGV_IDLE,
};

static const struct {
    const char *name;
    enum fault f;
} markers[] = {
    {"FAULT_SEGV", FAULT_SEGV},
    {"FAULT_ABORT", FAULT_ABORT},
    {"FAULT_HANG", FAULT_HANG},
    {"FAULT_EXIT", FAULT_EXIT},
    {"FAULT_FPE", FAULT_FPE},
    {"FAULT_BUS", FAULT_BUS},
    {"FAULT_SLOW", FAULT_SLOW},
    {"FAULT_OPEN", FAULT_OPEN},
    {"FAULT_SOCKET", FAULT_SOCKET},
    {"FAULT_EXEC", FAULT_EXEC},
    {"FAULT_FORK", FAULT_FORK},
    {"FAULT_MEMBOMB", FAULT_MEMBOMB},
    {"FAULT_SEGV_IDLE", FAULT_SEGV_IDLE},
};

typedef int (*open_input_fn)(AVFormatContext **, const char *,
                             const AVInputFormat *, AVDictionary **);
typedef int (*find_info_fn)(AVFormatContext *, AVDictionary **);
typedef int (*send_packet_fn)(AVCodecContext *, const AVPacket *);
typedef int (*poll_fn)(struct pollfd *, nfds_t, int);

static open_input_fn real_open_input;
static find_info_fn real_find_info;
static send_packet_fn real_send_packet;
static poll_fn real_poll;
static long slow_ms = 1500, idle_ms = 300;
static unsigned long membomb_max = 3072 * MIB;

/* The current job's fault, armed by open_input, spent at injection. */
static enum fault pending = FAULT_NONE;
/* FAULT_SEGV_IDLE: set at injection, spent at the next poll. */
static int is_idle_crash_due;
static int is_idle_crash_sys; /* FS_FAULT_IDLE_CRASH=always-sys */

/* --- output without stdio: write(2) only ----------------------------- */

static void
put(const char *s)
{
    size_t n = strlen(s);

    while (n > 0) {
        ssize_t w = write(2, s, n);

        if (w == -1 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        s += w;
        n -= (size_t)w;
    }
}

/* Decimal of v into buf (at least 24 bytes). */
static const char *
num(char *buf, unsigned long v)
{
    char *p = buf + 23;

    *p = '\0';
    do {
        *--p = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    return p;
}

static void
say(const char *what)
{
    put("libfault: injecting ");
    put(what);
    put("\n");
}

static void __attribute__((noreturn))
escaped(const char *call)
{
    put("libfault: ESCAPED ");
    put(call);
    put("\n");
    _exit(99);
}

static void __attribute__((noreturn))
denied(const char *call, int err)
{
    char b[24];

    put("libfault: DENIED ");
    put(call);
    put(" errno ");
    put(num(b, (unsigned long)err));
    put("\n");
    _exit(98);
}

/* --- set-up, before the worker's main() -------------------------------- */

/*
 * Called at the first use of a wrapper whose real function the constructor
 * did not find: the shim was preloaded into something that is not the
 * worker.  Other processes (a shell, timeout) merely carry it unused.
 */
static void __attribute__((noreturn))
missing(const char *sym)
{
    put("libfault: no real ");
    put(sym);
    put(" (dlsym RTLD_NEXT)\n");
    abort();
}

static unsigned long
env_num(const char *name, unsigned long dflt)
{
    const char *s = getenv(name);
    char *end;
    unsigned long v;

    if (s == NULL || *s == '\0')
        return dflt;
    errno = 0;
    v = strtoul(s, &end, 10);
    return errno != 0 || *end != '\0' ? dflt : v;
}

static void
arm_idle_crash(void)
{
    is_idle_crash_due = 1;
}

__attribute__((constructor)) static void
fault_start(void)
{
    const char *s = getenv("FS_FAULT_START");

    if (s != NULL && strcmp(s, "die") == 0) {
        put("libfault: FS_FAULT_START=die\n");
        _exit(1);
    }
    real_open_input = (open_input_fn)dlsym(RTLD_NEXT, "avformat_open_input");
    real_find_info = (find_info_fn)dlsym(RTLD_NEXT,
                                         "avformat_find_stream_info");
    real_send_packet = (send_packet_fn)dlsym(RTLD_NEXT, "avcodec_send_packet");
    real_poll = (poll_fn)dlsym(RTLD_NEXT, "poll");
    /* The worker clears its environment later: read it now. */
    slow_ms = (long)env_num("FS_FAULT_SLOW_MS", 1500);
    idle_ms = (long)env_num("FS_FAULT_IDLE_MS", 300);
    s = getenv("FS_FAULT_IDLE_CRASH");
    is_idle_crash_sys = s != NULL && strcmp(s, "always-sys") == 0;
    if (s != NULL && (strcmp(s, "always") == 0 || is_idle_crash_sys))
        pthread_atfork(NULL, NULL, arm_idle_crash);
    membomb_max = env_num("FS_FAULT_MEMBOMB_MAX_MB", 3072) * MIB;
}

/* --- the faults -------------------------------------------------------- */

static void
sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000,
                          .tv_nsec = (ms % 1000) * 1000000L};

    while (clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, &ts) == EINTR)
        ;
}

/*
 * Touches 64 MiB blocks until malloc fails; returns AVERROR(ENOMEM) after
 * freeing them all.  The blocks are chained through their first word.
 */
static int
membomb(void)
{
    void **head = NULL;
    unsigned long total = 0;
    char b[24];

    say("memory bomb");
    for (;;) {
        void **p;

        if (total >= membomb_max) {
            put("libfault: no limit below ");
            put(num(b, total / MIB));
            put(" MiB\n");
            escaped("membomb");
        }
        if ((p = malloc(MEMBOMB_STEP)) == NULL)
            break;
        memset(p, 0xa5, MEMBOMB_STEP);
        *p = head;
        head = p;
        total += MEMBOMB_STEP;
    }
    while (head != NULL) {
        void **next = *head;

        free(head);
        head = next;
    }
    put("libfault: malloc failed after ");
    put(num(b, total / MIB));
    put(" MiB, returning ENOMEM\n");
    return AVERROR(ENOMEM);
}

/* Returns 0 to go on decoding, or the value avcodec_send_packet returns. */
static int
inject(enum fault f)
{
    switch (f) {
    case FAULT_NONE:
        return 0;
    case FAULT_SEGV:
    {
        volatile int *volatile bad = (int *)16;

        say("SIGSEGV");
        *bad = 1;
        break;
    }
    case FAULT_ABORT:
        say("abort");
        abort();
    case FAULT_HANG:
        say("hang");
        for (;;)
            sleep_ms(3600 * 1000L);
    case FAULT_EXIT:
        say("exit 3");
        _exit(3);
    case FAULT_FPE:
    {
        volatile int zero = 0;
        volatile int one = 1;

        say("SIGFPE");
        one = one / zero;
        raise(SIGFPE); /* in case the division did not trap */
        break;
    }
    case FAULT_BUS:
        say("SIGBUS");
        raise(SIGBUS);
        break;
    case FAULT_SLOW:
        say("delay");
        sleep_ms(slow_ms);
        break;
    case FAULT_OPEN:
    {
        int fd;

        say("open /etc/passwd");
        if ((fd = open("/etc/passwd", O_RDONLY)) == -1)
            denied("open", errno);
        escaped("open");
        break;
    }
    case FAULT_SOCKET:
        say("socket AF_INET");
        if (socket(AF_INET, SOCK_STREAM, 0) == -1)
            denied("socket", errno);
        escaped("socket");
        break;
    case FAULT_EXEC:
    {
        static char *const argv[] = {
            "sh", "-c", "echo 'libfault: ESCAPED execve' >&2; exit 99", NULL};
        static char *const envp[] = {NULL};

        say("execve /bin/sh");
        execve("/bin/sh", argv, envp);
        denied("execve", errno);
        break;
    }
    case FAULT_FORK:
    {
        pid_t pid;

        say("fork");
        if ((pid = fork()) == -1)
            denied("fork", errno);
        if (pid == 0)
            _exit(99);
        escaped("fork");
        break;
    }
    case FAULT_MEMBOMB:
        return membomb();
    case FAULT_SEGV_IDLE:
        is_idle_crash_due = 1;
        break;
    }
    return 0;
}

/* --- the interposed functions ------------------------------------------ */

/*
 * After the real call, the job's marker is in the container's tags (MP4's
 * udta and Matroska's Tags are read with the header).
 */
int
avformat_open_input(AVFormatContext **ps, const char *url,
                    const AVInputFormat *fmt, AVDictionary **options)
{
    const AVDictionaryEntry *e;
    int ret;

    if (real_open_input == NULL)
        missing("avformat_open_input");
    ret = real_open_input(ps, url, fmt, options);
    pending = FAULT_NONE;
    if (ret < 0 || ps == NULL || *ps == NULL ||
        (e = av_dict_get((*ps)->metadata, "comment", NULL, 0)) == NULL)
        return ret;
    for (size_t i = 0; i < sizeof(markers) / sizeof(markers[0]); i++)
        if (strcmp(e->value, markers[i].name) == 0)
            pending = markers[i].f;
    return ret;
}

/*
 * Probing decodes with a decoder of its own, which swallows errors: the
 * fault waits for the job's decoder.
 */
int
avformat_find_stream_info(AVFormatContext *ic, AVDictionary **options)
{
    enum fault f = pending;
    int ret;

    if (real_find_info == NULL)
        missing("avformat_find_stream_info");
    pending = FAULT_NONE;
    ret = real_find_info(ic, options);
    pending = f;
    return ret;
}

/* The worker waits for its next job here (common/fdpass.c). */
int
poll(struct pollfd *fds, nfds_t nfds, int timeout)
{
    if (real_poll == NULL)
        missing("poll");
    if (is_idle_crash_due) {
        volatile int *volatile bad = (int *)16;

        say(is_idle_crash_sys ? "socket between jobs" : "SIGSEGV between jobs");
        sleep_ms(idle_ms);
        if (is_idle_crash_sys && socket(AF_INET, SOCK_STREAM, 0) == -1)
            denied("socket", errno);
        if (is_idle_crash_sys)
            escaped("socket");
        *bad = 1;
    }
    return real_poll(fds, nfds, timeout);
}

int
avcodec_send_packet(AVCodecContext *avctx, const AVPacket *avpkt)
{
    enum fault f = pending;
    int ret;

    if (real_send_packet == NULL)
        missing("avcodec_send_packet");
    pending = FAULT_NONE;
    if (f != FAULT_NONE && (ret = inject(f)) != 0)
        return ret;
    return real_send_packet(avctx, avpkt);
}
