/*
 * rtree: address -> page-run descriptor (extent_t). Two levels indexed by
 * page number: a static root of leaf pointers and demand-zeroed leaves from
 * b0, each leaf covering 1 GiB. An address with no entry is not ours.
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
#define RTREE_LG_LEAF   18
#define RTREE_LG_ROOT   (RTREE_LG_VA - LG_PAGE - RTREE_LG_LEAF)

typedef _Atomic(void *) rtree_entry_t;
extern _Atomic(rtree_entry_t *) rtree_root[(size_t)1 << RTREE_LG_ROOT];

/* The descriptor for addr, or NULL. */
BM_INLINE void *rtree_lookup(const void *addr) {
	uintptr_t pg = (uintptr_t)addr >> LG_PAGE;
	if (UNLIKELY(pg >> (RTREE_LG_VA - LG_PAGE)))
		return NULL;
	rtree_entry_t *leaf = atomic_load_explicit(
	    &rtree_root[pg >> RTREE_LG_LEAF], memory_order_acquire);
	if (UNLIKELY(leaf == NULL))
		return NULL;
	return atomic_load_explicit(
	    &leaf[pg & (((uintptr_t)1 << RTREE_LG_LEAF) - 1)],
	    memory_order_acquire);
}

/* Make sure the leaves for [addr, addr+size) exist. 0, or ENOMEM. */
int rtree_reserve(const void *addr, size_t size);
/* Set the entry of the page holding addr (its leaf must exist). */
void rtree_set(const void *addr, void *desc);
/* Set every page of [addr, addr+size) to desc (leaves must exist). */
void rtree_set_range(const void *addr, size_t size, void *desc);

#endif
