/*
 * WAL checkpoints for frameshieldd, off the event loop.  SQLite's own
 * checkpoint runs inside whichever commit pushes the WAL past 1000 pages,
 * on the committing thread: copying pages into the database and two
 * fdatasyncs, a fifth of the loop's time at 2,000 jobs/s (perf).  Here
 * the commit only reports the WAL's size, and a passive checkpoint runs in
 * libuv's threadpool on a connection of its own: one at a time, never
 * holding a lock the loop's writes wait for.  Should it fail, the loop
 * checkpoints every 1000 pages as SQLite would.
 */
#ifndef FS_CHECKPOINT_H
#define FS_CHECKPOINT_H

#include <uv.h>

struct checkpointer;

/* NULL when out of memory.  The connection opens with the first run. */
struct checkpointer *checkpointer_new(uv_loop_t *, const char *db_path);

/*
 * A commit left pages in the WAL: starts a run from 1000 new pages on.
 * Returns 1 when the committing connection should copy what the last run
 * missed (queue_on_wal's contract).
 */
int checkpointer_note(void *checkpointer, int pages);

/*
 * Frees it, closing its connection; call once the loop has run out (no
 * checkpoint in flight).
 */
void checkpointer_free(struct checkpointer *);

#endif
