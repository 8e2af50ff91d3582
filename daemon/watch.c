/*
 * Wakes the dispatcher when the queue database changes on disk.  A sqlite3
 * CLI INSERT in WAL mode writes DB-wal; inotify reports that within a few
 * milliseconds, so an idle daemon needs no polling loop to notice work.
 * The directory is watched, not the file, because the -wal file comes and
 * goes with the last connection.  frameshieldd.
 */
#include "watch.h"

#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "dispatch.h"
#include "log.h"

static uv_fs_event_t watcher;
static int is_watching;
static char db_name[NAME_MAX + 1];

static void
on_change(uv_fs_event_t *h, const char *filename, int events, int status)
{
    (void)h;
    (void)events;
    if (status != 0)
        return;
    /* Other files in the directory are none of our business. */
    if (filename != NULL &&
        strncmp(filename, db_name, strlen(db_name)) != 0)
        return;
    dispatch_db_changed();
}

int
watch_start(uv_loop_t *loop, const char *db_path)
{
    char dir[PATH_MAX], base[PATH_MAX];
    int rc;

    snprintf(dir, sizeof(dir), "%s", db_path);
    snprintf(base, sizeof(base), "%s", db_path);
    snprintf(db_name, sizeof(db_name), "%s", basename(base));
    uv_fs_event_init(loop, &watcher);
    if ((rc = uv_fs_event_start(&watcher, on_change, dirname(dir), 0)) != 0) {
        log_warn("watch %s: %s; falling back to a periodic look",
                 dirname(dir), uv_strerror(rc));
        uv_close((uv_handle_t *)&watcher, NULL);
        return -1;
    }
    is_watching = 1;
    return 0;
}

void
watch_stop(void)
{
    if (!is_watching)
        return;
    is_watching = 0;
    uv_close((uv_handle_t *)&watcher, NULL);
}
