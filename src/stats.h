/*
 * stats: counters gathered from every layer, the report (text and JSON),
 * bm_ctl names, and glibc's introspection calls (malloc_stats, mallinfo,
 * mallinfo2, malloc_info). Readers take each arena's pages lock and each
 * base's lock in turn (never two at once); nothing here is on a fast path.
 */
#ifndef BM_STATS_H
#define BM_STATS_H

#include "common.h"

/* Register the at-exit report when stats_print is set. */
void stats_boot(void);

/* Totals over every base (b0 and each arena's). */
typedef struct {
	size_t allocated, resident, mapped, n_thp, blocks;
} stats_base_totals_t;
void stats_base_totals(stats_base_totals_t *out);

#endif
