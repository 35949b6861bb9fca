/*
 * rtree: the two-level page map. The root (2 MiB of bss, demand-zero) holds
 * leaf pointers; leaves (2 MiB each) come from b0 and are installed with a
 * CAS, so a lost race wastes one leaf of b0 memory (which is never freed)
 * instead of taking a lock.
 */
#include "rtree.h"
#include "base.h"

#include <errno.h>

_Atomic(rtree_entry_t *) rtree_root[(size_t)1 << RTREE_LG_ROOT];

#define LEAF_ENTRIES ((size_t)1 << RTREE_LG_LEAF)

static rtree_entry_t *rtree_leaf_get(uintptr_t pg) {
	return atomic_load_explicit(&rtree_root[pg >> RTREE_LG_LEAF],
	    memory_order_acquire);
}

static int rtree_leaf_install(uintptr_t pg) {
	if (rtree_leaf_get(pg) != NULL)
		return 0;
	rtree_entry_t *leaf = base_alloc(base_b0(),
	    LEAF_ENTRIES * sizeof(rtree_entry_t), PAGE);
	if (leaf == NULL)
		return ENOMEM;
	rtree_entry_t *expect = NULL;
	atomic_compare_exchange_strong_explicit(&rtree_root[pg >> RTREE_LG_LEAF],
	    &expect, leaf, memory_order_acq_rel, memory_order_acquire);
	return 0;
}

int rtree_reserve(const void *addr, size_t size) {
	uintptr_t first = (uintptr_t)addr >> LG_PAGE;
	uintptr_t last = ((uintptr_t)addr + size - 1) >> LG_PAGE;
	if (last >> (RTREE_LG_VA - LG_PAGE))
		return ENOMEM;
	for (uintptr_t pg = first; pg <= last;
	    pg = (pg | (LEAF_ENTRIES - 1)) + 1) {
		if (rtree_leaf_install(pg) != 0)
			return ENOMEM;
	}
	return 0;
}

void rtree_set(const void *addr, void *desc) {
	uintptr_t pg = (uintptr_t)addr >> LG_PAGE;
	rtree_entry_t *leaf = rtree_leaf_get(pg);
	atomic_store_explicit(&leaf[pg & (LEAF_ENTRIES - 1)], desc,
	    memory_order_release);
}

void rtree_set_range(const void *addr, size_t size, void *desc) {
	for (size_t off = 0; off < size; off += PAGE)
		rtree_set((const char *)addr + off, desc);
}
