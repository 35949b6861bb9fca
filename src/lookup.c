/*
 * lookup: pointers back to their allocations, sizes back to their classes,
 * and the reports of the bad ones.
 */
#include "lookup.h"
#include "conf.h"
#include "log.h"
#include "rtree.h"
#include "slab.h"
#include "tsd.h"

BM_NOINLINE void lookup_report(const char *call, const char *what,
    const void *p) {
	log_error(opt_abort_on_invalid, "%s(): %s %p", call, what, p);
}

/* Whether p, whose second word holds its slab's free key, is free: certain
 * when the calling thread owns the slab (it walks the slab's lists and the
 * delayed frees), otherwise the key is trusted (a fresh one per slab, so
 * only a copy of a freed block of this very slab can hold it). */
static bool lookup_block_is_free(slab_t *s, const void *p) {
	arena_t *a = tsd_tls.arena;
	if (s->ext.owner != a)
		return true;
	return slab_has_free_block(s, (void *)p) || arena_delayed_has(a, p);
}

/* lookup_alloc for p inside e, the run the rtree maps p to. */
static extent_t *lookup_alloc_in(extent_t *e, const void *p,
    const char *call) {
	if (e->kind == EXTENT_SLAB) {
		slab_t *s = (slab_t *)e;
		if (!slab_block_ok(s, p))
			goto invalid;
		if (((const uintptr_t *)p)[1] == slab_key(s) &&
		    lookup_block_is_free(s, p)) {
			lookup_report(call, "double free or corruption", p);
			return NULL;
		}
		return e;
	}
	if ((e->kind == EXTENT_LARGE || e->kind == EXTENT_HUGE) &&
	    (uintptr_t)p == e->addr)
		return e;
invalid:
	lookup_report(call, "invalid pointer", p);
	return NULL;
}

extent_t *lookup_alloc(const void *p, const char *call) {
	extent_t *e = rtree_lookup(p);
	if (e == NULL) {
		lookup_report(call, "invalid pointer", p);
		return NULL;
	}
	return lookup_alloc_in(e, p, call);
}

size_t lookup_usable_query(const void *p) {
	extent_t *e = rtree_lookup(p);
	if (e == NULL)
		return 0;
	e = lookup_alloc_in(e, p, "malloc_usable_size");
	return e != NULL ? lookup_usable(e, p, "malloc_usable_size") : 0;
}

size_t lookup_usable(const extent_t *e, const void *p, const char *call) {
	if (e->kind != EXTENT_SLAB)
		return e->size - HARDEN_GUARD;
	const slab_t *s = (const slab_t *)e;
	if (!config_hardened)
		return s->block_size;
	size_t n = slab_tail_get(s, p);
	if (n != SIZE_MAX)
		return n;
	lookup_report(call, "overflow past the end of", p);
	return s->block_size - SLAB_TAIL;
}

bool lookup_size_fits(const extent_t *e, const void *p, size_t size,
    size_t alignment) {
	if (!IS_POW2(alignment))
		return false;
	unsigned ind = lookup_class(size, alignment);
	size_t need = lookup_run_size(size, alignment);
	if (__atomic_load_n(&e->shrunk, __ATOMIC_RELAXED) &&
	    ((uintptr_t)p & (alignment - 1)) == 0 && (e->kind == EXTENT_SLAB ?
	    !config_hardened && ind < e->szind :
	    size <= e->size - HARDEN_GUARD))  /* a kept shrink (alloc.c) */
		return true;
	if (e->kind != EXTENT_SLAB && e->prof_id != 0)  /* a heap profile
	                                  * sample: pages for any size */
		return PAGE_CEILING(MAX(size, 1)) + HARDEN_GUARD <= e->size;
	if (e->kind == EXTENT_HUGE)  /* or the arena's spare: up to twice */
		return ind == SZ_NSMALL && need + HARDEN_GUARD <= e->size &&
		    e->size <= 2 * (need + HARDEN_GUARD);
	if (e->kind != EXTENT_SLAB)
		return ind == SZ_NSMALL && need + HARDEN_GUARD == e->size;
	const slab_t *s = (const slab_t *)e;
	if (config_hardened) {
		size_t n = slab_tail_get(s, p);
		return n == size || n == SIZE_MAX;  /* the free reports that */
	}
	return ind == s->ext.szind;
}
