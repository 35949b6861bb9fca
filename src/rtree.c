/*
 * rtree: the two-level page map. The root and the all-zero leaf are static,
 * read-only zero pages (section .bm_zero, see rtree.h); the root is made
 * writable at boot, the zero leaf is never written. Leaves are mapped from the OS on
 * demand, read-only and without huge pages: a leaf is 8 MiB of address
 * space of which only the pages covering our runs are made writable (when
 * the runs' space is reserved) and ever written, so a huge page (or a base
 * block, which may be one) would make all of it resident, and a writable
 * mapping would count all of it against RLIMIT_DATA. A leaf is installed
 * with a CAS; the loser unmaps its own. No locks.
 */
#include "rtree.h"
#include "log.h"
#include "os.h"

#include <errno.h>

#define RTREE_STR(x) RTREE_STR_(x)
#define RTREE_STR_(x) #x
__asm__(".pushsection .bm_zero,\"a\",@nobits\n\t"
    ".balign 4096\n\t"
    ".globl rtree\n\t.hidden rtree\n\t.type rtree, @object\n"
    "rtree:\n\t.zero " RTREE_STR(RTREE_STATIC_BYTES) "\n\t"
    ".size rtree, . - rtree\n\t.popsection");
_Static_assert(sizeof(rtree_t) == (RTREE_STATIC_BYTES), "rtree's size");

#define RTREE_LEAF_BYTES (sizeof(rtree_entry_t) << RTREE_LG_LEAF)

static _Atomic size_t rtree_leaves;

int rtree_boot(void) {
	return os_commit(rtree.root, sizeof(rtree.root)) == 0 ? 0 : ENOMEM;
}

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
	void *leaf = os_map_readonly(RTREE_LEAF_BYTES);
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

/* Make writable the pages of leaf holding the entries of page numbers
 * first..last (one leaf's). Leaves are mapped read-only, so that only the
 * few pages of a leaf that describe our runs count as the process's data
 * (RLIMIT_DATA, VmData), not its 8 MiB. Idempotent; racing callers agree. */
static int rtree_commit(rtree_entry_t *leaf, uintptr_t first, uintptr_t last) {
	uintptr_t mask = ((uintptr_t)1 << RTREE_LG_LEAF) - 1;
	uintptr_t lo = (uintptr_t)&leaf[first & mask] & ~(uintptr_t)(PAGE - 1);
	uintptr_t hi = ((uintptr_t)&leaf[last & mask] | (PAGE - 1)) + 1;
	return os_commit((void *)lo, hi - lo);
}

int rtree_reserve(const void *addr, size_t size) {
	uintptr_t first = (uintptr_t)addr >> LG_PAGE;
	uintptr_t last = ((uintptr_t)addr + size - 1) >> LG_PAGE;
	uintptr_t span = (uintptr_t)1 << RTREE_LG_LEAF;
	if (last >> (RTREE_LG_VA - LG_PAGE) || last < first)
		return ENOMEM;
	for (uintptr_t pg = first; pg <= last; pg = (pg | (span - 1)) + 1) {
		rtree_entry_t *leaf = rtree_leaf(pg);
		uintptr_t end = (pg | (span - 1)) < last ? (pg | (span - 1)) : last;
		if (leaf == NULL || rtree_commit(leaf, pg, end) != 0)
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
