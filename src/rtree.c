/*
 * rtree: the two-level page map. The root and the all-zero leaf are bss
 * (read-only touched: the zero leaf is never written). Leaves are mapped
 * from the OS on demand, without huge pages: a leaf is 8 MiB of address
 * space of which only the pages covering our runs are ever written, so a
 * huge page (or a base block, which may be one) would make all of it
 * resident. A leaf is installed with a CAS; the loser unmaps its own.
 * No locks.
 */
#include "rtree.h"
#include "log.h"
#include "os.h"

#include <errno.h>

rtree_t rtree;

#define RTREE_LEAF_BYTES (sizeof(rtree_entry_t) << RTREE_LG_LEAF)

static _Atomic size_t rtree_leaves;

/* The root slot of page number pg. */
static _Atomic intptr_t *rtree_slot(uintptr_t pg) {
	return &rtree.root[(pg >> RTREE_LG_LEAF) &
	    (((uintptr_t)1 << RTREE_LG_ROOT) - 1)];
}

/* The leaf holding page number pg, mapping it if needed; NULL without
 * memory. */
static rtree_entry_t *rtree_leaf(uintptr_t pg) {
	_Atomic intptr_t *slot = rtree_slot(pg);
	intptr_t off = atomic_load_explicit(slot, memory_order_acquire);
	if (off != 0)
		return (rtree_entry_t *)((uintptr_t)rtree.none + (uintptr_t)off);
	void *leaf = os_map(RTREE_LEAF_BYTES);
	if (leaf == NULL)
		return NULL;
	os_nohuge(leaf, RTREE_LEAF_BYTES);
	intptr_t mine = (intptr_t)((uintptr_t)leaf - (uintptr_t)rtree.none);
	if (atomic_compare_exchange_strong_explicit(slot, &off, mine,
	    memory_order_acq_rel, memory_order_acquire)) {
		atomic_fetch_add_explicit(&rtree_leaves, 1, memory_order_relaxed);
		return leaf;
	}
	os_unmap(leaf, RTREE_LEAF_BYTES);   /* lost the race */
	return (rtree_entry_t *)((uintptr_t)rtree.none + (uintptr_t)off);
}

int rtree_reserve(const void *addr, size_t size) {
	uintptr_t first = (uintptr_t)addr >> LG_PAGE;
	uintptr_t last = ((uintptr_t)addr + size - 1) >> LG_PAGE;
	uintptr_t span = (uintptr_t)1 << RTREE_LG_LEAF;
	if (last >> (RTREE_LG_VA - LG_PAGE) || last < first)
		return ENOMEM;
	for (uintptr_t pg = first; pg <= last; pg = (pg | (span - 1)) + 1) {
		if (rtree_leaf(pg) == NULL)
			return ENOMEM;
	}
	return 0;
}

/* Store v in the entry of page number pg (its leaf exists). */
static void rtree_store(uintptr_t pg, uintptr_t v) {
	intptr_t off = atomic_load_explicit(rtree_slot(pg),
	    memory_order_acquire);
	BM_ASSERT(off != 0);
	rtree_entry_t *leaf = (rtree_entry_t *)((uintptr_t)rtree.none +
	    (uintptr_t)off);
	atomic_store_explicit(&leaf[pg & (((uintptr_t)1 << RTREE_LG_LEAF) - 1)],
	    v, memory_order_release);
}

/* What an entry holds for desc (see rtree.h). */
static uintptr_t rtree_value(const void *desc) {
	return desc != NULL ? (uintptr_t)desc - (uintptr_t)rtree.nothing : 0;
}

void rtree_set(const void *addr, void *desc) {
	rtree_store((uintptr_t)addr >> LG_PAGE, rtree_value(desc));
}

void rtree_set_range(const void *addr, size_t size, void *desc) {
	uintptr_t v = rtree_value(desc);
	uintptr_t pg = (uintptr_t)addr >> LG_PAGE;
	for (size_t off = 0; off < size; off += PAGE)
		rtree_store(pg++, v);
}

size_t rtree_mapped(void) {
	return atomic_load_explicit(&rtree_leaves, memory_order_relaxed) *
	    RTREE_LEAF_BYTES;
}
