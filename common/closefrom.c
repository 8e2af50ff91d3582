#define _GNU_SOURCE
#include "closefrom.h"

#include <sys/syscall.h>
#include <unistd.h>

void
close_from(int lowfd)
{
    /* close_range is Linux 5.9; before it, one close per possible fd up
     * to the limit (which the daemon raises to the hard one). */
    if (syscall(SYS_close_range, lowfd, ~0U, 0) == 0)
        return;
    for (long fd = lowfd, max = sysconf(_SC_OPEN_MAX); fd < max; fd++)
        (void)close((int)fd);
}
