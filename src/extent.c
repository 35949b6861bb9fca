/*
 * extent: the page runs of one arena. Free runs sit in size bins (by the
 * floor page-size class; a bitmap finds the first non-empty bin) and, while
 * dirty, on a dirty list ordered by age. Coalescing looks the neighbours up
 * in the rtree: a free run's first and last pages point at it.
 * Every extern function takes pages_t.lock; static helpers expect it held.
 * The process-wide huge figures (live and peak) are relaxed atomics.
 */
#include "extent.h"
#include "conf.h"
#include "log.h"
#include "os.h"
#include "rtree.h"
#include "sz.h"

#include <errno.h>

static _Atomic uint64_t huge_count, huge_count_peak;
static _Atomic uint64_t huge_bytes, huge_bytes_peak;

/* Raise *peak to v if v is larger. */
static void huge_peak_raise(_Atomic uint64_t *peak, uint64_t v) {
	uint64_t old = atomic_load_explicit(peak, memory_order_relaxed);
	while (old < v && !atomic_compare_exchange_weak_explicit(peak, &old, v,
	    memory_order_relaxed, memory_order_relaxed))
		;
}

/* Account dn huge mappings and db bytes more (or fewer). */
static void huge_account(int64_t dn, int64_t db) {
	uint64_t n = atomic_fetch_add_explicit(&huge_count, (uint64_t)dn,
	    memory_order_relaxed) + (uint64_t)dn;
	uint64_t b = atomic_fetch_add_explicit(&huge_bytes, (uint64_t)db,
	    memory_order_relaxed) + (uint64_t)db;
	huge_peak_raise(&huge_count_peak, n);
	huge_peak_raise(&huge_bytes_peak, b);
}

void extent_huge_stats_get(extent_huge_stats_t *out) {
	out->count = atomic_load_explicit(&huge_count, memory_order_relaxed);
	out->count_peak = atomic_load_explicit(&huge_count_peak,
	    memory_order_relaxed);
	out->bytes = atomic_load_explicit(&huge_bytes, memory_order_relaxed);
	out->bytes_peak = atomic_load_explicit(&huge_bytes_peak,
	    memory_order_relaxed);
}

static unsigned pages_bin_floor(size_t size) {
	unsigned ind = sz_psz2ind(size);
	if (sz_pind2sz(ind) > size)
		ind--;
	return MIN(ind, PAGES_NBINS - 1);
}

static unsigned pages_bin_ceil(size_t size) {
	return MIN(sz_psz2ind(size), PAGES_NBINS - 1);
}

int pages_init(pages_t *p, base_t *base, void *owner) {
	p->base = base;
	p->owner = owner;
	p->dirty.dnext = p->dirty.dprev = &p->dirty;
	return mutex_init(&p->lock, "arena.pages", MUTEX_RANK_ARENA);
}

static extent_t *desc_get_locked(pages_t *p) {
	extent_t *e = p->desc_cache;
	if (e != NULL) {
		p->desc_cache = e->next;
		return e;
	}
	return base_alloc(p->base, sizeof(extent_t), CACHELINE);
}

static void desc_put_locked(pages_t *p, extent_t *e) {
	__atomic_store_n(&e->kind, 0, __ATOMIC_RELAXED);
	e->next = p->desc_cache;
	p->desc_cache = e;
}

extent_t *extent_desc_get(pages_t *p) {
	mutex_lock(&p->lock);
	extent_t *e = desc_get_locked(p);
	mutex_unlock(&p->lock);
	return e;
}

void extent_desc_put(pages_t *p, extent_t *e) {
	mutex_lock(&p->lock);
	desc_put_locked(p, e);
	mutex_unlock(&p->lock);
}

static void dirty_link(pages_t *p, extent_t *e) {
	e->dprev = p->dirty.dprev;
	e->dnext = &p->dirty;
	p->dirty.dprev->dnext = e;
	p->dirty.dprev = e;
	p->stats.dirty += e->ndirty;
}

static void dirty_unlink(pages_t *p, extent_t *e) {
	e->dprev->dnext = e->dnext;
	e->dnext->dprev = e->dprev;
	p->stats.dirty -= e->ndirty;
}

/* Link e into bin b: dirty runs at the head (reused first: no page faults),
 * clean ones after the head. */
static void bin_link(pages_t *p, unsigned b, extent_t *e) {
	extent_t *head = p->bins[b];
	if (head == NULL || e->ndirty != 0 || head->ndirty == 0) {
		e->prev = NULL;
		e->next = head;
		if (head != NULL)
			head->prev = e;
		p->bins[b] = e;
	} else {
		e->prev = head;
		e->next = head->next;
		if (e->next != NULL)
			e->next->prev = e;
		head->next = e;
	}
	p->nonempty |= (uint64_t)1 << b;
}

/* Put free run e into its bin (and the dirty list); register its ends. */
static void run_insert(pages_t *p, extent_t *e) {
	extent_tag(e, EXTENT_FREE, p->owner);
	bin_link(p, pages_bin_floor(e->size), e);
	if (e->ndirty != 0)
		dirty_link(p, e);
	rtree_set((void *)e->addr, e);
	rtree_set((void *)(e->addr + e->size - PAGE), e);
}

/* Take free run e out of its bin and the dirty list; clear its ends. */
static void run_remove(pages_t *p, extent_t *e) {
	unsigned b = pages_bin_floor(e->size);
	if (e->prev != NULL)
		e->prev->next = e->next;
	else
		p->bins[b] = e->next;
	if (e->next != NULL)
		e->next->prev = e->prev;
	if (p->bins[b] == NULL)
		p->nonempty &= ~((uint64_t)1 << b);
	if (e->ndirty != 0)
		dirty_unlink(p, e);
	rtree_set((void *)e->addr, NULL);
	rtree_set((void *)(e->addr + e->size - PAGE), NULL);
}

/* A free run of this arena whose page holds addr, or NULL. The page may be
 * another arena's (whose lock we do not hold): kind and owner are read
 * atomically, and nothing else of a descriptor that is not ours. */
static extent_t *run_neighbour(pages_t *p, uintptr_t addr) {
	extent_t *n = rtree_lookup((void *)addr);
	if (n == NULL ||
	    __atomic_load_n(&n->kind, __ATOMIC_RELAXED) != EXTENT_FREE ||
	    __atomic_load_n(&n->owner, __ATOMIC_RELAXED) != p->owner)
		return NULL;
	return n;
}

/* Fold b (the run right after a) into a; b's descriptor is recycled. */
BM_INLINE void run_absorb(pages_t *p, extent_t *a, extent_t *b) {
	a->nonzero |= b->nonzero;
	if (b->ndirty != 0 && (a->ndirty == 0 ||
	    b->dirty_since < a->dirty_since))
		a->dirty_since = b->dirty_since;
	a->ndirty += b->ndirty;
	a->size += b->size;
	desc_put_locked(p, b);
}

/* Merge the unlisted free run e with free neighbours; returns the result
 * (not yet inserted). */
static extent_t *run_coalesce(pages_t *p, extent_t *e) {
	extent_t *prev = e->addr >= PAGE ? run_neighbour(p, e->addr - PAGE)
	    : NULL;
	if (prev != NULL) {
		run_remove(p, prev);
		run_absorb(p, prev, e);
		e = prev;
	}
	extent_t *next = run_neighbour(p, e->addr + e->size);
	if (next != NULL) {
		run_remove(p, next);
		run_absorb(p, e, next);
	}
	return e;
}

/* A run of at least need bytes in a bin of a class >= need (the last bin
 * holds any size, so it is searched); dirty runs first, so that pages
 * already faulted in are reused before clean ones are touched. */
static extent_t *run_find(pages_t *p, size_t need) {
	uint64_t all = p->nonempty & (~(uint64_t)0 << pages_bin_ceil(need));
	for (uint64_t mask = all; mask != 0; mask &= mask - 1) {
		extent_t *e = p->bins[__builtin_ctzll(mask)];
		if (e->ndirty != 0 && e->size >= need)
			return e;
	}
	for (uint64_t mask = all; mask != 0; mask &= mask - 1) {
		unsigned i = (unsigned)__builtin_ctzll(mask);
		for (extent_t *e = p->bins[i]; e != NULL; e = e->next) {
			if (e->size >= need)
				return e;
		}
	}
	return NULL;
}

/* Unmap every free run (address space is short: a map failed). Returns
 * the bytes unmapped. */
static size_t pages_unmap_free_locked(pages_t *p) {
	size_t total = 0;
	for (unsigned b = 0; b < PAGES_NBINS; b++) {
		while (p->bins[b] != NULL) {
			extent_t *e = p->bins[b];
			run_remove(p, e);
			os_unmap((void *)e->addr, e->size);
			p->stats.mapped -= e->size;
			total += e->size;
			desc_put_locked(p, e);
		}
	}
	return total;
}

size_t pages_unmap_free(pages_t *p) {
	mutex_lock(&p->lock);
	size_t total = pages_unmap_free_locked(p);
	mutex_unlock(&p->lock);
	return total;
}

/* Map size bytes; when address space ran out (ENOMEM) and giving the free
 * runs' address space back frees at least as much, try once more. */
static void *pages_map_retry(pages_t *p, size_t size) {
	void *addr = os_map(size);
	if (addr == NULL && errno == ENOMEM &&
	    pages_unmap_free_locked(p) >= size)
		addr = os_map(size);
	return addr;
}

/* Map a chunk that holds need bytes and list it as a clean free run. */
static extent_t *pages_chunk_map(pages_t *p, size_t need) {
	size_t size = MAX(PAGES_CHUNK, ALIGN_UP(need, PAGES_CHUNK));
	extent_t *e = desc_get_locked(p);
	if (e == NULL)
		return NULL;
	void *addr = pages_map_retry(p, size);
	if (addr == NULL || rtree_reserve(addr, size) != 0) {
		if (addr != NULL)
			os_unmap(addr, size);
		desc_put_locked(p, e);
		return NULL;
	}
	p->stats.mapped += size;
	e->addr = (uintptr_t)addr;
	e->size = size;
	e->ndirty = 0;
	e->nonzero = 0;
	e = run_coalesce(p, e);
	run_insert(p, e);
	return e;
}

/* A freed run (or a part left over from a split) this large asks the
 * kernel how much of it is resident, so that a big block of which the
 * program touched a little does not count (and get purged) as dirty in
 * whole. */
#define PAGES_RESIDENT_MIN ((size_t)1 << 20)

static uint64_t pages_decay_ns(void) {
	return opt_dirty_decay_ms < 0 ? UINT64_MAX
	    : (uint64_t)opt_dirty_decay_ms * 1000000u;
}

/* Dirty bytes an arena may keep before purging at once: dirty_max, or the
 * active bytes, or half their peak, whichever is largest (the decay purges
 * what stays unused); but only a quarter of dirty_max when the active
 * bytes have just fallen below both that and an eighth of their peak (the
 * program freed most of its heap: give the memory back now rather than when
 * it next calls the allocator after the decay time). That tighter bound
 * applies at most once per decay period, so a program whose heap swings
 * (big blocks coming and going) is not purged on every swing. */
static size_t pages_dirty_bound(pages_t *p) {
	size_t active = p->stats.active;
	if (active > p->active_peak)
		p->active_peak = active;
	if (active < p->active_peak / 8 && active < opt_dirty_max / 4) {
		uint64_t now = os_now_ns();
		p->active_peak = active;
		if (now - p->shrunk_at >= pages_decay_ns()) {
			p->shrunk_at = now;
			return opt_dirty_max / 4;
		}
	}
	return MAX(opt_dirty_max, MAX(active, p->active_peak / 2));
}

/* Purge from the oldest dirty run: runs past the decay time, and while
 * the dirty bytes are over bound, down to half of it (bound 0: all). */
static void pages_purge_locked(pages_t *p, size_t bound) {
	uint64_t now = os_now_ns(), decay = pages_decay_ns();
	bool force = bound == 0;
	bool over = p->stats.dirty > bound;
	bool purged = false;
	while (p->dirty.dnext != &p->dirty) {
		extent_t *e = p->dirty.dnext;
		bool aged = now - e->dirty_since >= decay;
		if (!force && !aged && !(over && p->stats.dirty > bound / 2))
			break;
		os_purge_forced((void *)e->addr, e->size);
		dirty_unlink(p, e);
		p->stats.purged += e->ndirty;
		e->ndirty = 0;
		e->nonzero = 0;
		purged = true;
	}
	if (purged)
		p->stats.purge_runs++;
}

static void pages_maybe_purge(pages_t *p) {
	if (p->dirty.dnext == &p->dirty)
		return;
	size_t bound = pages_dirty_bound(p);
	if (p->stats.dirty > bound ||
	    os_now_ns() - p->dirty.dnext->dirty_since >= pages_decay_ns())
		pages_purge_locked(p, MAX(bound, 1));
}

void pages_purge(pages_t *p, bool force) {
	mutex_lock(&p->lock);
	pages_purge_locked(p, force ? 0 : pages_dirty_bound(p));
	mutex_unlock(&p->lock);
}

/* List the part [addr, addr+size) of a run like `from` (its ndirty dirty
 * bytes, nonzero flag and age) as free, in descriptor e; the part keeps at
 * most its size of dirty bytes. */
static void run_put_part(pages_t *p, extent_t *e, uintptr_t addr, size_t size,
    const extent_t *from) {
	size_t ndirty = from->ndirty;
	uint64_t since = from->dirty_since;
	e->nonzero = from->nonzero;
	e->addr = addr;
	e->size = size;
	e->ndirty = MIN(ndirty, size);
	if (ndirty != 0 && size >= PAGES_RESIDENT_MIN)
		e->ndirty = os_resident((void *)addr, size);
	e->dirty_since = since;
	run_insert(p, e);
}

/* Cut [start, start+size) out of the unlisted free run e; the lead and the
 * trail go back to the bins. Needs a spare descriptor when both exist. */
static int run_carve(pages_t *p, extent_t *e, uintptr_t start, size_t size) {
	size_t lead = start - e->addr, trail = e->addr + e->size - start - size;
	uintptr_t end = start + size;
	extent_t *spare = NULL;
	if (lead != 0 && trail != 0 && (spare = desc_get_locked(p)) == NULL) {
		run_insert(p, e);
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
		desc_put_locked(p, e);
	return 0;
}

/* Find or map a run of need bytes and take it out of the lists. */
static extent_t *run_take(pages_t *p, size_t need) {
	extent_t *e = run_find(p, need);
	if (e == NULL)
		e = pages_chunk_map(p, need);
	if (e != NULL)
		run_remove(p, e);
	return e;
}

extent_t *extent_run_alloc(pages_t *p, extent_t *desc, size_t size,
    size_t alignment, extent_kind_t kind, bool *zeroed) {
	size_t need = size + (alignment > PAGE ? alignment - PAGE : 0);
	mutex_lock(&p->lock);
	extent_t *given = desc;
	if (desc == NULL)
		desc = desc_get_locked(p);
	extent_t *e = desc != NULL ? run_take(p, need) : NULL;
	uintptr_t start = e != NULL ? ALIGN_UP(e->addr, MAX(alignment, PAGE)) : 0;
	if (e != NULL)
		*zeroed = !e->nonzero;
	if (e == NULL || run_carve(p, e, start, size) != 0) {
		if (desc != NULL && given == NULL)
			desc_put_locked(p, desc);
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
	p->stats.active += size;
	if (kind == EXTENT_SLAB)
		p->stats.slab += size;
	else
		p->stats.n_large++;
	mutex_unlock(&p->lock);
	return desc;
}

/* Debug builds: the free runs of p are consistent (lock held). Each sits
 * in the bin of its floor size class, whose bit is set; it is a free run of
 * this arena, page-sized, its first and last pages map to it, its dirty
 * bytes do not exceed it; the dirty list holds exactly the runs with dirty
 * bytes, which add up to stats.dirty. */
static void pages_check_locked(pages_t *p) {
	if (!config_debug)
		return;
	size_t dirty = 0;
	for (unsigned b = 0; b < PAGES_NBINS; b++) {
		BM_ASSERT((p->bins[b] != NULL) == ((p->nonempty >> b) & 1));
		for (extent_t *e = p->bins[b]; e != NULL; e = e->next) {
			BM_ASSERT(e->kind == EXTENT_FREE && e->owner == p->owner);
			BM_ASSERT(e->size != 0 && e->size % PAGE == 0);
			BM_ASSERT(pages_bin_floor(e->size) == b);
			BM_ASSERT(e->next == NULL || e->next->prev == e);
			BM_ASSERT(e->ndirty <= e->size);
			BM_ASSERT(rtree_lookup((void *)e->addr) == e);
			BM_ASSERT(rtree_lookup((void *)(e->addr + e->size - PAGE)) == e);
			dirty += e->ndirty;
		}
	}
	size_t listed = 0;
	for (extent_t *e = p->dirty.dnext; e != &p->dirty; e = e->dnext) {
		BM_ASSERT(e->kind == EXTENT_FREE && e->ndirty != 0);
		listed += e->ndirty;
	}
	BM_ASSERT(dirty == p->stats.dirty && listed == p->stats.dirty);
}

/* List [addr, addr+size) as a new dirty free run, merged with neighbours. */
static void run_release(pages_t *p, uintptr_t addr, size_t size) {
	extent_t *f = desc_get_locked(p);
	if (f == NULL) {
		log_warn("out of metadata: %zu bytes at %p leak", size,
		    (void *)addr);
		return;
	}
	f->addr = addr;
	f->size = size;
	f->nonzero = 1;
	f->ndirty = size >= PAGES_RESIDENT_MIN ? os_resident((void *)addr, size)
	    : size;
	f->dirty_since = os_now_ns();
	f = run_coalesce(p, f);
	run_insert(p, f);
	pages_check_locked(p);
	pages_maybe_purge(p);
}

void extent_run_free(pages_t *p, extent_t *desc, bool recycle) {
	mutex_lock(&p->lock);
	if (desc->kind == EXTENT_SLAB)
		rtree_set_range((void *)desc->addr, desc->size, NULL);
	else
		rtree_set((void *)desc->addr, NULL);
	p->stats.active -= desc->size;
	if (desc->kind == EXTENT_SLAB)
		p->stats.slab -= desc->size;
	else
		p->stats.n_large--;
	__atomic_store_n(&desc->kind, 0, __ATOMIC_RELAXED);
	run_release(p, desc->addr, desc->size);
	if (recycle)
		desc_put_locked(p, desc);
	mutex_unlock(&p->lock);
}

int extent_run_grow(pages_t *p, extent_t *desc, size_t new_size) {
	mutex_lock(&p->lock);
	extent_t *n = run_neighbour(p, desc->addr + desc->size);
	if (n == NULL || desc->size + n->size < new_size) {
		mutex_unlock(&p->lock);
		return ENOMEM;
	}
	size_t take = new_size - desc->size;
	run_remove(p, n);
	if (n->size > take)
		run_put_part(p, n, n->addr + take, n->size - take, n);
	else
		desc_put_locked(p, n);
	desc->size = new_size;
	p->stats.active += take;
	mutex_unlock(&p->lock);
	return 0;
}

void extent_run_shrink(pages_t *p, extent_t *desc, size_t new_size) {
	mutex_lock(&p->lock);
	size_t cut = desc->size - new_size;
	desc->size = new_size;
	p->stats.active -= cut;
	run_release(p, desc->addr + new_size, cut);
	mutex_unlock(&p->lock);
}

extent_t *extent_huge_alloc(pages_t *p, size_t size, size_t alignment) {
	extent_t *desc = extent_desc_get(p);
	if (desc == NULL)
		return NULL;
	void *addr = os_map_accounted(size, MAX(alignment, PAGE));
	if (addr == NULL || rtree_reserve(addr, size) != 0) {
		if (addr != NULL)
			os_unmap(addr, size);
		extent_desc_put(p, desc);
		return NULL;
	}
	desc->addr = (uintptr_t)addr;
	desc->size = size;
	extent_tag(desc, EXTENT_HUGE, p->owner);
	rtree_set(addr, desc);
	mutex_lock(&p->lock);
	p->stats.huge += size;
	p->stats.n_huge++;
	mutex_unlock(&p->lock);
	huge_account(1, (int64_t)size);
	return desc;
}

void extent_huge_free(pages_t *p, extent_t *desc) {
	rtree_set((void *)desc->addr, NULL);
	__atomic_store_n(&desc->kind, 0, __ATOMIC_RELAXED);
	os_unmap((void *)desc->addr, desc->size);
	mutex_lock(&p->lock);
	p->stats.huge -= desc->size;
	p->stats.n_huge--;
	huge_account(-1, -(int64_t)desc->size);
	desc_put_locked(p, desc);
	mutex_unlock(&p->lock);
}

int extent_huge_resize(pages_t *p, extent_t *desc, size_t new_size) {
	void *old = (void *)desc->addr;
	void *addr = os_remap(old, desc->size, new_size);
	if (addr == NULL)
		return ENOMEM;
	if (addr != old) {
		if (rtree_reserve(addr, new_size) != 0)
			log_fatal("out of metadata recording a huge run at %p",
			    addr);
		rtree_set(old, NULL);
		rtree_set(addr, desc);
	}
	mutex_lock(&p->lock);
	p->stats.huge += new_size;
	p->stats.huge -= desc->size;
	mutex_unlock(&p->lock);
	huge_account(0, (int64_t)new_size - (int64_t)desc->size);
	desc->addr = (uintptr_t)addr;
	desc->size = new_size;
	return 0;
}

void pages_stats_get(pages_t *p, pages_stats_t *out) {
	mutex_lock(&p->lock);
	*out = p->stats;
	mutex_unlock(&p->lock);
}
