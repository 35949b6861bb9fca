/*
 * ctl: the bm_ctl namespace (include/basemalloc.h): names to values. A name
 * is one of a few entries of its own (version, epoch, thread and arena
 * facts, actions, the base-block list), "opt." and an option's name (one per
 * row of conf's table), or a figure: a scope's prefix ("stats.",
 * "stats.arenas.#.", ...) and a row of one of stats' tables. The "stats."
 * scopes read a snapshot that writing "epoch" refreshes (the first read
 * takes one); the "stats.arenas.#." scopes read the arena at the call. A
 * side wing: nothing below calls it.
 * Locks: the snapshot lock (rank INIT) while the snapshot is taken or read;
 * gathering takes the layers' locks one at a time under it.
 */
#ifndef BM_CTL_H
#define BM_CTL_H

#include "common.h"

/* A name of the namespace, as README's bm_ctl names table lists it. */
typedef struct {
	char name[96];       /* '#' for a decimal index */
	const char *type;    /* "size_t", "uint64_t", ..., "action" */
	const char *unit;    /* "bytes", "count", ..., "-" */
	const char *read;    /* "now", "epoch" (the snapshot), "-" (actions) */
	char doc[512];
} ctl_info_t;

/* The i-th name of the namespace into *out; false past the last. Names
 * that exist only in fault-injection builds come last. */
bool ctl_info(unsigned i, ctl_info_t *out);

#endif
