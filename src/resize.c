/*
 * resize: realloc's in-place half, a block resized where it is: a small
 * block that keeps its class, a large run shrunk or grown over its free
 * neighbours, a huge mapping by mremap. No locks of its own (the arena's
 * page lock is taken by extent and huge).
 */
#include "resize.h"
#include "bg.h"
#include "extent.h"
#include "harden.h"
#include "huge.h"
#include "lookup.h"
#include "slab.h"

#include <errno.h>
#include <string.h>

/* Hardened builds: block p of s now holds size bytes: move its canary and
 * zero what a shrink cut off (a free zeroes only the bytes up to it). */
void resize_small_tail(slab_t *s, void *p, size_t size) {
	size_t old = lookup_usable(&s->ext, p, "realloc");
	size_t from = MIN(old, size);  /* bytes past the new size read as 0 */
	memset((char *)p + from, 0, old - from + sizeof(uint64_t));
	slab_tail_set(s, p, size);
}

/* Resize small block p of s in place if size keeps its class; else NULL. */
static void *resize_small_in_place(slab_t *s, void *p, size_t size) {
	if (lookup_class(size, QUANTUM) != s->ext.szind)
		return NULL;
	if (config_hardened)
		resize_small_tail(s, p, size);
	return p;
}

/* Resize e's allocation in place (or, for huge, by mremap); returns the
 * new address or NULL when it has to move by copying. Hardened builds move
 * runs: a kept guarded run costs less than moving a guard page. */
void *resize_in_place(extent_t *e, void *p, size_t size) {
	if (e->kind == EXTENT_SLAB)
		return resize_small_in_place((slab_t *)e, p, size);
	if (lookup_class(size, QUANTUM) != SZ_NSMALL)
		return NULL;
	arena_t *a = e->owner;
	if (config_hardened)
		return lookup_run_size(size, QUANTUM) + HARDEN_GUARD == e->size ?
		    p : NULL;
	if (e->kind == EXTENT_LARGE) {
		size_t usize = sz_s2u(size);
		if (usize >= SZ_HUGE_MIN)
			return NULL;
		if (usize < e->size) {
			extent_run_shrink(&a->pages, e, usize);
			bg_wake();
		} else if (usize > e->size &&
		    extent_run_grow(&a->pages, e, usize) != 0)
			return NULL;
		return p;
	}
	if (size < SZ_HUGE_MIN)
		return NULL;
	size_t usize = PAGE_CEILING(size);
	if (usize == e->size)
		return p;
	int saved = errno;
	if (huge_resize(&a->pages, e, usize) == 0)
		return (void *)e->addr;
	/* A shrink the kernel refused (too many mappings to cut this one)
	 * keeps the block as it is, as glibc does. */
	errno = saved;
	return usize < e->size ? p : NULL;
}

