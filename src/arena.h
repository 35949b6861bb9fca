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
 * An exiting thread's arena purges its dirty pages (pages_purge_left), and
 * frees that leave dirty runs wake the background purger (bg).
 * Locks: the pool lock (rank ARENA_POOL) guards the registry and the pool;
 * pages.lock (rank ARENA) guards page runs; bins are owner-only.
 */
#ifndef BM_ARENA_H
#define BM_ARENA_H

#include "common.h"
#include "base.h"
#include "extent.h"
#include "slab.h"
#include "sz.h"

#define ARENAS_MAX 65536

typedef struct {
	slab_t *cur;          /* never NULL: &arena_slab_empty when none */
	slab_t *partial;      /* slabs with free blocks */
	slab_t *spare;        /* one empty slab kept for reuse */
	uint32_t slab_size;   /* bytes per slab */
	uint32_t nslabs;      /* live slabs */
	uint64_t nrequests;   /* slow-path refills (stats) */
} bin_t;

typedef struct arena_s arena_t;
struct arena_s {
	bin_t bins[SZ_NSMALL];
	unsigned ind;
	base_t *base;
	slab_t *slab_cache;                    /* owner only */
	arena_t *pool_next;
	uint64_t n_large, n_large_bytes;       /* owner's large allocs (stats) */
	uint64_t n_adopted;                    /* taken from the pool (stats) */
	_Alignas(64) _Atomic(slab_t *) remote_slabs;
	_Atomic int claimed;                   /* a thread acts as the owner */
	_Atomic uint64_t remote_frees;
	_Alignas(64) pages_t pages;
};

/* The placeholder current slab of empty bins (never has a free block). */
extern slab_t arena_slab_empty;

/* Set up the pool (bootstrap). 0 on success. */
int arena_boot(void);
/* An arena for a new thread: adopted from the pool or created. NULL when
 * no arena can be had. */
arena_t *arena_acquire(void);
/* Abandon a (thread's) arena to the pool. */
void arena_release(arena_t *a);
/* Slow path of small allocation in bin ind. NULL when out of memory. */
void *arena_malloc_small_slow(arena_t *a, unsigned ind);
/* After a local free left slab s empty or took it out of the full state. */
void arena_free_local_slow(arena_t *a, slab_t *s);
/* A free into slab s from a thread that does not own s's arena. */
void arena_free_remote(slab_t *s, void *p);
/* Large (page run) allocation of usize bytes (sz_s2u of the request) at
 * alignment; *zeroed tells if the memory reads as zero. NULL on failure. */
void *arena_malloc_large(arena_t *a, size_t usize, size_t alignment,
    bool *zeroed);
/* Huge allocation (own mapping, or the arena's spare huge mapping);
 * *zeroed tells if it reads as zero. NULL on failure. */
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
/* Purge every arena's dirty pages now (malloc_trim). */
void arena_purge_all(void);
/* Number of arenas created / currently in the pool. */
unsigned arena_count(void);
unsigned arena_count_abandoned(void);
/* The i-th arena (i < arena_count()), for stats. */
arena_t *arena_get(unsigned i);

#endif
