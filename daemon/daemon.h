/*
 * Lifecycle hooks of frameshieldd's main loop (main.c), for the modules
 * that decide when the daemon must stop.
 */
#ifndef FS_DAEMON_H
#define FS_DAEMON_H

/* Starts the drain; the process later exits with exit_code. */
void daemon_shutdown(int exit_code);
/* Called when the pool may have stopped; finishes a drain if so. */
void daemon_check_stopped(void);

#endif
