/*
 * The sd_notify protocol, spoken to $NOTIFY_SOCKET without libsystemd:
 * READY=1, STATUS=, STOPPING=1 and WATCHDOG=1.  frameshieldd.
 */
#ifndef FS_NOTIFY_H
#define FS_NOTIFY_H

#include <stdint.h>

/* Reads $NOTIFY_SOCKET and $WATCHDOG_USEC.  Harmless without them. */
void notify_init(void);
/* Sends one datagram of newline-separated assignments; 0 or -1. */
int notify_send(const char *state);
/* Watchdog interval in microseconds, 0 when the manager wants none. */
uint64_t notify_watchdog_usec(void);

#endif
