/*
 * lookup: what a pointer given back to the allocator is, and what a request
 * takes. The allocation a pointer starts (the rtree, the block test, the
 * double-free key confirmed against the owner's lists and delayed frees),
 * its usable bytes (hardened builds: the size it was asked for, its canary
 * checked), whether a size can be the one it was asked with, and which
 * small class or run serves a request. A bad pointer is reported as
 * "basemalloc: <call>(): <what> 0x..."; abort_on_invalid decides whether
 * that aborts. No locks: the owner alone reads its own lists.
 */
#ifndef BM_LOOKUP_H
#define BM_LOOKUP_H

#include "common.h"
#include "arena.h"
#include "sz.h"

/* Report the bad pointer p given to call: "<call>(): <what> p". */
void lookup_report(const char *call, const char *what, const void *p);
/* The allocation that starts at p, or NULL (reported for call: an invalid
 * pointer or a double free). */
extent_t *lookup_alloc(const void *p, const char *call);
/* The bytes the program may use at p, the start of e's allocation: the
 * class size (hardened builds: the size asked for, its canary checked and
 * an overflow reported for call) or the run's size. */
size_t lookup_usable(const extent_t *e, const void *p, const char *call);
/* malloc_usable_size(p), p not NULL: 0 for a pointer outside basemalloc's
 * memory, unreported (a question about another allocator's block, which
 * mimalloc answers so too); one into its runs that no live block starts
 * is reported as free reports it. */
size_t lookup_usable_query(const void *p);
/* Whether e's allocation at p can have been asked for with size bytes at
 * alignment: size is of its class (hardened small blocks: the very size
 * they recorded; a heap profile's sample: size fits its pages; a block a
 * shrinking realloc kept for want of memory: any smaller size). */
bool lookup_size_fits(const extent_t *e, const void *p, size_t size,
    size_t alignment);

/* The smallest small class >= size whose blocks are aligned to alignment
 * (<= PAGE; slabs are page aligned), or SZ_NSMALL when none. */
BM_INLINE unsigned lookup_small_class(size_t size, size_t alignment) {
	size_t s = ALIGN_UP(size == 0 ? 1 : size, alignment);
	if (s > SZ_SMALL_MAX)
		return SZ_NSMALL;
	for (unsigned ind = sz_size2index(s); ind < SZ_NSMALL; ind++) {
		if ((sz_index2size(ind) & (alignment - 1)) == 0)
			return ind;
	}
	return SZ_NSMALL;
}

/* The small class that serves size bytes at alignment (a power of two >=
 * QUANTUM; hardened builds: with the block's tail), or SZ_NSMALL when the
 * request takes a page run. */
BM_INLINE unsigned lookup_class(size_t size, size_t alignment) {
	size_t tail = config_hardened ? SLAB_TAIL : 0;
	if (alignment > PAGE || size > SZ_SMALL_MAX - tail)
		return SZ_NSMALL;
	return lookup_small_class(size + tail, alignment);
}

/* The usable bytes of the run that serves size bytes at alignment when
 * lookup_class says SZ_NSMALL: a large class, or pages (huge). */
BM_INLINE size_t lookup_run_size(size_t size, size_t alignment) {
	size_t usize = sz_s2u(MAX(size, SZ_SMALL_MAX + 1));
	if (usize < SZ_HUGE_MIN && alignment < SZ_HUGE_MIN)
		return usize;
	return PAGE_CEILING(MAX(size, 1));
}

#endif
