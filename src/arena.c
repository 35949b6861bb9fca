/*
 * arena: bins, the slab life cycle, large and huge runs, and the pool of
 * abandoned arenas. Bins and the slab cache are touched by the owning thread
 * only; pages_t has its own lock; the pool and registry take pool_lock.
 * Slab states: CURRENT (bin->cur), PARTIAL (bin->partial list), FULL (on no
 * list; `full` set so remote freers queue it on remote_slabs), SPARE.
 */
#include "arena.h"
#include "log.h"
#include "mutex.h"
#include "os.h"
#include "rtree.h"
#include "secret.h"

#include <errno.h>

slab_t arena_slab_empty;

static mutex_t pool_lock;
static arena_t *pool;
static unsigned pool_count;
static arena_t *arenas[ARENAS_MAX];
static _Atomic unsigned narenas;
static uint32_t bin_slab_size[SZ_NSMALL];

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
	for (unsigned i = 0; i < SZ_NSMALL; i++)
		bin_slab_size[i] = arena_slab_size_pick(sz_index2size(i));
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
#ifdef BM_HARDENED
	a->rng = secret_mix(ind, (uintptr_t)a);
	if (mutex_init(&a->guarded_lock, "arena.guarded", MUTEX_RANK_LEAF) != 0) {
		base_delete(b);
		return NULL;
	}
#endif
	atomic_store_explicit(&a->claimed, 1, memory_order_relaxed);
	for (unsigned i = 0; i < SZ_NSMALL; i++) {
		a->bins[i].cur = &arena_slab_empty;
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

arena_t *arena_acquire(void) {
	mutex_lock(&pool_lock);
	arena_t *a = pool;
	if (a != NULL) {
		pool = a->pool_next;
		pool_count--;
		while (!arena_claim(a))
			;  /* a freeing thread holds it for one free */
		a->n_adopted++;
	} else {
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

static void arena_tidy(arena_t *a);
static void arena_guarded_flush(arena_t *a);

void arena_release(arena_t *a) {
	arena_tidy(a);
	mutex_lock(&pool_lock);
	a->pool_next = pool;
	pool = a;
	pool_count++;
	arena_unclaim(a);
	mutex_unlock(&pool_lock);
}

void arena_postfork_child(void) {
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
		arena_guarded_flush(arenas[i]);
		total += pages_unmap_free(&arenas[i]->pages);
	}
	return total;
}

void arena_purge_all(void) {
	unsigned n = arena_count();
	for (unsigned i = 0; i < n; i++) {
		arena_guarded_flush(arenas[i]);
		pages_purge(&arenas[i]->pages, true);
	}
}

static void partial_push(bin_t *bin, slab_t *s) {
	s->state = SLAB_PARTIAL;
	s->prev = NULL;
	s->next = bin->partial;
	if (s->next != NULL)
		s->next->prev = s;
	bin->partial = s;
}

static void partial_unlink(bin_t *bin, slab_t *s) {
	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		bin->partial = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
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
		s->state = SLAB_SPARE;
		bin->spare = s;
		return;
	}
	arena_slab_release(a, bin, s);
}

/* Re-file slab s after blocks came back to it (local or collected). */
static void arena_slab_refile(arena_t *a, slab_t *s) {
	bin_t *bin = &a->bins[s->ext.szind];
	if (s->state == SLAB_FULL && s->free != NULL) {
		atomic_store_explicit(&s->full, 0, memory_order_relaxed);
		partial_push(bin, s);
	}
	if (s->used == 0 && s->state == SLAB_PARTIAL) {
		partial_unlink(bin, s);
		arena_slab_retire_empty(a, bin, s);
	}
}

void arena_free_local_slow(arena_t *a, slab_t *s) {
	arena_slab_refile(a, s);
}

void arena_free_delayed(arena_t *a, slab_t *s, void *p) {
#ifdef BM_HARDENED
	/* The slots from delayed_head on are in order of age; the block freed
	 * now is one of the ARENA_DELAYED_PICK oldest, chosen at random; the
	 * oldest takes its slot and p the oldest's, which becomes the
	 * youngest. Nearly first in, first out: the order in which a program
	 * freed its blocks, and so its locality, mostly survives. */
	unsigned head = a->delayed_head % ARENA_DELAYED;
	unsigned pick = (head + (unsigned)(secret_rng_next(&a->rng) %
	    ARENA_DELAYED_PICK)) % ARENA_DELAYED;
	arena_delayed_t old = a->delayed[pick];
	a->delayed[pick] = a->delayed[head];
	a->delayed[head].p = p;
	a->delayed[head].s = s;
	a->delayed_head++;
	if (old.p != NULL) {
		slab_delayed_check(old.s, old.p);
		arena_free_local(a, old.s, old.p);
	}
#else
	arena_free_local(a, s, p);
#endif
}

bool arena_delayed_has(const arena_t *a, const void *p) {
#ifdef BM_HARDENED
	for (unsigned i = 0; i < ARENA_DELAYED; i++) {
		if (a->delayed[i].p == p)
			return true;
	}
#else
	(void)a;
	(void)p;
#endif
	return false;
}

/* Free every delayed block (the thread is leaving its arena). */
static void arena_delayed_flush(arena_t *a) {
#ifdef BM_HARDENED
	for (unsigned i = 0; i < ARENA_DELAYED; i++) {
		arena_delayed_t d = a->delayed[i];
		a->delayed[i].p = NULL;
		if (d.p != NULL)
			arena_free_local(a, d.s, d.p);
	}
#else
	(void)a;
#endif
}

/* Count n remote frees the owner collected from s (stats; only the owner
 * writes the counter, so no read-modify-write is needed). Out of line, so
 * that arena_slab_refill stays small enough to be inlined. */
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
	arena_count_remote(s, slab_collect(s));
	slab_free_local(s, p);
	if (s->used == 0 || s->state == SLAB_FULL)
		arena_slab_refile(a, s);
	arena_drain_remote(a);
}

void arena_free_remote(slab_t *s, void *p) {
	arena_t *a = s->ext.owner;
	if (arena_claim(a)) {
		arena_free_claimed(a, s, p);
		arena_unclaim(a);
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
	s->state = SLAB_FULL;
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

/* Debug builds: slab s (owned by the caller) is consistent. Its counts:
 * blocks out plus blocks on the local free list make the carved blocks,
 * which do not exceed nblocks, and remote frees are among the blocks out.
 * Its free lists hold carved blocks of s only (inside, on a block boundary;
 * no cycle). Every page of its run maps to s in the rtree. */
static void arena_slab_check(slab_t *s) {
	if (!config_debug)
		return;
	uint32_t nfree = 0, nremote = 0;
	uint32_t ncarved = atomic_load_explicit(&s->carved,
	    memory_order_relaxed) / s->block_size;
	for (void *b = s->free; b != NULL; b = slab_next(s, b)) {
		BM_ASSERT(slab_block_valid(s, b));
		BM_ASSERT(((uintptr_t *)b)[1] == slab_key(s));
		nfree++;
		BM_ASSERT(nfree <= ncarved);
	}
	for (void *b = atomic_load_explicit(&s->remote_free,
	    memory_order_acquire); b != NULL; b = slab_next(s, b)) {
		BM_ASSERT(slab_block_valid(s, b));
		nremote++;
		BM_ASSERT(nremote <= s->used);
	}
	BM_ASSERT(ncarved <= s->nblocks);
	BM_ASSERT(s->used + nfree == ncarved);
	BM_ASSERT(s->ext.kind == EXTENT_SLAB && s->ext.size % PAGE == 0);
	for (size_t off = 0; off < s->ext.size; off += PAGE)
		BM_ASSERT(rtree_lookup((void *)(s->ext.addr + off)) == s);
}

void *arena_malloc_small_slow(arena_t *a, unsigned ind) {
	bin_t *bin = &a->bins[ind];
	slab_t *s = bin->cur;
	void *p;
	bin->nrequests++;
	if (s != &arena_slab_empty) {
		if ((p = arena_slab_refill(s)) != NULL ||
		    (p = arena_slab_retire_full(s)) != NULL)
			return p;
		bin->cur = &arena_slab_empty;
	}
	arena_drain_remote(a);
	s = bin->partial;
	if (s != NULL)
		partial_unlink(bin, s);
	else if ((s = arena_slab_new(a, ind)) == NULL)
		return NULL;
	arena_slab_check(s);
	s->state = SLAB_CURRENT;
	bin->cur = s;
	if ((p = slab_alloc(s)) != NULL)
		return p;
	return arena_slab_refill(s);
}

/* Hardened builds: make the last page of run e a guard. When the kernel
 * refuses (too many mappings) the page stays an unused accessible one. */
static void arena_guard_set(const extent_t *e) {
	if (config_hardened)
		os_guard((void *)(e->addr + e->size - PAGE), PAGE);
}

/* Hardened builds: give large run e back to the pages, guard lifted. */
static void arena_guarded_release(arena_t *a, extent_t *e) {
	os_commit((void *)(e->addr + e->size - PAGE), PAGE);
	extent_run_free(&a->pages, e, true);
}

/* Hardened builds: a kept guarded run of size bytes at alignment, back in
 * the rtree, or NULL. */
static extent_t *arena_guarded_take(arena_t *a, size_t size,
    size_t alignment) {
	extent_t *e = NULL;
#ifdef BM_HARDENED
	uintptr_t mask = MAX(alignment, PAGE) - 1;
	mutex_lock(&a->guarded_lock);
	for (unsigned i = 0; i < ARENA_GUARDED && e == NULL; i++) {
		extent_t *g = a->guarded[i];
		if (g != NULL && g->size == size && (g->addr & mask) == 0) {
			e = g;
			a->guarded[i] = NULL;
			a->guarded_bytes -= size;
		}
	}
	mutex_unlock(&a->guarded_lock);
	if (e != NULL)
		rtree_set((void *)e->addr, e);
#else
	(void)a;
	(void)size;
	(void)alignment;
#endif
	return e;
}

/* Hardened builds: keep the freed large run e guarded for reuse (out of
 * the rtree, so that freeing it again is an invalid pointer); a run kept
 * before may have to make room. False when e is too large to keep. */
static bool arena_guarded_put(arena_t *a, extent_t *e) {
#ifdef BM_HARDENED
	if (e->size > ARENA_GUARDED_MAX + PAGE)
		return false;
	rtree_set((void *)e->addr, NULL);
	extent_t *out[ARENA_GUARDED];
	unsigned nout = 0, i = 0;
	mutex_lock(&a->guarded_lock);
	while (i < ARENA_GUARDED && a->guarded[i] != NULL)
		i++;
	/* Make room in slots and bytes, releasing kept runs in turn. */
	while (i == ARENA_GUARDED ||
	    a->guarded_bytes + e->size > ARENA_GUARDED_BYTES) {
		unsigned k = a->guarded_next++ % ARENA_GUARDED;
		if (a->guarded[k] != NULL) {
			out[nout++] = a->guarded[k];
			a->guarded_bytes -= a->guarded[k]->size;
			a->guarded[k] = NULL;
		}
		if (i == ARENA_GUARDED)
			i = k;
	}
	a->guarded[i] = e;
	a->guarded_bytes += e->size;
	mutex_unlock(&a->guarded_lock);
	while (nout > 0)
		arena_guarded_release(a, out[--nout]);
	return true;
#else
	(void)a;
	(void)e;
	return false;
#endif
}

/* Hardened builds: give back every kept guarded run of a. */
static void arena_guarded_flush(arena_t *a) {
#ifdef BM_HARDENED
	extent_t *kept[ARENA_GUARDED];
	mutex_lock(&a->guarded_lock);
	for (unsigned i = 0; i < ARENA_GUARDED; i++) {
		kept[i] = a->guarded[i];
		a->guarded[i] = NULL;
	}
	a->guarded_bytes = 0;
	mutex_unlock(&a->guarded_lock);
	for (unsigned i = 0; i < ARENA_GUARDED; i++) {
		if (kept[i] != NULL)
			arena_guarded_release(a, kept[i]);
	}
#else
	(void)a;
#endif
}

void *arena_malloc_large(arena_t *a, size_t usize, size_t alignment,
    bool *zeroed) {
	extent_t *e = config_hardened ? arena_guarded_take(a, usize + PAGE,
	    alignment) : NULL;
	if (e != NULL) {
		*zeroed = false;
	} else {
		e = extent_run_alloc(&a->pages, NULL, usize + ARENA_GUARD,
		    alignment, EXTENT_LARGE, zeroed);
		if (e == NULL)
			return NULL;
		arena_guard_set(e);
	}
	a->n_large++;
	a->n_large_bytes += e->size;
	return (void *)e->addr;
}

void *arena_malloc_huge(arena_t *a, size_t size, size_t alignment) {
	size += ARENA_GUARD;
	extent_t *e = extent_huge_alloc(&a->pages, size, alignment);
	if (e == NULL && errno == ENOMEM && arena_unmap_free_all() >= size)
		e = extent_huge_alloc(&a->pages, size, alignment);
	if (e == NULL)
		return NULL;
	arena_guard_set(e);
	return (void *)e->addr;
}

int arena_large_resize(extent_t *e, size_t usize) {
	arena_t *a = e->owner;
	size_t want = usize + ARENA_GUARD;
	if (want == e->size)
		return 0;
	if (config_hardened)
		os_commit((void *)(e->addr + e->size - PAGE), PAGE);
	int err = 0;
	if (want < e->size)
		extent_run_shrink(&a->pages, e, want);
	else
		err = extent_run_grow(&a->pages, e, want);
	arena_guard_set(e);  /* the new last page, or the old one again */
	return err;
}

void arena_free_run(extent_t *e) {
	arena_t *a = e->owner;
	if (e->kind == EXTENT_LARGE) {
		if (!config_hardened)
			extent_run_free(&a->pages, e, true);
		else if (!arena_guarded_put(a, e))
			arena_guarded_release(a, e);
	} else {
		extent_huge_free(&a->pages, e);
	}
}

/* Give back what an exiting thread's arena holds for nothing: collect
 * remote frees, and return empty current and spare slabs to the pages. */
static void arena_tidy(arena_t *a) {
	arena_delayed_flush(a);
	arena_guarded_flush(a);
	arena_drain_remote(a);
	for (unsigned i = 0; i < SZ_NSMALL; i++) {
		bin_t *bin = &a->bins[i];
		slab_t *s = bin->cur;
		if (s != &arena_slab_empty) {
			arena_count_remote(s, slab_collect(s));
			if (s->used == 0) {
				bin->cur = &arena_slab_empty;
				arena_slab_release(a, bin, s);
			}
		}
		if (bin->spare != NULL) {
			arena_slab_release(a, bin, bin->spare);
			bin->spare = NULL;
		}
	}
}
