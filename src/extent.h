/*
 * extent: runs of pages inside an arena (the arena's "pages"). Chunks are
 * mapped from the OS and carved into runs for slabs and large allocations.
 * A free run coalesces with its free neighbours (found through the rtree)
 * and knows the span of its pages freed since they were last purged (its
 * dirty span: they may be resident and non-zero; the rest reads as zero),
 * so dirty bytes are counted without asking the kernel, allocations are
 * placed over dirty pages (no page faults), and purging touches only them.
 * Dirty runs wait on a dirty list ordered by age and are purged
 * (MADV_DONTNEED) when they have been dirty for dirty_decay_ms, when the
 * arena's dirty bytes pass what its recent demand leaves room for (see
 * pages_dirty_bound), or when the arena's heap collapsed or its thread
 * left. Purging detaches the runs and calls the kernel without the lock.
 * Huge allocations get their own mapping and only an rtree entry here.
 * Every pages_t is on one registry list (for the background purger).
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
	uint8_t pad8;
	uint16_t szind;         /* slab: its bin */
	uint32_t pad32;
	uintptr_t dlo, dhi;     /* free run: its dirty span [dlo, dhi), which
	                         * holds every page freed since last purged
	                         * (empty, 0 and 0: the run reads as zero); on
	                         * the dirty list when not empty */
	void *owner;            /* the arena */
	extent_t *next, *prev;  /* free run: size bin; cache, purging: list */
	extent_t *dnext, *dprev;/* free run: dirty list */
	uint64_t dirty_since;   /* dirty run: when it was freed (ns; the mean
	                         * by bytes over the runs it merged) */
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
#define PAGES_HUGE_KEEP ((size_t)2 << 20)

typedef struct {
	size_t mapped;          /* chunk bytes mapped */
	size_t active;          /* bytes in slab and large runs */
	size_t dirty;           /* bytes in the free runs' dirty spans */
	size_t huge;            /* bytes in huge mappings */
	uint64_t purged;        /* bytes purged so far */
	uint64_t purge_runs;    /* purge passes that purged something */
	uint64_t n_huge;        /* live huge mappings */
	size_t slab;            /* bytes in slab runs (active - slab = large) */
	size_t spare;           /* a freed huge mapping kept for reuse (in
	                         * mapped) */
	uint64_t n_large;       /* live large runs */
} pages_stats_t;

/* A guess that an arena will not need its dirty pages again soon (its heap
 * collapsed, or its thread left), judged by what follows each purge. */
typedef struct {
	uint64_t at;            /* when it last purged (0: never) */
	uint64_t hold;          /* wait after a wrong guess (0: the decay) */
	size_t peak;            /* the recent peak of active bytes then */
	bool watch;             /* the last purge may yet prove wrong */
} pages_guess_t;

typedef struct pages_s {
	mutex_t lock;
	base_t *base;
	void *owner;
	uint64_t nonempty;                /* bit i: bins[i] has a run */
	extent_t *bins[PAGES_NBINS];
	extent_t dirty;                   /* sentinel of the dirty list */
	extent_t *desc_cache;             /* recycled descriptors */
	extent_t *purging;                /* runs detached while the kernel
	                                   * purges them (no lock held) */
	size_t peak[2];                   /* most active bytes in this demand
	                                   * epoch and in the one before */
	uint64_t peak_at;                 /* when this epoch began */
	extent_t *huge_spare;             /* a freed huge mapping kept for the
	                                   * next huge allocation it fits */
	uint64_t spare_since;             /* when it was freed */
	pages_guess_t collapsed;          /* the heap shrank to next to nothing */
	pages_guess_t left;               /* the arena's thread exited */
	struct pages_s *reg_next;         /* registry of every pages_t */
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
/* A huge run of size bytes: the arena's spare huge mapping when it fits
 * (at most twice size), else a new mapping with a descriptor from the
 * cache; *zeroed tells if it reads as zero. NULL on failure. */
extent_t *extent_huge_alloc(pages_t *p, size_t size, size_t alignment,
    bool *zeroed);
/* Unmap a huge run and recycle its descriptor, or keep its mapping as the
 * arena's spare (the larger of it and the spare there is stays; the spare
 * keeps its first PAGES_HUGE_KEEP bytes resident, the rest is purged). */
void extent_huge_free(pages_t *p, extent_t *desc);
/* Resize a huge run (it may move). 0, or ENOMEM (unchanged). */
int extent_huge_resize(pages_t *p, extent_t *desc, size_t new_size);
/* Purge dirty runs: all of them when force, else those past the decay time
 * or over the dirty bound. */
void pages_purge(pages_t *p, bool force);
/* The arena's thread exited: purge its dirty runs, unless the last purge
 * of a collapsed or left heap proved wrong recently (the memory was
 * needed again at once). */
void pages_purge_left(pages_t *p);
/* For the background purger: purge the runs of p dirty for the decay time
 * by now, without waiting for p's lock (busy: retried soon). Returns when
 * the next run comes due (UINT64_MAX: none is dirty). */
uint64_t pages_purge_aged(pages_t *p, uint64_t now);
/* The first registered pages_t (then p->reg_next), for the purger. */
pages_t *pages_registry(void);
/* In the fork child: list again as dirty the runs another thread was
 * purging when the parent forked. */
void pages_postfork_child(pages_t *p);
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
