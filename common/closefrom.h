/* Closing every descriptor from one up: what a process inherited and must
 * not hold (the zygote, a worker entering its sandbox). */
#ifndef FS_CLOSEFROM_H
#define FS_CLOSEFROM_H

/* Closes lowfd and every descriptor above it. */
void close_from(int lowfd);

#endif
