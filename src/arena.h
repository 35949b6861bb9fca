/*
 * arena: what one thread allocates from. Bins of slabs per small class
 * (owner only, no lock), large page runs and huge mappings (through its
 * pages_t, which has the arena's lock), and its own base for every piece of
 * metadata (the arena struct itself, slab and extent descriptors).
 * Arenas are never destroyed: a thread that exits tidies its arena (drains
 * remote frees, gives back empty slabs) and abandons it to a pool; the next
 * new thread adopts it. `claimed` is the ownership token: the owning thread
 * holds it for as long as it owns the arena; while the arena sits in the
 * pool, a thread freeing into it takes the token for that one free and
 * frees as the owner would (so the memory of exited threads is given back
 * when other threads free it), or pushes remotely when the token is busy.
 * An exiting thread's arena purges its dirty pages (purge_left), and
 * frees that leave dirty runs wake the background purger (bg).
 * Locks: the pool lock (rank ARENA_POOL) guards the registry and the pool;
 * pages.lock (rank ARENA) guards page runs; bins are owner-only.
 * Statistics: other threads never read the bins. The owner publishes each
 * class's figures into atomics (`pub`) whenever the class's slabs change;
 * arena_stats_get reads the bins themselves only for their owner or under
 * the ownership token (a pooled arena), and the published figures otherwise.
 */
#ifndef BM_ARENA_H
#define BM_ARENA_H

#include "common.h"
#include "base.h"
#include "harden.h"
#include "pages.h"
#include "slab.h"
#include "sz.h"

#define ARENAS_MAX 65536

typedef struct {
	slab_t *partial;      /* slabs with free blocks */
	slab_t *spare;        /* one empty slab kept for reuse */
	uint32_t slab_size;   /* bytes per slab */
	uint32_t nslabs;      /* live slabs */
	uint64_t nrequests;   /* slow-path refills (stats) */
} bin_t;

/* The owner's bookkeeping of a bin's partial slabs, for the published
 * figures (owner only). */
typedef struct {
	uint64_t parked;      /* sum of the partial slabs' `parked` */
	uint32_t npartial;    /* slabs on the partial list */
} bin_park_t;

/* A class's figures as the owner last published them. */
typedef struct {
	_Atomic uint64_t live, slabs, refills;
} bin_pub_t;

/* The current slabs are indexed by request granule, (size + 15) / 16 for
 * sizes up to SZ_LOOKUP_MAX, so that malloc's fast path needs no size-class
 * lookup: every granule of a bin holds the bin's slab. Bins above
 * SZ_LOOKUP_MAX have one slot each after the granules. */
#define ARENA_NGRAN ((SZ_LOOKUP_MAX >> LG_QUANTUM) + 1)
#define ARENA_NCUR  (ARENA_NGRAN + SZ_NSMALL)

typedef struct arena_s arena_t;
struct arena_s {
	slab_t *cur[ARENA_NCUR];  /* each bin's current slab, never NULL:
	                           * &arena_slab_empty when none; one slot per
	                           * request granule (see ARENA_NGRAN) */
	bin_t bins[SZ_NSMALL];
	unsigned ind;
	base_t *base;
	slab_t *slab_cache;                    /* owner only */
	arena_t *pool_next;
	_Atomic uint64_t n_large;              /* large runs allocated (stats;
	                                        * the owner stores) */
	_Atomic uint64_t n_adopted;            /* taken from the pool (stats;
	                                        * stored under the pool lock) */
	bin_park_t park[SZ_NSMALL];            /* owner only */
	bin_pub_t pub[SZ_NSMALL];              /* owner stores, anyone loads */
	harden_t harden;                       /* hardened builds' state */
	_Alignas(64) _Atomic(slab_t *) remote_slabs;
	_Atomic int claimed;                   /* a thread acts as the owner */
	_Atomic uint64_t remote_frees;
	_Alignas(64) pages_t pages;
};

/* The placeholder current slab of empty bins (never has a free block). */
extern slab_t arena_slab_empty;
/* The current slabs of a thread without an arena: all the placeholder, so
 * that malloc's fast path needs no test for that case. */
extern slab_t *const arena_no_cur[ARENA_NCUR];
/* Bin ind's slots in arena_t.cur: the first, and how many. */
extern uint16_t arena_cur_first[SZ_NSMALL];
extern uint16_t arena_cur_count[SZ_NSMALL];

/* Bin ind's current slab. */
BM_INLINE slab_t *arena_cur(const arena_t *a, unsigned ind) {
	return a->cur[arena_cur_first[ind]];
}

/* Make s bin ind's current slab (owner). */
BM_INLINE void arena_cur_set(arena_t *a, unsigned ind, slab_t *s) {
	for (unsigned i = 0; i < arena_cur_count[ind]; i++)
		a->cur[arena_cur_first[ind] + i] = s;
}

/* Set up the pool (bootstrap). 0 on success. */
int arena_boot(void);
/* An arena for a new thread: adopted from the pool or created. NULL when
 * no arena can be had. */
arena_t *arena_acquire(void);
/* a itself, taken from the pool like arena_acquire does, when it is there;
 * NULL otherwise (callers test a->claimed first: an owned arena is not in
 * the pool, and the test spares them the pool's lock). */
arena_t *arena_acquire_pooled(arena_t *a);
/* Abandon a (thread's) arena to the pool. */
void arena_release(arena_t *a);
/* Slow path of small allocation in bin ind. NULL when out of memory. */
void *arena_malloc_small_slow(arena_t *a, unsigned ind);
/* After a local free left slab s empty or took it out of the full state. */
void arena_free_local_slow(arena_t *a, slab_t *s);
/* A free into slab s from a thread that does not own s's arena. */
void arena_free_remote(slab_t *s, void *p);
/* Large (page run) allocation of usize bytes (sz_s2u of the request) at
 * alignment, followed by HARDEN_GUARD bytes of guard; *zeroed tells if the
 * memory reads as zero. NULL on failure. */
void *arena_malloc_large(arena_t *a, size_t usize, size_t alignment,
    bool *zeroed);
/* Huge allocation (own mapping, or the arena's spare huge mapping), with
 * HARDEN_GUARD bytes of guard after size; *zeroed tells if it reads as
 * zero. NULL on failure. */
void *arena_malloc_huge(arena_t *a, size_t size, size_t alignment,
    bool *zeroed);
/* Free a large or huge run, from any thread. */
void arena_free_run(extent_t *e);
/* In the fork child: list again the page runs vanished threads were
 * purging, and drop from the pool the arenas whose token a vanished thread
 * held (their state may be mid-update). */
void arena_postfork_child(void);
/* Unmap every arena's free runs (a map failed); the bytes given back. */
size_t arena_unmap_free_all(void);
/* Purge a's dirty pages now (hardened builds: and give back the guarded
 * runs it keeps). */
void arena_purge(arena_t *a);
/* Purge every arena's dirty pages now (malloc_trim). */
void arena_purge_all(void);
/* Number of arenas created / currently in the pool. */
unsigned arena_count(void);
unsigned arena_count_abandoned(void);
/* The i-th arena (i < arena_count()), for stats. */
arena_t *arena_get(unsigned i);
/* a's index in the registry, and its base. */
unsigned arena_index(const arena_t *a);
base_t *arena_base(const arena_t *a);
/* Bytes of a slab of class ind (the same in every arena; 0 before boot). */
size_t arena_bin_slab_size(unsigned ind);

/* One class's figures in an arena: objects out (blocks freed by other
 * threads count until the owner collects them), live slabs (the spare
 * included), their blocks, slow-path refills. */
typedef struct {
	uint64_t live, slabs, capacity, refills;
} arena_bin_stats_t;

/* The figures of an arena other than its classes' (fields of arena_stats_t,
 * and of stats' stats_arena_t, which adds the figures derived from them). */
#define ARENA_STATS_COUNTERS \
	pages_stats_t pages;      /* its pages' snapshot */ \
	base_stats_t base;        /* its base's snapshot */ \
	uint64_t remote_frees;    /* remote frees the owner collected */ \
	uint64_t adopted;         /* times taken from the pool */ \
	uint64_t large_nmalloc;   /* large runs ever allocated */

/* An arena's figures: its pages' and its base's snapshots, its own
 * counters, its classes. */
typedef struct {
	ARENA_STATS_COUNTERS
	bool exact;               /* the classes were read, not published */
	arena_bin_stats_t bins[SZ_NSMALL];
} arena_stats_t;

/* Snapshot of a's figures; own: the caller is a's owner thread. The classes
 * are read from the bins by the owner, or under the ownership token when a
 * sits in the pool (exact); otherwise they are what the owner published the
 * last time each class's slabs changed: slabs exact, refills and live short
 * of what the current slab served since, live also counting blocks freed
 * into partial slabs since they were filed (see README "Accuracy"). */
void arena_stats_get(arena_t *a, bool own, arena_stats_t *out);
/* Times a was taken from the pool. */
uint64_t arena_adopted(const arena_t *a);

/* The owner's free of p into slab s of its arena a. */
BM_INLINE void arena_free_local(arena_t *a, slab_t *s, void *p) {
	slab_free_local(s, p);
	if (UNLIKELY(s->gate == 0))   /* see slab_state_set */
		arena_free_local_slow(a, s);
}

/* Hardened builds: the owner's free of p (in slab s of a), delayed: p joins
 * the arena's delayed frees and one of the oldest of them, picked at
 * random, is freed (harden_delay). Default builds: arena_free_local. */
BM_INLINE void arena_free_delayed(arena_t *a, slab_t *s, void *p) {
	slab_t *old_s = s;
	void *old = config_hardened ? harden_delay(&a->harden, s, p, &old_s) : p;
	if (old != NULL)
		arena_free_local(a, old_s, old);
}

/* The smallest classes, whose free lists a large request checks. */
#define ARENA_CHECK_MAX ((size_t)128)

/* Before a large or huge allocation, follow the head link of the current
 * slab's free list of each class up to ARENA_CHECK_MAX bytes (owner
 * only): glibc follows its fastbins (blocks up to 128 bytes) when a large
 * request consolidates them, so a freed small block the program wrote
 * over is reported there even when its class never allocates again
 * (glibc's tst-safe-linking). About 60 instructions. */
BM_INLINE void arena_check_lists(arena_t *a) {
	for (unsigned i = 0; i <= sz_size2index(ARENA_CHECK_MAX); i++)
		slab_check_head(a->cur[i]);
}

/* True when p waits among a's delayed frees (owner only). */
BM_INLINE bool arena_delayed_has(const arena_t *a, const void *p) {
	return config_hardened && harden_delayed_has(&a->harden, p);
}

#endif
