/* The functions libreuse interposes, as the next library (libc) defines
 * them. Resolved once; a failed lookup falls back to the raw system call, so
 * a hook always has something real to call. */
#ifndef LIBREUSE_REAL_H
#define LIBREUSE_REAL_H

#include <sys/socket.h>

struct lr_real {
	int (*socket)(int, int, int);
	int (*setsockopt)(int, int, int, const void *, socklen_t);
	int (*bind)(int, const struct sockaddr *, socklen_t);
	int (*connect)(int, const struct sockaddr *, socklen_t);
	int (*listen)(int, int);
	int (*close)(int);
};

/* Filled by lr_real_init (pthread_once), read-only afterwards. */
extern struct lr_real lr_real;

/* Cheap after the first call: every hook calls it first. */
void lr_real_init(void);

#endif
