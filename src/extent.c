/*
 * extent: runs for slabs and large allocations, carved out of the free
 * runs. Carving lists the lead and the trail of the free run again, each
 * with the part of the run's dirty span inside it (a split cuts the span
 * exactly, as old as the run). Short of address space, mapping a chunk
 * gives the free runs' address space back and tries again, then halves the
 * chunk down to the need. Under a limit from the start, chunks start small.
 * Every extern function takes pages_t.lock; static helpers expect it held.
 */
#include "extent.h"
#include "os.h"
#include "purge.h"
#include "rtree.h"

#include <errno.h>

/* Map size bytes; when address space ran out (ENOMEM) and giving the free
 * runs' address space back frees at least as much, try once more. */
static void *pages_map_retry(pages_t *p, size_t size) {
	void *addr = os_map(size);
	if (addr == NULL && errno == ENOMEM &&
	    pages_unmap_free_locked(p) >= size)
		addr = os_map(size);
	return addr;
}

/* The chunk to map for need bytes (a multiple of PAGE): PAGES_CHUNK, or a
 * multiple of it. In a process started under a limit on its address space
 * or data (ulimit -v, -d) as many bytes as p has mapped, from
 * PAGES_CHUNK_MIN up to PAGES_CHUNK (chunks double), or need. */
static size_t pages_chunk_size(const pages_t *p, size_t need) {
	if (!os_space_limited())
		return MAX(PAGES_CHUNK, ALIGN_UP(need, PAGES_CHUNK));
	size_t size = MAX(PAGES_CHUNK_MIN, PAGE_CEILING(p->stats.mapped));
	return MAX(MIN(size, PAGES_CHUNK), need);
}

/* Map a chunk that holds need bytes (a multiple of PAGE) and list it as a
 * clean free run; short of address space (ENOMEM), halves down to need. */
static extent_t *pages_chunk_map(pages_t *p, size_t need) {
	size_t size = pages_chunk_size(p, need);
	extent_t *e = pages_desc_get_locked(p);
	if (e == NULL)
		return NULL;
	void *addr = pages_map_retry(p, size);
	while (addr == NULL && errno == ENOMEM && size > need) {
		size = MAX(need, PAGE_CEILING(size / 2));
		addr = os_map(size);
	}
	if (addr == NULL || rtree_reserve(addr, size) != 0) {
		if (addr != NULL)
			os_unmap(addr, size);
		pages_desc_put_locked(p, e);
		return NULL;
	}
	p->stats.mapped += size;
	e->addr = (uintptr_t)addr;
	e->size = size;
	extent_set_clean(e);
	e = pages_coalesce_locked(p, e);
	pages_insert_locked(p, e);
	return e;
}

/* List the part [addr, addr+size) of the run `from` as free, in descriptor
 * e: its dirty span is the part of from's inside it, as old. */
static void run_put_part(pages_t *p, extent_t *e, uintptr_t addr, size_t size,
    const extent_t *from) {
	uintptr_t lo = MAX(from->dlo, addr), hi = MIN(from->dhi, addr + size);
	e->dirty_since = from->dirty_since;
	e->dlo = lo < hi ? lo : 0;
	e->dhi = lo < hi ? hi : 0;
	e->addr = addr;
	e->size = size;
	pages_insert_locked(p, e);
}

/* Cut [start, start+size) out of the unlisted free run e; the lead and the
 * trail go back to the bins. Needs a spare descriptor when both exist. */
static int run_carve(pages_t *p, extent_t *e, uintptr_t start, size_t size) {
	size_t lead = start - e->addr, trail = e->addr + e->size - start - size;
	uintptr_t end = start + size;
	extent_t *spare = NULL;
	if (lead != 0 && trail != 0 &&
	    (spare = pages_desc_get_locked(p)) == NULL) {
		pages_insert_locked(p, e);
		return ENOMEM;
	}
	extent_t from = *e;
	if (lead != 0) {
		run_put_part(p, e, from.addr, lead, &from);
		e = spare;
	}
	if (trail != 0)
		run_put_part(p, e, end, trail, &from);
	else if (lead == 0)
		pages_desc_put_locked(p, e);
	return 0;
}

/* Where in the free run e (at least size bytes once aligned) a run of size
 * bytes aligned to align goes: over e's dirty pages when it has some (they
 * are likely resident: no page faults), else at its start. A slab in a run
 * bigger than a chunk (a chunk just mapped for it, merged with the free run
 * next to it) goes at the start: new chunks are mapped below older ones. */
static uintptr_t run_place(const extent_t *e, size_t size, size_t align,
    extent_kind_t kind) {
	uintptr_t first = ALIGN_UP(e->addr, align);
	if (extent_dirty_bytes(e) == 0 ||
	    (kind == EXTENT_SLAB && e->size > PAGES_CHUNK))
		return first;
	uintptr_t at = ALIGN_DOWN(MIN(e->dlo, e->addr + e->size - size), align);
	return at > first ? at : first;
}

/* Find or map a run of need bytes and take it out of the lists. Slabs live
 * long (as long as one of their blocks): one is not cut out of a free run
 * bigger than a chunk, which a big request would want whole again; a chunk
 * is mapped for it instead. */
static extent_t *run_take(pages_t *p, size_t need, extent_kind_t kind) {
	extent_t *e = pages_find_locked(p, need,
	    kind == EXTENT_SLAB ? PAGES_CHUNK : SIZE_MAX);
	if (e == NULL)
		e = pages_chunk_map(p, need);
	if (e != NULL)
		pages_remove_locked(p, e);
	return e;
}

extent_t *extent_run_alloc(pages_t *p, extent_t *desc, size_t size,
    size_t alignment, extent_kind_t kind, bool *zeroed) {
	size_t need = size + (alignment > PAGE ? alignment - PAGE : 0);
	mutex_lock(&p->lock);
	extent_t *given = desc;
	if (desc == NULL)
		desc = pages_desc_get_locked(p);
	extent_t *e = desc != NULL ? run_take(p, need, kind) : NULL;
	uintptr_t start = e != NULL ? run_place(e, size, MAX(alignment, PAGE),
	    kind) : 0;
	if (e != NULL)
		*zeroed = !(start < e->dhi && e->dlo < start + size);
	if (e == NULL || run_carve(p, e, start, size) != 0) {
		if (desc != NULL && given == NULL)
			pages_desc_put_locked(p, desc);
		mutex_unlock(&p->lock);
		return NULL;
	}
	desc->addr = start;
	desc->size = size;
	extent_tag(desc, kind, p->owner);
	if (kind == EXTENT_SLAB)
		rtree_set_range((void *)start, size, desc);
	else
		rtree_set((void *)start, desc);
	pages_stat_set(&p->stats.active, p->stats.active + size);
	if (kind == EXTENT_SLAB)
		p->stats.slab += size;
	else
		p->stats.n_large++;
	purge_note_active_locked(p);
	mutex_unlock(&p->lock);
	return desc;
}

void extent_run_free(pages_t *p, extent_t *desc, bool recycle) {
	mutex_lock(&p->lock);
	if (desc->kind == EXTENT_SLAB)
		rtree_set_range((void *)desc->addr, desc->size, NULL);
	else
		rtree_set((void *)desc->addr, NULL);
	pages_stat_set(&p->stats.active, p->stats.active - desc->size);
	if (desc->kind == EXTENT_SLAB)
		p->stats.slab -= desc->size;
	else
		p->stats.n_large--;
	__atomic_store_n(&desc->kind, 0, __ATOMIC_RELAXED);
	purge_freed_locked(p, desc->addr, desc->size);
	if (recycle)
		pages_desc_put_locked(p, desc);
	mutex_unlock(&p->lock);
}

int extent_run_grow(pages_t *p, extent_t *desc, size_t new_size) {
	mutex_lock(&p->lock);
	extent_t *n = pages_neighbour_locked(p, desc->addr + desc->size);
	if (n == NULL || desc->size + n->size < new_size) {
		mutex_unlock(&p->lock);
		return ENOMEM;
	}
	size_t take = new_size - desc->size;
	pages_remove_locked(p, n);
	if (n->size > take)
		run_put_part(p, n, n->addr + take, n->size - take, n);
	else
		pages_desc_put_locked(p, n);
	desc->size = new_size;
	pages_stat_set(&p->stats.active, p->stats.active + take);
	purge_note_active_locked(p);
	mutex_unlock(&p->lock);
	return 0;
}

void extent_run_shrink(pages_t *p, extent_t *desc, size_t new_size) {
	mutex_lock(&p->lock);
	size_t cut = desc->size - new_size;
	desc->size = new_size;
	pages_stat_set(&p->stats.active, p->stats.active - cut);
	purge_freed_locked(p, desc->addr + new_size, cut);
	mutex_unlock(&p->lock);
}
