/*
 * rtree: the three-level page map. The root (32 KiB of bss) holds node
 * pointers; nodes and leaves (32 KiB each) come from b0 and are installed
 * with a CAS, so a lost race wastes one node of b0 memory (which is never
 * freed) instead of taking a lock.
 */
#include "rtree.h"
#include "base.h"

#include <errno.h>

_Atomic(rtree_node_t *) rtree_root[RTREE_NODE_SIZE];

/* The child in *slot, installing a zeroed node from b0 if there is none. */
static void *rtree_child(_Atomic(void *) *slot) {
	void *child = atomic_load_explicit(slot, memory_order_acquire);
	if (child != NULL)
		return child;
	void *node = base_alloc(base_b0(), RTREE_NODE_SIZE * sizeof(void *),
	    PAGE);
	if (node == NULL)
		return NULL;
	if (atomic_compare_exchange_strong_explicit(slot, &child, node,
	    memory_order_acq_rel, memory_order_acquire))
		return node;
	return child;  /* lost the race: the node stays in b0, unused */
}

/* The leaf for page number pg, created if needed; NULL without memory. */
static rtree_entry_t *rtree_leaf(uintptr_t pg) {
	rtree_node_t *mid = rtree_child((_Atomic(void *) *)
	    &rtree_root[pg >> (2 * RTREE_LG_NODE)]);
	if (mid == NULL)
		return NULL;
	return rtree_child((_Atomic(void *) *)
	    &mid[(pg >> RTREE_LG_NODE) & RTREE_MASK]);
}

int rtree_reserve(const void *addr, size_t size) {
	uintptr_t first = (uintptr_t)addr >> LG_PAGE;
	uintptr_t last = ((uintptr_t)addr + size - 1) >> LG_PAGE;
	if (last >> (RTREE_LG_VA - LG_PAGE))
		return ENOMEM;
	for (uintptr_t pg = first; pg <= last; pg = (pg | RTREE_MASK) + 1) {
		if (rtree_leaf(pg) == NULL)
			return ENOMEM;
	}
	return 0;
}

void rtree_set(const void *addr, void *desc) {
	uintptr_t pg = (uintptr_t)addr >> LG_PAGE;
	rtree_node_t *mid = atomic_load_explicit(
	    &rtree_root[pg >> (2 * RTREE_LG_NODE)], memory_order_acquire);
	rtree_entry_t *leaf = atomic_load_explicit(
	    &mid[(pg >> RTREE_LG_NODE) & RTREE_MASK], memory_order_acquire);
	atomic_store_explicit(&leaf[pg & RTREE_MASK], desc,
	    memory_order_release);
}

void rtree_set_range(const void *addr, size_t size, void *desc) {
	for (size_t off = 0; off < size; off += PAGE)
		rtree_set((const char *)addr + off, desc);
}
