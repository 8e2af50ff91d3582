-- frameshield queue schema: the single source of truth.
-- The daemon embeds this file at build time and runs it when the
-- database's user_version is below the one this file ends with (a
-- new database, or an upgrade).  Times are Unix milliseconds.
-- Callers enqueue with plain INSERTs into jobs; everything else is
-- written by the daemon (or by the frameshield CLI on an operator's behalf).

CREATE TABLE IF NOT EXISTS jobs (
    id              INTEGER PRIMARY KEY,
    input           TEXT    NOT NULL,
    output_dir      TEXT    NOT NULL,
    frames          INTEGER NOT NULL DEFAULT 5
                    CHECK (frames BETWEEN 1 AND 1000),
    mode            TEXT    NOT NULL DEFAULT 'accurate'
                    CHECK (mode IN ('accurate', 'keyframe')),
    quality         INTEGER NOT NULL DEFAULT 90
                    CHECK (quality BETWEEN 1 AND 100),
    priority        INTEGER NOT NULL DEFAULT 0,
    status          TEXT    NOT NULL DEFAULT 'PENDING'
                    CHECK (status IN ('PENDING', 'RUNNING', 'DONE',
                                      'RETRY', 'FAILED')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    max_attempts    INTEGER NOT NULL DEFAULT 3 CHECK (max_attempts >= 1),
    last_error      TEXT,
    last_signal     INTEGER,
    frames_written  INTEGER,
    worker_pid      INTEGER,
    created_at      INTEGER NOT NULL DEFAULT
                    (CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)),
    started_at      INTEGER,
    finished_at     INTEGER,
    next_attempt_at INTEGER
);

-- The claim takes the better of two heads, each one index lookup
-- however many rows pile up: the first runnable PENDING job and the
-- first runnable RETRY job, in priority order.  Runnable means no
-- next_attempt_at: a RETRY row's backoff, or a PENDING row's "not before
-- then".  Rows that carry one are kept by when they are due, so
-- thousands still waiting cost the claim nothing; once due, each claim
-- clears the next_attempt_at of up to 16 of each kind, earliest first
-- and, among rows due at the same time, by priority, which moves them
-- into the priority order.  Both priority indexes cover what the claim
-- reads.  (Version 4.  Version 3 sorted the due RETRY
-- rows by priority at every claim, and kept PENDING rows enqueued for
-- later in the PENDING index: with 100,000 of either, due RETRY rows or
-- later PENDING ones at a higher priority than the runnable rows, each
-- claim took 6-12 ms.  Version 1 walked PENDING and RETRY rows in one
-- priority-ordered index, passing every RETRY row still backing off.)
DROP INDEX IF EXISTS jobs_runnable;
DROP INDEX IF EXISTS jobs_pending;
CREATE INDEX IF NOT EXISTS jobs_pending_now ON jobs (priority DESC, id)
    WHERE status = 'PENDING' AND next_attempt_at IS NULL;
CREATE INDEX IF NOT EXISTS jobs_retry_now ON jobs (priority DESC, id)
    WHERE status = 'RETRY' AND next_attempt_at IS NULL;

-- Rows that wait, by when they are due, for the daemon's wake-up and for
-- the claim's moving.  Only such rows are in them, so plain INSERTs never
-- touch them.  (Version 3 had the PENDING one, without the priority; it
-- woke the daemon for a job enqueued for later, which until then waited
-- for something else to.  Version 2 indexed every RETRY row by time.)
DROP INDEX IF EXISTS jobs_retry_due;
DROP INDEX IF EXISTS jobs_pending_later;
CREATE INDEX IF NOT EXISTS jobs_pending_waiting
    ON jobs (next_attempt_at, priority DESC)
    WHERE status = 'PENDING' AND next_attempt_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS jobs_retry_waiting
    ON jobs (next_attempt_at, priority DESC)
    WHERE status = 'RETRY' AND next_attempt_at IS NOT NULL;

CREATE INDEX IF NOT EXISTS jobs_status ON jobs (status);

CREATE TABLE IF NOT EXISTS attempts (
    job_id          INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    attempt         INTEGER NOT NULL,
    worker_pid      INTEGER,
    started_at      INTEGER NOT NULL,
    finished_at     INTEGER,
    -- NULL while running; then DONE, RETRY, FAILED or INTERRUPTED
    -- (the daemon stopped or died while the attempt ran).
    outcome         TEXT CHECK (outcome IN ('DONE', 'RETRY', 'FAILED',
                                            'INTERRUPTED')),
    exit_code       INTEGER,
    signal          INTEGER,
    error           TEXT,
    frames_decoded  INTEGER,
    frames_written  INTEGER,
    ms              INTEGER,
    -- the worker's last 4 KiB of stderr (FFmpeg's log) during the attempt
    stderr          TEXT,
    PRIMARY KEY (job_id, attempt)
);

CREATE VIEW IF NOT EXISTS queue_status AS
    SELECT status, count(*) AS jobs FROM jobs GROUP BY status;

CREATE VIEW IF NOT EXISTS recent_failures AS
    SELECT a.job_id, a.attempt, j.input, a.outcome, a.signal, a.error,
           datetime(a.finished_at / 1000, 'unixepoch') AS finished
    FROM attempts a JOIN jobs j ON j.id = a.job_id
    WHERE a.outcome IN ('RETRY', 'FAILED')
    ORDER BY a.finished_at DESC LIMIT 50;

CREATE VIEW IF NOT EXISTS job_overview AS
    SELECT id, status, attempts, max_attempts, frames_written, last_signal,
           last_error, input, output_dir,
           datetime(created_at / 1000, 'unixepoch') AS created,
           datetime(finished_at / 1000, 'unixepoch') AS finished
    FROM jobs;

PRAGMA user_version = 4;
