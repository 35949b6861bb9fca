/*
 * report: the statistics report a person reads top-down (totals, the boot
 * base, each arena with its base block by block, the size classes) and the
 * same figures as JSON, both written through one emitter from the figure
 * tables of stats; bm_stats_print (include/basemalloc.h) and the report at
 * exit (stats_print, stats_opts, stats_file). A side wing: it reads the
 * layers through stats. No lock is held while the user's callback runs.
 */
#ifndef BM_REPORT_H
#define BM_REPORT_H

#include "common.h"
#include "emit.h"

/* What stats_opts letters ask for: J = JSON; a, b, c = leave out the
 * arenas, the block lists, the size classes. */
typedef struct {
	bool json, no_arenas, no_blocks, no_classes;
} report_opts_t;

/* Parse the letters of opts (NULL = none; unknown letters are ignored). */
void report_opts_parse(const char *opts, report_opts_t *out);
/* Write the report onto e (whose form must match opts->json). */
void report_write(emit_t *e, const report_opts_t *opts);

#endif
