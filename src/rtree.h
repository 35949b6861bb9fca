/*
 * rtree: address -> page-run descriptor (extent_t). Three levels of 4096
 * slots indexed by the page number: a static root, then nodes and leaves
 * (32 KiB each, demand-zeroed, from b0); a leaf covers 16 MiB. An address
 * with no entry is not ours.
 * Lookups are lock-free (relaxed loads); writers are the owners of the runs
 * they describe (each run is written by one arena under its lock), and leaf
 * installation is a compare-and-swap.
 * Entry invariants: a slab's pages all point at it; a large or huge run's
 * first page points at it and its other pages are empty; a free run's first
 * and last pages point at it.
 */
#ifndef BM_RTREE_H
#define BM_RTREE_H

#include "common.h"

#define RTREE_LG_VA     48
#define RTREE_LG_NODE   12      /* each level resolves 12 bits of the page */
#define RTREE_NODE_SIZE ((size_t)1 << RTREE_LG_NODE)
#define RTREE_MASK      (RTREE_NODE_SIZE - 1)

typedef _Atomic(void *) rtree_entry_t;
typedef _Atomic(rtree_entry_t *) rtree_node_t;
/* Level 1 (static) -> level 2 nodes -> leaves of entries (16 MiB each). */
extern _Atomic(rtree_node_t *) rtree_root[RTREE_NODE_SIZE];

/* The descriptor for addr, or NULL. */
BM_INLINE void *rtree_lookup(const void *addr) {
	uintptr_t pg = (uintptr_t)addr >> LG_PAGE;
	if (UNLIKELY(pg >> (RTREE_LG_VA - LG_PAGE)))
		return NULL;
	rtree_node_t *mid = atomic_load_explicit(
	    &rtree_root[pg >> (2 * RTREE_LG_NODE)], memory_order_acquire);
	if (UNLIKELY(mid == NULL))
		return NULL;
	rtree_entry_t *leaf = atomic_load_explicit(
	    &mid[(pg >> RTREE_LG_NODE) & RTREE_MASK], memory_order_acquire);
	if (UNLIKELY(leaf == NULL))
		return NULL;
	return atomic_load_explicit(&leaf[pg & RTREE_MASK],
	    memory_order_acquire);
}

/* Make sure the leaves for [addr, addr+size) exist. 0, or ENOMEM. */
int rtree_reserve(const void *addr, size_t size);
/* Set the entry of the page holding addr (its leaf must exist). */
void rtree_set(const void *addr, void *desc);
/* Set every page of [addr, addr+size) to desc (leaves must exist). */
void rtree_set_range(const void *addr, size_t size, void *desc);

#endif
