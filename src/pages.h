/*
 * pages: an arena's page runs as free runs (the arena's "pages_t"). Chunks
 * mapped for them and the runs freed back into them are free runs: they sit
 * in size bins (by floor page-size class) and coalesce with their free
 * neighbours (found through the rtree: a free run's first and last pages
 * point at it). A free run knows the span of its pages freed since they
 * were last purged (its dirty span: they may be resident and non-zero; the
 * rest reads as zero), so dirty bytes are counted without asking the kernel
 * after the fact; runs with a dirty span wait on a dirty list ordered by
 * age. The modules above build on these lists: purge (the purging policy),
 * extent (the runs handed out for slabs and large allocations) and huge
 * (huge mappings and the spare one, whose slot pages_t holds).
 * Every pages_t is on one registry list (for the background purger).
 * Lock: pages_t.lock (rank ARENA) guards the free runs, the dirty list, the
 * descriptor cache and the counters; functions named _locked expect it
 * held, the others take it themselves.
 */
#ifndef BM_PAGES_H
#define BM_PAGES_H

#include "common.h"
#include "rtree.h"
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
	uint8_t shrunk;         /* slab, large or huge run: 1 when a shrinking
	                         * realloc kept a block of it for want of memory
	                         * (sized frees then take smaller sizes) */
	uint16_t szind;         /* slab: its bin */
	uint32_t prof_id;       /* large or huge run: the heap profiler's
	                         * record of its sampled allocation, when that
	                         * record points back here (prof.c) */
	uintptr_t dlo, dhi;     /* free run: its dirty span [dlo, dhi), which
	                         * holds every page freed since last purged
	                         * (empty, 0 and 0: the run reads as zero); on
	                         * the dirty list when not empty */
	void *owner;            /* the arena */
	extent_t *next, *prev;  /* free run: size bin; cache, purging: list */
	extent_t *dnext, *dprev;/* free run: dirty list */
	uint64_t dirty_since;   /* dirty run: when it was freed (ns; the mean
	                         * by bytes over the runs it merged) */
	uint64_t mul;           /* slab: the block test (slab_block_ok) */
	_Atomic uint64_t lim;   /* slab: its bound; 0 for every other kind
	                         * (and for rtree's `nothing`): no address
	                         * passes */
};

/* The block bound of e (a relaxed load). Outside ThreadSanitizer builds a
 * plain load of the aligned word, which x86 and arm64 make atomic anyway:
 * gcc folds it into free's compare, which it never does for an atomic
 * load. */
BM_INLINE uint64_t extent_lim(const extent_t *e) {
#if BM_TSAN
	return atomic_load_explicit(&e->lim, memory_order_relaxed);
#else
	return *(const uint64_t *)&e->lim;
#endif
}

/* A descriptor's kind and owner are stored atomically (relaxed): coalescing
 * reads them in the descriptor of a neighbouring run, which may belong to
 * another arena and change under that arena's lock. */
BM_INLINE void extent_tag(extent_t *e, extent_kind_t kind, void *owner) {
	_Static_assert(sizeof(extent_t) <= RTREE_NOTHING, "rtree's nothing");
	atomic_store_explicit(&e->lim, 0, memory_order_relaxed);
	__atomic_store_n(&e->kind, (uint8_t)kind, __ATOMIC_RELAXED);
	__atomic_store_n(&e->shrunk, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&e->owner, owner, __ATOMIC_RELAXED);
}

/* Size bins of free runs (page-size classes; the last holds any size). */
#define PAGES_NBINS 64
/* A chunk mapped for page runs (larger when a run needs it). */
#define PAGES_CHUNK ((size_t)4 << 20)
/* The first chunk in a process started under an address-space or data
 * limit (chunks then double up to PAGES_CHUNK). */
#define PAGES_CHUNK_MIN ((size_t)256 << 10)

typedef struct {
	size_t mapped;          /* chunk bytes mapped */
	size_t active;          /* bytes in slab and large runs */
	size_t dirty;           /* bytes in the free runs' dirty spans (these
	                         * two: stored with pages_stat_set) */
	size_t huge;            /* bytes in huge mappings */
	uint64_t purged;        /* bytes purged so far */
	uint64_t purge_runs;    /* purge passes that purged something */
	uint64_t n_huge;        /* live huge mappings */
	size_t slab;            /* bytes in slab runs (active - slab = large) */
	size_t spare;           /* a freed huge mapping kept for reuse (in
	                         * mapped) */
	uint64_t n_large;       /* live large runs */
} pages_stats_t;

/* A guess of the purging policy (purge) that an arena will not need its
 * dirty pages again soon (its heap collapsed, or its thread left), judged
 * by what follows each purge. */
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
	/* Runs a layer above holds out of the bins (hardened builds' kept
	 * guarded runs): their dirty bytes (relaxed atomic), which keep the
	 * purger awake, and the call (set once, for held) that purges those
	 * dirty for the decay time by now, without p's lock, and returns when
	 * the next comes due (UINT64_MAX: none). */
	size_t held_dirty;
	void *held;
	uint64_t (*held_purge)(struct pages_s *p, uint64_t now);
} pages_t;

/* Store v into *stat, p->stats.active or p->stats.dirty (lock held): the
 * background purger reads those two without the lock (a hint), so their
 * one writer stores them atomically (relaxed). */
BM_INLINE void pages_stat_set(size_t *stat, size_t v) {
	__atomic_store_n(stat, v, __ATOMIC_RELAXED);
}

/* The bytes of e's dirty span (0: the free run reads as zero). */
BM_INLINE size_t extent_dirty_bytes(const extent_t *e) {
	return e->dhi - e->dlo;
}

/* Empty e's dirty span: the free run reads as zero. */
BM_INLINE void extent_set_clean(extent_t *e) {
	e->dlo = e->dhi = 0;
}

/* Initialise p for arena owner; descriptors come from base. 0 on success. */
int pages_init(pages_t *p, base_t *base, void *owner);
/* The first registered pages_t (then p->reg_next), for the purger. */
pages_t *pages_registry(void);
/* How many pages_t are in the registry (one per arena). */
unsigned pages_registered(void);
/* A descriptor for a run (from the cache or the base), or NULL. */
extent_t *pages_desc_get(pages_t *p);
extent_t *pages_desc_get_locked(pages_t *p);
/* Return a descriptor to the cache (its kind cleared). */
void pages_desc_put(pages_t *p, extent_t *e);
void pages_desc_put_locked(pages_t *p, extent_t *e);
/* List the free run e in its bin (and on the dirty list when its dirty span
 * is not empty); register its first and last pages in the rtree. */
void pages_insert_locked(pages_t *p, extent_t *e);
/* Take the free run e off its bin and the dirty list; clear its ends. */
void pages_remove_locked(pages_t *p, extent_t *e);
/* The free run of this arena whose page holds addr, or NULL. */
extent_t *pages_neighbour_locked(pages_t *p, uintptr_t addr);
/* Merge the unlisted free run e with its free neighbours (their dirty spans
 * make one hull); returns the result, not yet listed. */
extent_t *pages_coalesce_locked(pages_t *p, extent_t *e);
/* A listed free run of at least need bytes and at most max, from the
 * smallest size class that has one, a dirty one first; or NULL. */
extent_t *pages_find_locked(pages_t *p, size_t need, size_t max);
/* List [addr, addr+size) as a freed free run, merged with its neighbours;
 * its dirty span is the whole run, or for a run of 1 MiB or more the pages
 * the kernel says are resident (the others are purged at once). */
void pages_list_freed_locked(pages_t *p, uintptr_t addr, size_t size);
/* Give the spare huge mapping up (its figures out of mapped); returns it
 * (or NULL) for the caller to unmap. */
extent_t *pages_spare_drop_locked(pages_t *p);
/* The given-up spare s was unmapped with result err: its descriptor goes
 * back to the cache; a mapping the kernel kept becomes free pages. */
void pages_spare_unmapped_locked(pages_t *p, extent_t *s, int err);
/* Unmap every free run and the spare (when address space runs out); a run
 * the kernel refuses to unmap stays. Returns the bytes given back. */
size_t pages_unmap_free(pages_t *p);
size_t pages_unmap_free_locked(pages_t *p);
/* Snapshot of the counters. */
void pages_stats_get(pages_t *p, pages_stats_t *out);

#endif
