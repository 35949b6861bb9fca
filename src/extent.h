/*
 * extent: runs of pages inside an arena (the arena's "pages"). Chunks are
 * mapped from the OS and carved into runs for slabs and large allocations;
 * freed runs coalesce with free neighbours (found through the rtree), wait on
 * the dirty list, and are purged (MADV_DONTNEED) when they have been dirty
 * longer than dirty_decay_ms or when the arena's dirty bytes pass the bound
 * (dirty_max, or the active bytes when larger; see pages_dirty_bound).
 * Huge allocations get their own mapping and only an rtree entry here.
 * Lock: pages_t.lock (rank ARENA) guards the free runs, the dirty list, the
 * descriptor cache and the counters; every extern function takes it itself.
 */
#ifndef BM_EXTENT_H
#define BM_EXTENT_H

#include "common.h"
#include "base.h"
#include "mutex.h"

typedef enum {
	EXTENT_FREE = 1,
	EXTENT_SLAB = 2,
	EXTENT_LARGE = 3,
	EXTENT_HUGE = 4,
} extent_kind_t;

typedef struct extent_s extent_t;
struct extent_s {
	uintptr_t addr;
	size_t size;            /* bytes, a multiple of PAGE */
	uint8_t kind;           /* extent_kind_t */
	uint8_t nonzero;        /* free run: may hold non-zero bytes */
	uint16_t szind;         /* slab: its bin */
	uint32_t prof_id;       /* large or huge run: the heap profiler's
	                         * record of its sampled allocation, when that
	                         * record points back here (prof.c) */
	size_t ndirty;          /* free run: bytes that may be resident and
	                         * dirty (an upper bound; what purging would
	                         * give back); on the dirty list when > 0 */
	void *owner;            /* the arena */
	extent_t *next, *prev;  /* free run: size bin; cache: free list */
	extent_t *dnext, *dprev;/* free run: dirty list */
	uint64_t dirty_since;   /* free run: when it became dirty (ns) */
};

/* A descriptor's kind and owner are stored atomically (relaxed): coalescing
 * reads them in the descriptor of a neighbouring run, which may belong to
 * another arena and change under that arena's lock. */
BM_INLINE void extent_tag(extent_t *e, extent_kind_t kind, void *owner) {
	__atomic_store_n(&e->kind, (uint8_t)kind, __ATOMIC_RELAXED);
	__atomic_store_n(&e->owner, owner, __ATOMIC_RELAXED);
}

#define PAGES_NBINS 64
#define PAGES_CHUNK ((size_t)4 << 20)

typedef struct {
	size_t mapped;          /* chunk bytes mapped */
	size_t active;          /* bytes in slab and large runs */
	size_t dirty;           /* sum of the free runs' ndirty */
	size_t huge;            /* bytes in huge mappings */
	uint64_t purged;        /* bytes purged so far */
	uint64_t purge_runs;    /* purge passes that purged something */
	uint64_t n_huge;        /* live huge mappings */
	size_t slab;            /* bytes in slab runs (active - slab = large) */
	uint64_t n_large;       /* live large runs */
} pages_stats_t;

typedef struct pages_s {
	mutex_t lock;
	base_t *base;
	void *owner;
	uint64_t nonempty;                /* bit i: bins[i] has a run */
	extent_t *bins[PAGES_NBINS];
	extent_t dirty;                   /* sentinel of the dirty list */
	extent_t *desc_cache;             /* recycled descriptors */
	size_t active_peak;               /* most active bytes since the heap
	                                   * last shrank to an eighth */
	uint64_t shrunk_at;               /* when that last cut the bound */
	pages_stats_t stats;
} pages_t;

/* Initialise p for arena owner; descriptors come from base. 0 on success. */
int pages_init(pages_t *p, base_t *base, void *owner);
/* A descriptor for a large or huge run (from the cache or the base). */
extent_t *extent_desc_get(pages_t *p);
/* Return a descriptor to the cache. */
void extent_desc_put(pages_t *p, extent_t *e);
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
/* Map a huge run with a descriptor from the cache; NULL on failure. */
extent_t *extent_huge_alloc(pages_t *p, size_t size, size_t alignment);
/* Unmap a huge run and recycle its descriptor. */
void extent_huge_free(pages_t *p, extent_t *desc);
/* Resize a huge run (it may move). 0, or ENOMEM (unchanged). */
int extent_huge_resize(pages_t *p, extent_t *desc, size_t new_size);
/* Purge dirty runs: all of them when force, else those past the decay time
 * or over the dirty bound. */
void pages_purge(pages_t *p, bool force);
/* Unmap every free run of p (when address space runs out); returns the
 * bytes given back. */
size_t pages_unmap_free(pages_t *p);
/* Snapshot of the counters. */
void pages_stats_get(pages_t *p, pages_stats_t *out);

/* Huge mappings of the whole process: live now, and the most there were at
 * once (count and bytes, each its own peak, as glibc's max_n_mmaps and
 * max_mmapped_mem). */
typedef struct {
	uint64_t count, count_peak;
	uint64_t bytes, bytes_peak;
} extent_huge_stats_t;
void extent_huge_stats_get(extent_huge_stats_t *out);

#endif
