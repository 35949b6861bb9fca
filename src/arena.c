/*
 * arena: bins, the slab life cycle, large and huge runs, and the pool of
 * abandoned arenas. Bins and the slab cache are touched by the owning thread
 * only; pages_t has its own lock; the pool and registry take pool_lock.
 * Slab states: CURRENT (a->cur[bin]), PARTIAL (bin->partial list), FULL (on no
 * list; `full` set so remote freers queue it on remote_slabs), SPARE.
 * Published figures (arena.h): on each slow path of a class that changes its
 * slabs (a new current slab, a slab refiled or given back, a tidy at thread
 * exit) the owner stores its live objects as full slabs * blocks + the
 * current slab's `used` + the partial slabs' `used` as they were when filed
 * (`parked`, kept up to date on the slow paths that refile them), its slabs
 * and its refills. A refill the current slab serves itself (untouched
 * blocks, remote frees) publishes nothing: it is the most frequent slow
 * path, and what it changes (live, refills) stays within that slab.
 */
#include "arena.h"
#include "bg.h"
#include "extent.h"
#include "huge.h"
#include "log.h"
#include "mutex.h"
#include "purge.h"
#include "rtree.h"
#include "secret.h"

#include <errno.h>
#include <string.h>

slab_t arena_slab_empty;
slab_t *const arena_no_cur[ARENA_NCUR] = { [0 ... ARENA_NCUR - 1] =
    &arena_slab_empty };
uint16_t arena_cur_first[SZ_NSMALL], arena_cur_count[SZ_NSMALL];

static mutex_t pool_lock;
static arena_t *pool;
static unsigned pool_count;
static arena_t *arenas[ARENAS_MAX];
static _Atomic unsigned narenas;
static uint32_t bin_slab_size[SZ_NSMALL];
static uint32_t bin_nblocks[SZ_NSMALL];

#define SLAB_MIN ((size_t)64 << 10)
#define SLAB_MAX ((size_t)256 << 10)

/* The smallest slab (64..256 KiB) that wastes at most 1/16 of itself. */
static uint32_t arena_slab_size_pick(size_t bs) {
	size_t ss = SLAB_MIN;
	while (ss < SLAB_MAX && (ss % bs) * 16 > ss)
		ss *= 2;
	return (uint32_t)ss;
}

int arena_boot(void) {
	for (unsigned i = 0, g = 0, big = ARENA_NGRAN; i < SZ_NSMALL; i++) {
		bin_slab_size[i] = arena_slab_size_pick(sz_index2size(i));
		bin_nblocks[i] = (uint32_t)(bin_slab_size[i] / sz_index2size(i));
		unsigned g0 = g;
		while (g < ARENA_NGRAN && sz_lookup[g] == i)
			g++;
		arena_cur_first[i] = (uint16_t)(g > g0 ? g0 : big++);
		arena_cur_count[i] = (uint16_t)(g > g0 ? g - g0 : 1);
	}
	arena_slab_empty.state = SLAB_CURRENT;
	return mutex_init(&pool_lock, "arena.pool", MUTEX_RANK_ARENA_POOL);
}

static arena_t *arena_create(unsigned ind) {
	base_t *b = base_new(ind, NULL);
	if (b == NULL)
		return NULL;
	arena_t *a = base_alloc(b, sizeof(arena_t), CACHELINE);
	if (a == NULL || pages_init(&a->pages, b, a) != 0) {
		base_delete(b);
		return NULL;
	}
	a->ind = ind;
	a->base = b;
	if (harden_init(&a->harden, &a->pages, secret_mix(ind, (uintptr_t)a))
	    != 0) {
		base_delete(b);
		return NULL;
	}
	atomic_store_explicit(&a->claimed, 1, memory_order_relaxed);
	for (unsigned i = 0; i < SZ_NSMALL; i++) {
		arena_cur_set(a, i, &arena_slab_empty);
		a->bins[i].slab_size = bin_slab_size[i];
	}
	return a;
}

/* Take the ownership token; false when another thread holds it. */
static bool arena_claim(arena_t *a) {
	int expect = 0;
	return atomic_load_explicit(&a->claimed, memory_order_relaxed) == 0 &&
	    atomic_compare_exchange_strong_explicit(&a->claimed, &expect, 1,
	    memory_order_acquire, memory_order_relaxed);
}

static void arena_unclaim(arena_t *a) {
	atomic_store_explicit(&a->claimed, 0, memory_order_release);
}

/* Unlink a from the pool at *link and take its token (pool_lock held). */
static arena_t *arena_unpool(arena_t **link) {
	arena_t *a = *link;
	*link = a->pool_next;
	pool_count--;
	while (!arena_claim(a))
		;  /* a freeing thread (or a stats reader) holds it */
	atomic_store_explicit(&a->n_adopted, atomic_load_explicit(
	    &a->n_adopted, memory_order_relaxed) + 1, memory_order_relaxed);
	return a;
}

arena_t *arena_acquire(void) {
	mutex_lock(&pool_lock);
	arena_t *a = pool != NULL ? arena_unpool(&pool) : NULL;
	if (a == NULL) {
		unsigned n = atomic_load_explicit(&narenas, memory_order_relaxed);
		if (n < ARENAS_MAX && (a = arena_create(n)) != NULL) {
			arenas[n] = a;
			atomic_store_explicit(&narenas, n + 1,
			    memory_order_release);
		}
	}
	mutex_unlock(&pool_lock);
	return a;
}

arena_t *arena_acquire_pooled(arena_t *a) {
	mutex_lock(&pool_lock);
	arena_t **link = &pool;
	while (*link != NULL && *link != a)
		link = &(*link)->pool_next;
	arena_t *got = *link != NULL ? arena_unpool(link) : NULL;
	mutex_unlock(&pool_lock);
	return got;
}

static void arena_tidy(arena_t *a);

void arena_release(arena_t *a) {
	arena_tidy(a);
	purge_left(&a->pages);
	mutex_lock(&pool_lock);
	a->pool_next = pool;
	pool = a;
	pool_count++;
	arena_unclaim(a);
	mutex_unlock(&pool_lock);
}

void arena_postfork_child(void) {
	unsigned n = arena_count();
	for (unsigned i = 0; i < n; i++)
		purge_postfork_child(&arenas[i]->pages);
	arena_t **link = &pool;
	while (*link != NULL) {
		arena_t *a = *link;
		if (atomic_load_explicit(&a->claimed, memory_order_relaxed)) {
			*link = a->pool_next;
			pool_count--;
		} else {
			link = &a->pool_next;
		}
	}
}

unsigned arena_count(void) {
	return atomic_load_explicit(&narenas, memory_order_acquire);
}

unsigned arena_count_abandoned(void) {
	mutex_lock(&pool_lock);
	unsigned n = pool_count;
	mutex_unlock(&pool_lock);
	return n;
}

arena_t *arena_get(unsigned i) {
	return i < arena_count() ? arenas[i] : NULL;
}

size_t arena_unmap_free_all(void) {
	size_t total = 0;
	unsigned n = arena_count();
	for (unsigned i = 0; i < n; i++) {
		harden_kept_flush(&arenas[i]->harden, &arenas[i]->pages);
		total += pages_unmap_free(&arenas[i]->pages);
	}
	return total;
}

void arena_purge(arena_t *a) {
	harden_kept_flush(&a->harden, &a->pages);
	purge_pages(&a->pages, true);
}

void arena_purge_all(void) {
	unsigned n = arena_count();
	for (unsigned i = 0; i < n; i++)
		arena_purge(arenas[i]);
}

/* Debug builds: the partial list of class ind holds npartial slabs whose
 * `parked` add up to `parked` (owner). */
static void arena_park_check(const arena_t *a, unsigned ind) {
	if (!config_debug)
		return;
	uint64_t n = 0, parked = 0;
	for (const slab_t *s = a->bins[ind].partial; s != NULL; s = s->next) {
		BM_ASSERT(s->state == SLAB_PARTIAL && s->parked <= s->nblocks);
		n++;
		parked += s->parked;
	}
	BM_ASSERT(n == a->park[ind].npartial && parked == a->park[ind].parked);
}

/* Publish class ind's figures (owner, on a slow path of the class). */
static void arena_bin_publish(arena_t *a, unsigned ind) {
	const bin_t *bin = &a->bins[ind];
	const bin_park_t *pk = &a->park[ind];
	arena_park_check(a, ind);
	uint64_t listed = pk->npartial + (bin->spare != NULL) +
	    (arena_cur(a, ind) != &arena_slab_empty);
	uint64_t full = bin->nslabs > listed ? bin->nslabs - listed : 0;
	bin_pub_t *pub = &a->pub[ind];
	atomic_store_explicit(&pub->live, full * bin_nblocks[ind] +
	    slab_used(arena_cur(a, ind)) + pk->parked, memory_order_relaxed);
	atomic_store_explicit(&pub->slabs, bin->nslabs, memory_order_relaxed);
	atomic_store_explicit(&pub->refills, bin->nrequests,
	    memory_order_relaxed);
}

static void partial_push(arena_t *a, bin_t *bin, slab_t *s) {
	bin_park_t *pk = &a->park[s->ext.szind];
	slab_state_set(s, SLAB_PARTIAL);
	s->prev = NULL;
	s->next = bin->partial;
	if (s->next != NULL)
		s->next->prev = s;
	bin->partial = s;
	s->parked = slab_used(s);
	pk->parked += slab_used(s);
	pk->npartial++;
}

static void partial_unlink(arena_t *a, bin_t *bin, slab_t *s) {
	bin_park_t *pk = &a->park[s->ext.szind];
	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		bin->partial = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	pk->parked -= s->parked;
	pk->npartial--;
}

/* A fresh slab for bin ind: the spare, or a new run. */
static slab_t *arena_slab_new(arena_t *a, unsigned ind) {
	bin_t *bin = &a->bins[ind];
	slab_t *s = bin->spare;
	if (s != NULL) {
		bin->spare = NULL;
		return s;
	}
	s = a->slab_cache;
	if (s != NULL)
		a->slab_cache = s->next;
	else if ((s = base_alloc(a->base, sizeof(slab_t), CACHELINE)) == NULL)
		return NULL;
	bool zeroed;
	if (extent_run_alloc(&a->pages, &s->ext, bin->slab_size, PAGE,
	    EXTENT_SLAB, &zeroed) == NULL) {
		s->next = a->slab_cache;
		a->slab_cache = s;
		return NULL;
	}
	slab_init(s, ind, sz_index2size(ind));
	s->clean = config_hardened && zeroed;  /* carving need not zero it */
	bin->nslabs++;
	return s;
}

/* Return an empty slab's run to the pages and its descriptor to the cache. */
static void arena_slab_release(arena_t *a, bin_t *bin, slab_t *s) {
	bin->nslabs--;
	extent_run_free(&a->pages, &s->ext, false);
	s->next = a->slab_cache;
	a->slab_cache = s;
}

/* An empty slab that is not current: keep it as the spare or free it. */
static void arena_slab_retire_empty(arena_t *a, bin_t *bin, slab_t *s) {
	if (bin->spare == NULL) {
		slab_state_set(s, SLAB_SPARE);
		bin->spare = s;
		return;
	}
	arena_slab_release(a, bin, s);
}

/* Re-file slab s after blocks came back to it (local or collected). */
static void arena_slab_refile(arena_t *a, slab_t *s) {
	unsigned ind = s->ext.szind;
	bin_t *bin = &a->bins[ind];
	if (s->state == SLAB_FULL && s->free != NULL) {
		atomic_store_explicit(&s->full, 0, memory_order_relaxed);
		partial_push(a, bin, s);
	}
	if (slab_used(s) == 0 && s->state == SLAB_PARTIAL) {
		partial_unlink(a, bin, s);
		arena_slab_retire_empty(a, bin, s);
	} else if (s->state == SLAB_PARTIAL) {
		a->park[ind].parked += (uint64_t)slab_used(s) - s->parked;
		s->parked = slab_used(s);
	}
	arena_bin_publish(a, ind);
}

/* The free paths below may call the kernel (unmap, purge, mincore) or map
 * metadata; free() must leave errno as it was, whatever they meet. */
void arena_free_local_slow(arena_t *a, slab_t *s) {
	int saved = errno;
	arena_slab_refile(a, s);
	bg_wake();
	errno = saved;
}

/* Count n remote frees collected by the owner (stats); out of line. */
BM_NOINLINE static void arena_count_remote(slab_t *s, uint32_t n) {
	arena_t *a = s->ext.owner;
	atomic_store_explicit(&a->remote_frees, atomic_load_explicit(
	    &a->remote_frees, memory_order_relaxed) + n, memory_order_relaxed);
}

/* Collect the remote frees of every slab queued on the arena. */
static void arena_drain_remote(arena_t *a) {
	if (atomic_load_explicit(&a->remote_slabs, memory_order_relaxed) == NULL)
		return;
	slab_t *q = atomic_exchange_explicit(&a->remote_slabs, NULL,
	    memory_order_acquire);
	while (q != NULL) {
		slab_t *s = q;
		q = s->qnext;
		atomic_store_explicit(&s->queued, 0, memory_order_seq_cst);
		if (s->ext.kind != EXTENT_SLAB)
			continue;  /* recycled since it was queued */
		arena_count_remote(s, slab_collect(s));
		arena_slab_refile(a, s);
	}
}

/* Free p into slab s of arena a, whose token the caller holds. */
static void arena_free_claimed(arena_t *a, slab_t *s, void *p) {
	int saved = errno;
	arena_count_remote(s, slab_collect(s));
	slab_free_local(s, p);
	if (slab_used(s) == 0 || s->state == SLAB_FULL)
		arena_slab_refile(a, s);
	arena_drain_remote(a);
	errno = saved;
}

void arena_free_remote(slab_t *s, void *p) {
	arena_t *a = s->ext.owner;
	if (arena_claim(a)) {
		arena_free_claimed(a, s, p);
		arena_unclaim(a);
		bg_wake();
		return;
	}
	if (!slab_free_remote(s, p))
		return;
	slab_t *head = atomic_load_explicit(&a->remote_slabs,
	    memory_order_relaxed);
	do {
		s->qnext = head;
	} while (!atomic_compare_exchange_weak_explicit(&a->remote_slabs, &head,
	    s, memory_order_release, memory_order_relaxed));
}

/* The current slab ran dry: mark it full unless remote frees arrived
 * meanwhile (then they are collected and it stays current). Returns a block
 * or NULL. */
static void *arena_slab_retire_full(slab_t *s) {
	atomic_store_explicit(&s->full, 1, memory_order_seq_cst);
	if (atomic_load_explicit(&s->remote_free, memory_order_seq_cst) != NULL) {
		atomic_store_explicit(&s->full, 0, memory_order_relaxed);
		arena_count_remote(s, slab_collect(s));
		return slab_alloc(s);
	}
	slab_state_set(s, SLAB_FULL);
	return NULL;
}

/* Refill the current slab from its own frees or untouched blocks. */
static void *arena_slab_refill(slab_t *s) {
	uint32_t n = slab_collect(s);
	if (n == 0)
		slab_extend(s);
	else
		arena_count_remote(s, n);
	return slab_alloc(s);
}

/* A block of class ind when the current slab ran dry: its remote frees or
 * untouched blocks, else another slab (published: the class's slabs
 * changed). NULL when out of memory. */
static void *arena_bin_refill(arena_t *a, unsigned ind) {
	bin_t *bin = &a->bins[ind];
	slab_t *s = arena_cur(a, ind);
	void *p;
	bin->nrequests++;
	if (s != &arena_slab_empty) {
		if ((p = arena_slab_refill(s)) != NULL ||
		    (p = arena_slab_retire_full(s)) != NULL)
			return p;
		arena_cur_set(a, ind, &arena_slab_empty);
	}
	arena_drain_remote(a);
	s = bin->partial;
	if (s != NULL)
		partial_unlink(a, bin, s);
	else if ((s = arena_slab_new(a, ind)) == NULL)
		return NULL;
	slab_check(s);
	slab_state_set(s, SLAB_CURRENT);
	arena_cur_set(a, ind, s);
	if ((p = slab_alloc(s)) == NULL)
		p = arena_slab_refill(s);
	arena_bin_publish(a, ind);
	return p;
}

void *arena_malloc_small_slow(arena_t *a, unsigned ind) {
	return arena_bin_refill(a, ind);
}

void *arena_malloc_large(arena_t *a, size_t usize, size_t alignment,
    bool *zeroed) {
	extent_t *e = config_hardened ? harden_kept_take(&a->harden, usize +
	    PAGE, alignment) : NULL;
	if (e != NULL) {
		*zeroed = false;
	} else {
		e = extent_run_alloc(&a->pages, NULL, usize + HARDEN_GUARD,
		    alignment, EXTENT_LARGE, zeroed);
		if (e == NULL)
			return NULL;
		if (config_hardened)
			harden_guard(e);
	}
	atomic_store_explicit(&a->n_large, atomic_load_explicit(&a->n_large,
	    memory_order_relaxed) + 1, memory_order_relaxed);
	return (void *)e->addr;
}

void *arena_malloc_huge(arena_t *a, size_t size, size_t alignment,
    bool *zeroed) {
	size += HARDEN_GUARD;
	extent_t *e = huge_alloc(&a->pages, size, alignment, zeroed);
	if (e == NULL && errno == ENOMEM && arena_unmap_free_all() >= size)
		e = huge_alloc(&a->pages, size, alignment, zeroed);
	if (e != NULL && config_hardened)
		harden_guard(e);
	return e != NULL ? (void *)e->addr : NULL;
}

void arena_free_run(extent_t *e) {
	arena_t *a = e->owner;
	int saved = errno;
	if (e->kind == EXTENT_LARGE) {
		if (!config_hardened)
			extent_run_free(&a->pages, e, true);
		else if (!harden_kept_put(&a->harden, &a->pages, e)) {
			harden_unguard(e);
			extent_run_free(&a->pages, e, true);
		}
		bg_wake();
	} else {
		if (config_hardened)  /* it may become free pages of the arena */
			harden_unguard(e);
		huge_free(&a->pages, e);
	}
	errno = saved;
}

/* Give back what an exiting thread's arena holds for nothing: collect
 * remote frees, and return empty current and spare slabs to the pages. */
static void arena_tidy(arena_t *a) {
	slab_t *ds;
	void *dp;
	while (config_hardened && (dp = harden_delayed_pop(&a->harden, &ds)))
		arena_free_local(a, ds, dp);  /* the delayed frees */
	harden_kept_flush(&a->harden, &a->pages);
	arena_drain_remote(a);
	for (unsigned i = 0; i < SZ_NSMALL; i++) {
		bin_t *bin = &a->bins[i];
		slab_t *s = arena_cur(a, i);
		if (s == &arena_slab_empty && bin->spare == NULL)
			continue;
		if (s != &arena_slab_empty) {
			arena_count_remote(s, slab_collect(s));
			if (slab_used(s) == 0) {
				arena_cur_set(a, i, &arena_slab_empty);
				arena_slab_release(a, bin, s);
			}
		}
		if (bin->spare != NULL) {
			arena_slab_release(a, bin, bin->spare);
			bin->spare = NULL;
		}
		arena_bin_publish(a, i);
	}
}

unsigned arena_index(const arena_t *a) {
	return a->ind;
}

base_t *arena_base(const arena_t *a) {
	return a->base;
}

size_t arena_bin_slab_size(unsigned ind) {
	return ind < SZ_NSMALL ? bin_slab_size[ind] : 0;
}

uint64_t arena_adopted(const arena_t *a) {
	return atomic_load_explicit(&a->n_adopted, memory_order_relaxed);
}

/* Class ind's figures from the bin itself: only its owner or the holder of
 * its token may call this. Full slabs are on no list and hold all their
 * blocks; the current and partial slabs count their `used`. */
static void arena_bin_read(const arena_t *a, unsigned ind,
    arena_bin_stats_t *out) {
	const bin_t *bin = &a->bins[ind];
	uint64_t listed = 0, live = 0;
	if (arena_cur(a, ind) != &arena_slab_empty) {
		live += slab_used(arena_cur(a, ind));
		listed++;
	}
	if (bin->spare != NULL)
		listed++;
	for (const slab_t *s = bin->partial; s != NULL; s = s->next) {
		live += slab_used(s);
		listed++;
	}
	out->slabs = bin->nslabs;
	out->capacity = out->slabs * bin_nblocks[ind];
	live += (out->slabs > listed ? out->slabs - listed : 0) *
	    bin_nblocks[ind];
	out->live = MIN(live, out->capacity);
	out->refills = bin->nrequests;
}

/* Class ind's figures as the owner last published them. */
static void arena_bin_read_published(const arena_t *a, unsigned ind,
    arena_bin_stats_t *out) {
	const bin_pub_t *pub = &a->pub[ind];
	out->slabs = atomic_load_explicit(&pub->slabs, memory_order_relaxed);
	out->capacity = out->slabs * bin_nblocks[ind];
	out->live = MIN(atomic_load_explicit(&pub->live, memory_order_relaxed),
	    out->capacity);
	out->refills = atomic_load_explicit(&pub->refills,
	    memory_order_relaxed);
}

void arena_stats_get(arena_t *a, bool own, arena_stats_t *out) {
	memset(out, 0, sizeof(*out));
	pages_stats_get(&a->pages, &out->pages);
	base_stats_get(a->base, &out->base);
	out->remote_frees = atomic_load_explicit(&a->remote_frees,
	    memory_order_relaxed);
	out->adopted = arena_adopted(a);
	out->large_nmalloc = atomic_load_explicit(&a->n_large,
	    memory_order_relaxed);
	bool claimed = !own && arena_claim(a);
	out->exact = own || claimed;
	for (unsigned i = 0; i < SZ_NSMALL; i++) {
		if (out->exact)
			arena_bin_read(a, i, &out->bins[i]);
		else
			arena_bin_read_published(a, i, &out->bins[i]);
	}
	if (claimed)
		arena_unclaim(a);
}
