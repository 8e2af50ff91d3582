/*
 * sd_notify for frameshieldd: one datagram per state change to the socket
 * the service manager names in $NOTIFY_SOCKET (a path, or '@' for the
 * abstract namespace).  Nothing here links libsystemd.
 */
#define _GNU_SOURCE
#include "notify.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"

static struct sockaddr_un addr;
static socklen_t addr_len;
static int sock = -1;
static uint64_t watchdog_usec;

void
notify_init(void)
{
    const char *path = getenv("NOTIFY_SOCKET");
    const char *wd = getenv("WATCHDOG_USEC");
    const char *wd_pid = getenv("WATCHDOG_PID");
    size_t len;

    if (wd != NULL && (wd_pid == NULL || atol(wd_pid) == (long)getpid()))
        watchdog_usec = strtoull(wd, NULL, 10);
    if (path == NULL || (path[0] != '/' && path[0] != '@'))
        return;
    if ((len = strlen(path)) >= sizeof(addr.sun_path)) {
        log_warn("NOTIFY_SOCKET too long; not notifying");
        return;
    }
    addr.sun_family = AF_UNIX;
    memcpy(addr.sun_path, path, len);
    if (path[0] == '@')
        addr.sun_path[0] = '\0';
    addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
    sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (sock == -1)
        log_warn("notify socket: %s", strerror(errno));
}

int
notify_send(const char *state)
{
    if (sock == -1)
        return 0;
    if (sendto(sock, state, strlen(state), MSG_NOSIGNAL,
               (struct sockaddr *)&addr, addr_len) == -1) {
        log_debug("notify %s: %s", state, strerror(errno));
        return -1;
    }
    return 0;
}

uint64_t
notify_watchdog_usec(void)
{
    return watchdog_usec;
}
