/*
 * huge: allocations with a mapping of their own (only an rtree entry for
 * their first page, and a descriptor from the arena's cache). A freed huge
 * mapping is kept as the arena's spare (the larger of it and the spare
 * there is), its first HUGE_SPARE_KEEP bytes resident and the rest purged,
 * for the next huge allocation it fits; purge unmaps it after
 * dirty_decay_ms. The process-wide figures (live now and the peaks) are
 * relaxed atomics.
 * Lock: pages_t.lock (see pages), never held while mapping or unmapping.
 */
#ifndef BM_HUGE_H
#define BM_HUGE_H

#include "common.h"
#include "pages.h"

/* Bytes of the spare huge mapping left resident. */
#define HUGE_SPARE_KEEP ((size_t)2 << 20)

/* A huge run of size bytes: the arena's spare huge mapping when it fits
 * (at most twice size), else a new mapping with a descriptor from the
 * cache; *zeroed tells if it reads as zero. NULL on failure. */
extent_t *huge_alloc(pages_t *p, size_t size, size_t alignment,
    bool *zeroed);
/* Unmap a huge run and recycle its descriptor, or keep its mapping as the
 * arena's spare (the larger of it and the spare there is stays; the spare
 * keeps its first HUGE_SPARE_KEEP bytes resident, the rest is purged). */
void huge_free(pages_t *p, extent_t *desc);
/* Resize a huge run (it may move). 0, or ENOMEM (unchanged). */
int huge_resize(pages_t *p, extent_t *desc, size_t new_size);

/* Huge mappings of the whole process: live now, and the most there were at
 * once (count and bytes, each its own peak, as glibc's max_n_mmaps and
 * max_mmapped_mem). */
typedef struct {
	uint64_t count, count_peak;
	uint64_t bytes, bytes_peak;
} huge_stats_t;
void huge_stats_get(huge_stats_t *out);

#endif
