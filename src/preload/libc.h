/* Which C library the library was built for, and whether the program it
 * was loaded into has that one: a glibc build inherited by a musl program
 * (LD_PRELOAD passes on through exec) steps aside, and the musl build in a
 * glibc program likewise. Also what glibc declares and musl does not, for
 * the musl build (-include'd there). */
#ifndef LIBREUSE_LIBC_H
#define LIBREUSE_LIBC_H

#include <features.h> /* __GLIBC__, where it is glibc */
#include <stdbool.h>

/* Set by the constructor, before main, when the program's libc is not the
 * one this library was built for; never changed afterwards. Every hook then
 * calls straight through. A hook run before the constructor (from another
 * library's constructor) asks lr_libc_check itself. */
extern bool lr_libc_foreign;
bool lr_libc_check(void);

/* Which build this is, for the line that says it stepped aside. */
#ifdef __GLIBC__
#define LR_LIBC_BUILT "glibc"
#else
#define LR_LIBC_BUILT "musl"
/* glibc's, not musl's: the library interposes them all the same. */
int close_range(unsigned int first, unsigned int last, int flags);
void closefrom(int low);
#endif

#endif
