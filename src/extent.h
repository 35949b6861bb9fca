/*
 * extent: the page runs an arena hands out for slabs and large allocations.
 * A run comes from the smallest size class of free runs that fits it (a
 * dirty one first) and is placed over that run's dirty pages (no page
 * faults), or from a chunk mapped for it; a slab is never cut out of a free
 * run bigger than a chunk. Freed runs go back to the free runs (pages) and
 * the purging policy (purge) decides what is purged; a large run grows into
 * a free neighbour and shrinks in place.
 * Lock: pages_t.lock (see pages); every extern function takes it itself.
 */
#ifndef BM_EXTENT_H
#define BM_EXTENT_H

#include "common.h"
#include "pages.h"

/* Give desc (or, when desc is NULL, a descriptor from the cache) a run of
 * size bytes (multiple of PAGE) aligned to alignment, registered in the rtree
 * as kind (SLAB: every page; LARGE: first page). *zeroed says whether the run
 * reads as zero. Returns the descriptor, or NULL. */
extent_t *extent_run_alloc(pages_t *p, extent_t *desc, size_t size,
    size_t alignment, extent_kind_t kind, bool *zeroed);
/* Take back desc's run; desc goes back to the cache when recycle is set,
 * else it stays the caller's. */
void extent_run_free(pages_t *p, extent_t *desc, bool recycle);
/* Grow a LARGE run in place to new_size bytes if the next run is free and
 * big enough. 0 on success, ENOMEM otherwise (run unchanged). */
int extent_run_grow(pages_t *p, extent_t *desc, size_t new_size);
/* Shrink a LARGE run in place, freeing its tail. */
void extent_run_shrink(pages_t *p, extent_t *desc, size_t new_size);

#endif
