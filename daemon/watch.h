/*
 * Notices commits of other connections to the queue without polling:
 * inotify (through libuv) on the database's directory.  frameshieldd.
 */
#ifndef FS_WATCH_H
#define FS_WATCH_H

#include <uv.h>

/* Watches db_path's directory; returns 0, or -1 (the caller then polls). */
int watch_start(uv_loop_t *, const char *db_path);
void watch_stop(void);

#endif
