/*
 * A job as the supervisor and the CLI see it: the row of the queue that
 * one attempt works on.
 */
#ifndef FS_JOB_H
#define FS_JOB_H

#include <limits.h>
#include <stdint.h>

enum job_status {
    JOB_PENDING,
    JOB_RUNNING,
    JOB_DONE,
    JOB_RETRY,
    JOB_FAILED,
};

struct job {
    int64_t id;
    char input[PATH_MAX];
    char output_dir[PATH_MAX];
    uint32_t frames;
    uint8_t mode; /* enum job_mode in proto.h */
    uint8_t quality;
    int attempts; /* including the attempt being run */
    int max_attempts;
};

#endif
