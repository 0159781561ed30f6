/* Where the library's large variables live, so that its small ones cost
 * no page fault. ld.so writes the page .data ends on before the program
 * runs (it zeroes the rest of it), and .bss begins on that page unless
 * something in it asks for a page's alignment: so the small variables the
 * start-up and the first socket() write share that page, with no fault,
 * where on a page of their own each page faults once (twice when read
 * before written; t_firstcost.sh counts them, t_layout.sh checks where
 * they end). What is large, or must be a page of its own, is named with
 * LR_ZERO_PAGES: on x86-64 it goes to the large-data section, after .bss,
 * pages of zeros until used. Other targets have no such section: there it
 * is plain .bss. */
#ifndef LIBREUSE_PAGES_H
#define LIBREUSE_PAGES_H

#if defined(__x86_64__)
#define LR_ZERO_PAGES __attribute__((section(".lbss")))
#else
#define LR_ZERO_PAGES
#endif

#endif
