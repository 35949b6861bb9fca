/*
 * stats: counters gathered from every layer, the report (text and JSON),
 * bm_ctl names, and glibc's introspection calls (malloc_stats, mallinfo,
 * mallinfo2, malloc_info). Readers take each arena's pages lock and each
 * base's lock in turn (never two at once); nothing here is on a fast path.
 */
#ifndef BM_STATS_H
#define BM_STATS_H

#include "common.h"

#include <malloc.h>
#include <stdio.h>

/* Set up the bm_ctl snapshot lock (bootstrap). Until it ran, bm_ctl answers
 * EAGAIN. The report at exit (stats_print) is a destructor in stats.c. */
void stats_boot(void);

/* Totals over every base (b0 and each arena's). */
typedef struct {
	size_t allocated, resident, mapped, n_thp, blocks;
} stats_base_totals_t;
void stats_base_totals(stats_base_totals_t *out);

/* glibc's introspection calls; preload/ exports them under libc's names.
 * malloc_stats: the glibc-shaped summary on fd 2. */
void stats_malloc_stats(void);
/* mallinfo2 / mallinfo with basemalloc's figures (see README.md, "Statistics"). */
struct mallinfo2 stats_mallinfo2(void);
struct mallinfo stats_mallinfo(void);
/* malloc_info: XML in glibc's shape on fp; options must be 0. 0, or EINVAL
 * (as glibc returns). */
int stats_malloc_info(int options, FILE *fp);

#endif
