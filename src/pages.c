/*
 * pages: the free runs of one arena. Free runs sit in size bins (by the
 * floor page-size class; a bitmap finds the first non-empty bin) and, while
 * dirty, on a dirty list ordered by age. Coalescing looks the neighbours up
 * in the rtree: a free run's first and last pages point at it. A run's dirty
 * span is an upper bound (merging two runs spans both dirty parts and what
 * lies between); splitting cuts it exactly (see extent). A freed run of 1
 * MiB or more asks the kernel once which of its pages are resident.
 * Functions named _locked expect pages_t.lock held; static helpers too.
 */
#include "pages.h"
#include "log.h"
#include "os.h"
#include "rtree.h"
#include "sz.h"

/* The registry of every pages_t (they are never destroyed). */
static _Atomic(pages_t *) pages_reg;
static _Atomic unsigned pages_nreg;

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
	p->peak_at = os_now_ns();
	int err = mutex_init(&p->lock, "arena.pages", MUTEX_RANK_ARENA);
	if (err != 0)
		return err;
	pages_t *head = atomic_load_explicit(&pages_reg, memory_order_relaxed);
	do {
		p->reg_next = head;
	} while (!atomic_compare_exchange_weak_explicit(&pages_reg, &head, p,
	    memory_order_release, memory_order_relaxed));
	atomic_fetch_add_explicit(&pages_nreg, 1, memory_order_relaxed);
	return 0;
}

pages_t *pages_registry(void) {
	return atomic_load_explicit(&pages_reg, memory_order_acquire);
}

unsigned pages_registered(void) {
	return atomic_load_explicit(&pages_nreg, memory_order_relaxed);
}

extent_t *pages_desc_get_locked(pages_t *p) {
	extent_t *e = p->desc_cache;
	if (e != NULL) {
		p->desc_cache = e->next;
		return e;
	}
	return base_alloc(p->base, sizeof(extent_t), CACHELINE);
}

void pages_desc_put_locked(pages_t *p, extent_t *e) {
	__atomic_store_n(&e->kind, 0, __ATOMIC_RELAXED);
	e->next = p->desc_cache;
	p->desc_cache = e;
}

extent_t *pages_desc_get(pages_t *p) {
	mutex_lock(&p->lock);
	extent_t *e = pages_desc_get_locked(p);
	mutex_unlock(&p->lock);
	return e;
}

void pages_desc_put(pages_t *p, extent_t *e) {
	mutex_lock(&p->lock);
	pages_desc_put_locked(p, e);
	mutex_unlock(&p->lock);
}

/* Steps the dirty list is searched back from its newest end for e's place
 * (a run that merged older ones may be older than the newest). */
#define PAGES_DIRTY_SEARCH 16

static void dirty_link(pages_t *p, extent_t *e) {
	extent_t *at = p->dirty.dprev;
	for (unsigned i = 0; i < PAGES_DIRTY_SEARCH && at != &p->dirty &&
	    at->dirty_since > e->dirty_since; i++)
		at = at->dprev;
	e->dprev = at;
	e->dnext = at->dnext;
	at->dnext->dprev = e;
	at->dnext = e;
	pages_stat_set(&p->stats.dirty, p->stats.dirty + extent_dirty_bytes(e));
}

static void dirty_unlink(pages_t *p, extent_t *e) {
	e->dprev->dnext = e->dnext;
	e->dnext->dprev = e->dprev;
	pages_stat_set(&p->stats.dirty, p->stats.dirty - extent_dirty_bytes(e));
}

/* Link e into bin b: dirty runs at the head (reused first: no page faults),
 * clean ones after the head. */
static void bin_link(pages_t *p, unsigned b, extent_t *e) {
	extent_t *head = p->bins[b];
	if (head == NULL || extent_dirty_bytes(e) != 0 ||
	    extent_dirty_bytes(head) == 0) {
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
void pages_insert_locked(pages_t *p, extent_t *e) {
	extent_tag(e, EXTENT_FREE, p->owner);
	bin_link(p, pages_bin_floor(e->size), e);
	if (extent_dirty_bytes(e) != 0)
		dirty_link(p, e);
	rtree_set((void *)e->addr, e);
	rtree_set((void *)(e->addr + e->size - PAGE), e);
}

/* Take free run e out of its bin and the dirty list; clear its ends. */
void pages_remove_locked(pages_t *p, extent_t *e) {
	unsigned b = pages_bin_floor(e->size);
	if (e->prev != NULL)
		e->prev->next = e->next;
	else
		p->bins[b] = e->next;
	if (e->next != NULL)
		e->next->prev = e->prev;
	if (p->bins[b] == NULL)
		p->nonempty &= ~((uint64_t)1 << b);
	if (extent_dirty_bytes(e) != 0)
		dirty_unlink(p, e);
	rtree_set((void *)e->addr, NULL);
	rtree_set((void *)(e->addr + e->size - PAGE), NULL);
}

/* A free run of this arena whose page holds addr, or NULL. The page may be
 * another arena's (whose lock we do not hold): kind and owner are read
 * atomically, and nothing else of a descriptor that is not ours. */
extent_t *pages_neighbour_locked(pages_t *p, uintptr_t addr) {
	extent_t *n = rtree_lookup((void *)addr);
	if (n == NULL ||
	    __atomic_load_n(&n->kind, __ATOMIC_RELAXED) != EXTENT_FREE ||
	    __atomic_load_n(&n->owner, __ATOMIC_RELAXED) != p->owner)
		return NULL;
	return n;
}

/* Fold b (the free run right after a) into a; b's descriptor is recycled.
 * The dirty span covers both; it is as old as its dirty bytes on average. */
static void run_absorb(pages_t *p, extent_t *a, extent_t *b) {
	size_t na = extent_dirty_bytes(a), nb = extent_dirty_bytes(b);
	if (na == 0) {
		a->dlo = b->dlo;
		a->dirty_since = b->dirty_since;
	} else if (nb != 0) {
		double w = (double)nb / (double)(na + nb);
		double since = (double)a->dirty_since +
		    ((double)b->dirty_since - (double)a->dirty_since) * w;
		a->dirty_since = (uint64_t)since;
	}
	if (nb != 0)
		a->dhi = b->dhi;
	a->size += b->size;
	pages_desc_put_locked(p, b);
}

/* Merge the unlisted free run e with its free neighbours; returns the
 * result (not yet inserted). */
extent_t *pages_coalesce_locked(pages_t *p, extent_t *e) {
	extent_t *prev = e->addr >= PAGE ?
	    pages_neighbour_locked(p, e->addr - PAGE) : NULL;
	if (prev != NULL) {
		pages_remove_locked(p, prev);
		run_absorb(p, prev, e);
		e = prev;
	}
	extent_t *next = pages_neighbour_locked(p, e->addr + e->size);
	if (next != NULL) {
		pages_remove_locked(p, next);
		run_absorb(p, e, next);
	}
	return e;
}

/* Runs of a bin looked at for a dirty one that fits before taking a clean
 * one (dirty runs sit at the head of their bin). */
#define PAGES_FIND_DIRTY 8

static bool pages_run_fits(const extent_t *e, size_t need, size_t max) {
	return e->size >= need && e->size <= max;
}

/* A run of at least need bytes and at most max: the first dirty run met
 * going up from the smallest size class that has one, else the first clean
 * one (best fit by class: a small request does not split a big free run
 * that a big request will want again). A dirty run of a bigger class wins
 * over a clean run of a smaller one: its pages are already faulted in,
 * while the clean run's would be faulted in anew and the dirty ones kept
 * resident beside them. Past the first class with a fit only the heads of
 * the next PAGES_FIND_DIRTY non-empty bins are looked at (dirty runs are
 * linked at the head), and in that class at most PAGES_FIND_DIRTY runs, so
 * the search stays short. The last bin
 * holds any size, so it is searched. */
extent_t *pages_find_locked(pages_t *p, size_t need, size_t max) {
	uint64_t all = p->nonempty & (~(uint64_t)0 << pages_bin_ceil(need));
	if (max < SIZE_MAX)
		all &= ~(uint64_t)0 >> (63 - pages_bin_floor(max));

	extent_t *fit = NULL;
	unsigned heads = 0;
	for (uint64_t mask = all; mask != 0; mask &= mask - 1) {
		extent_t *e = p->bins[__builtin_ctzll(mask)];
		if (fit != NULL) {
			if (++heads > PAGES_FIND_DIRTY)
				break;
			if (extent_dirty_bytes(e) != 0 &&
			    pages_run_fits(e, need, max))
				return e;
			continue;
		}
		for (unsigned n = 0; e != NULL; e = e->next, n++) {
			if (!pages_run_fits(e, need, max))
				continue;
			if (extent_dirty_bytes(e) != 0 || n >= PAGES_FIND_DIRTY)
				return e;
			if (fit == NULL)
				fit = e;
		}
	}
	return fit;
}

/* Give the spare up (lock held); the caller unmaps what it returns. */
extent_t *pages_spare_drop_locked(pages_t *p) {
	extent_t *s = p->huge_spare;
	if (s != NULL) {
		p->huge_spare = NULL;
		p->stats.spare = 0;
		p->stats.mapped -= s->size;
	}
	return s;
}

/* The spare s was unmapped with result err (lock held): its descriptor goes
 * back to the cache, and a mapping the kernel kept (ENOMEM at its limit on
 * mappings) becomes free pages of the arena instead of a silent leak. */
void pages_spare_unmapped_locked(pages_t *p, extent_t *s, int err) {
	pages_desc_put_locked(p, s);
	if (err != 0) {
		p->stats.mapped += s->size;
		pages_list_freed_locked(p, s->addr, s->size);
	}
}

/* Unmap every free run (a map failed); one the kernel refuses (ENOMEM at
 * its limit on mappings) stays listed. Returns the bytes unmapped. */
size_t pages_unmap_free_locked(pages_t *p) {
	size_t total = 0;
	for (unsigned b = 0; b < PAGES_NBINS; b++) {
		for (extent_t *e = p->bins[b], *next; e != NULL; e = next) {
			next = e->next;
			if (os_unmap((void *)e->addr, e->size) != 0)
				continue;
			pages_remove_locked(p, e);
			p->stats.mapped -= e->size;
			total += e->size;
			pages_desc_put_locked(p, e);
		}
	}
	extent_t *spare = pages_spare_drop_locked(p);
	if (spare != NULL) {
		int err = os_unmap((void *)spare->addr, spare->size);
		total += err == 0 ? spare->size : 0;
		pages_spare_unmapped_locked(p, spare, err);
	}
	return total;
}

size_t pages_unmap_free(pages_t *p) {
	mutex_lock(&p->lock);
	size_t total = pages_unmap_free_locked(p);
	mutex_unlock(&p->lock);
	return total;
}

/* Debug builds: the free runs of p are consistent (lock held). Each sits
 * in the bin of its floor size class, whose bit is set; it is a free run of
 * this arena, page-sized, its first and last pages map to it, its dirty
 * span lies inside it; the dirty list holds exactly the runs with a dirty
 * span, and the spans add up to stats.dirty. */
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
			BM_ASSERT(rtree_lookup((void *)e->addr) == e);
			BM_ASSERT(rtree_lookup((void *)(e->addr + e->size - PAGE)) == e);
			BM_ASSERT(extent_dirty_bytes(e) == 0 ||
			    (e->dlo >= e->addr && e->dhi <= e->addr + e->size &&
			    e->dlo < e->dhi));
			dirty += extent_dirty_bytes(e);
		}
	}
	size_t listed = 0;
	for (extent_t *e = p->dirty.dnext; e != &p->dirty; e = e->dnext) {
		BM_ASSERT(e->kind == EXTENT_FREE && extent_dirty_bytes(e) != 0);
		listed += extent_dirty_bytes(e);
	}
	BM_ASSERT(dirty == p->stats.dirty && listed == p->stats.dirty);
}

/* A freed run this large asks the kernel, once, which of its pages are
 * resident, so that its dirty span covers what the program touched (a big
 * buffer of which it wrote the start) rather than the whole run. */
#define PAGES_RESIDENT_MIN ((size_t)1 << 20)
/* The resident pages of a freed run give its dirty span as their hull when
 * they fill at least this fraction (1/n) of it. */
#define PAGES_TOUCHED_DENSE 4
/* Pages asked about per call (the vector is on the stack). */
#define PAGES_RESIDENT_BATCH ((size_t)2048)

typedef struct {
	uintptr_t lo, hi;          /* hull of the resident pages */
	uintptr_t best_lo, best_hi;/* the largest stretch of them */
	size_t count;              /* resident bytes */
} pages_touched_t;

/* Add pages [at, at+n*PAGE) of the freed run, as vec says, to t; cur_lo is
 * where the current stretch began (0: none). */
static void pages_touched_add(pages_touched_t *t, uintptr_t at,
    const unsigned char *vec, size_t n, uintptr_t *cur_lo) {
	for (size_t i = 0; i < n; i++, at += PAGE) {
		if (!vec[i]) {
			*cur_lo = 0;
			continue;
		}
		if (*cur_lo == 0)
			*cur_lo = at;
		if (t->count == 0)
			t->lo = at;
		t->hi = at + PAGE;
		t->count += PAGE;
		if (at + PAGE - *cur_lo > t->best_hi - t->best_lo) {
			t->best_lo = *cur_lo;
			t->best_hi = at + PAGE;
		}
	}
}

/* Discard the pages [lo, hi) of a freed run; 0, or the kernel's error. */
static int run_discard(uintptr_t lo, uintptr_t hi) {
	return lo < hi ? os_purge_forced((void *)lo, hi - lo) : 0;
}

/* The dirty span of the freed run [addr, addr+size): the hull of its
 * resident pages when they fill at least a quarter of it, else their largest
 * stretch; none when none is resident. The pages outside it are discarded
 * now (they are free: nothing is lost): resident ones, and those mincore
 * calls not resident, which read as zero only once discarded (a page
 * swapped out is not resident, yet keeps its bytes). The whole run when
 * the kernel cannot tell or refuses to discard. */
static void run_touched_span(pages_t *p, extent_t *f) {
	unsigned char vec[PAGES_RESIDENT_BATCH];
	pages_touched_t t = { 0, 0, 0, 0, 0 };
	uintptr_t cur = 0, end = f->addr + f->size;
	for (uintptr_t at = f->addr; at < end;
	    at += PAGES_RESIDENT_BATCH * PAGE) {
		size_t n = MIN(PAGES_RESIDENT_BATCH, (end - at) / PAGE);
		if (os_resident_pages((void *)at, n, vec) != 0)
			return;
		pages_touched_add(&t, at, vec, n, &cur);
	}
	bool sparse = t.count < (t.hi - t.lo) / PAGES_TOUCHED_DENSE;
	uintptr_t lo = sparse ? t.best_lo : t.lo;
	uintptr_t hi = sparse ? t.best_hi : t.hi;
	if (t.count == 0)
		lo = hi = f->addr;
	if (run_discard(f->addr, lo) != 0 || run_discard(hi, end) != 0)
		return;
	if (sparse)
		p->stats.purged += t.count - (hi - lo);
	f->dlo = lo < hi ? lo : 0;
	f->dhi = lo < hi ? hi : 0;
}

/* List [addr, addr+size) as a new dirty free run, merged with neighbours. */
void pages_list_freed_locked(pages_t *p, uintptr_t addr, size_t size) {
	extent_t *f = pages_desc_get_locked(p);
	if (f == NULL) {
		log_warn("out of metadata: %zu bytes at %p leak", size,
		    (void *)addr);
		return;
	}
	f->addr = addr;
	f->size = size;
	f->dlo = addr;
	f->dhi = addr + size;
	f->dirty_since = os_now_ns();
	if (size >= PAGES_RESIDENT_MIN)
		run_touched_span(p, f);
	f = pages_coalesce_locked(p, f);
	pages_insert_locked(p, f);
	pages_check_locked(p);
}

void pages_stats_get(pages_t *p, pages_stats_t *out) {
	mutex_lock(&p->lock);
	*out = p->stats;
	mutex_unlock(&p->lock);
}
