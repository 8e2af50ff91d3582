/*
 * Passive WAL checkpoints in libuv's threadpool (see checkpoint.h).
 *
 * A WAL starts over only at a write that begins when every frame in it
 * has been copied, and the loop commits while the thread copies: the
 * thread alone never catches up, and the WAL grew to 400 MB in 8 s of
 * no-op jobs.  So after each run in the thread, the next commit on the
 * loop copies the few frames added meanwhile itself (a passive checkpoint
 * on its own connection, from the commit's WAL hook as SQLite's own
 * does), and the write after that starts the WAL over.  That catch-up
 * still syncs the WAL and the database on the loop, but with a few pages
 * to write instead of a thousand.
 */
#include "checkpoint.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/* SQLite's own threshold (SQLITE_DEFAULT_WAL_AUTOCHECKPOINT). */
#define CHECKPOINT_PAGES 1000
#define BUSY_TIMEOUT_MS 5000

struct checkpointer {
    uv_loop_t *loop;
    uv_work_t req;
    int is_running;
    int is_wanted;   /* the WAL grew past the threshold meanwhile */
    sqlite3 *db;     /* used by one threadpool item at a time */
    int rc;          /* of the last run, read back on the loop */
    int wal_pages, copied;
    int done_pages;  /* WAL pages the last good run had copied */
    int is_catch_up; /* the next commit copies what the run missed */
    int has_failed;  /* the loop checkpoints by itself from now on */
    char path[];
};

struct checkpointer *
checkpointer_new(uv_loop_t *loop, const char *db_path)
{
    size_t len = strlen(db_path) + 1;
    struct checkpointer *c = calloc(1, sizeof(*c) + len);

    if (c == NULL)
        return NULL;
    c->loop = loop;
    memcpy(c->path, db_path, len);
    return c;
}

static void
run(uv_work_t *req)
{
    struct checkpointer *c = req->data;

    if (c->db == NULL) {
        c->rc = sqlite3_open_v2(c->path, &c->db,
                                SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                                NULL);
        if (c->rc != SQLITE_OK) {
            sqlite3_close(c->db);
            c->db = NULL;
            return;
        }
        sqlite3_busy_timeout(c->db, BUSY_TIMEOUT_MS);
        /* A connection learns the file is in WAL mode by reading it. */
        c->rc = sqlite3_exec(c->db, "PRAGMA journal_mode", NULL, NULL, NULL);
        if (c->rc != SQLITE_OK)
            return;
    }
    c->rc = sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_PASSIVE,
                                      &c->wal_pages, &c->copied);
}

static void start(struct checkpointer *);

static void
after(uv_work_t *req, int status)
{
    struct checkpointer *c = req->data;

    (void)status;
    c->is_running = 0;
    if (c->rc == SQLITE_OK && c->copied > 0) {
        c->done_pages = c->copied;
        c->is_catch_up = 1;
    }
    /*
     * BUSY: another connection was checkpointing; the next commit asks.
     * Anything else, and the WAL would grow unchecked: back to SQLite's
     * way, on the loop.
     */
    if (c->rc != SQLITE_OK && c->rc != SQLITE_BUSY) {
        log_warn("checkpoint: %s; checkpointing on the event loop from now "
                 "on", c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(c->rc));
        c->has_failed = 1;
        return;
    }
    log_debug("checkpoint: %s, %d of %d WAL pages copied",
              sqlite3_errstr(c->rc), c->copied, c->wal_pages);
    if (c->is_wanted)
        start(c);
}

static void
start(struct checkpointer *c)
{
    c->is_wanted = 0;
    c->is_running = 1;
    c->req.data = c;
    if (uv_queue_work(c->loop, &c->req, run, after) != 0) {
        run(&c->req);
        after(&c->req, 0);
    }
}

int
checkpointer_note(void *arg, int pages)
{
    struct checkpointer *c = arg;

    if (c->has_failed)
        return pages >= CHECKPOINT_PAGES;
    /* A WAL that starts over is shorter than what was copied from it. */
    if (pages < c->done_pages)
        c->done_pages = 0;
    if (c->is_catch_up && !c->is_running) {
        c->is_catch_up = 0;
        return 1;
    }
    /* A reader may keep the WAL from starting over: count new pages. */
    if (pages - c->done_pages < CHECKPOINT_PAGES)
        return 0;
    if (c->is_running)
        c->is_wanted = 1;
    else
        start(c);
    return 0;
}

void
checkpointer_free(struct checkpointer *c)
{
    if (c == NULL)
        return;
    sqlite3_close(c->db);
    free(c);
}
