/*
 * extent: the page runs of one arena. Free runs sit in size bins (by the
 * floor page-size class; a bitmap finds the first non-empty bin) and, while
 * dirty, on a dirty list ordered by age. Coalescing looks the neighbours up
 * in the rtree: a free run's first and last pages point at it. A run's dirty
 * span is an upper bound (merging two runs spans both dirty parts and what
 * lies between); splitting cuts it exactly.
 * Purging takes runs off the lists onto `purging`, drops the lock while the
 * kernel discards their pages, and lists them again as clean; a fork child
 * lists again as dirty the runs a vanished thread was purging.
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

/* The registry of every pages_t (they are never destroyed). */
static _Atomic(pages_t *) pages_reg;
/* Its address marks the runs this thread is purging (see purging). */
static __thread char pages_purge_self;
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
	p->peak_at = os_now_ns();
	int err = mutex_init(&p->lock, "arena.pages", MUTEX_RANK_ARENA);
	if (err != 0)
		return err;
	pages_t *head = atomic_load_explicit(&pages_reg, memory_order_relaxed);
	do {
		p->reg_next = head;
	} while (!atomic_compare_exchange_weak_explicit(&pages_reg, &head, p,
	    memory_order_release, memory_order_relaxed));
	return 0;
}

pages_t *pages_registry(void) {
	return atomic_load_explicit(&pages_reg, memory_order_acquire);
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

/* Steps the dirty list is searched back from its newest end for e's place
 * (a run that merged older ones may be older than the newest). */
#define PAGES_DIRTY_SEARCH 16

static size_t run_ndirty(const extent_t *e) {
	return e->dhi - e->dlo;
}

static void run_set_clean(extent_t *e) {
	e->dlo = e->dhi = 0;
}

static void dirty_link(pages_t *p, extent_t *e) {
	extent_t *at = p->dirty.dprev;
	for (unsigned i = 0; i < PAGES_DIRTY_SEARCH && at != &p->dirty &&
	    at->dirty_since > e->dirty_since; i++)
		at = at->dprev;
	e->dprev = at;
	e->dnext = at->dnext;
	at->dnext->dprev = e;
	at->dnext = e;
	p->stats.dirty += run_ndirty(e);
}

static void dirty_unlink(pages_t *p, extent_t *e) {
	e->dprev->dnext = e->dnext;
	e->dnext->dprev = e->dprev;
	p->stats.dirty -= run_ndirty(e);
}

/* Link e into bin b: dirty runs at the head (reused first: no page faults),
 * clean ones after the head. */
static void bin_link(pages_t *p, unsigned b, extent_t *e) {
	extent_t *head = p->bins[b];
	if (head == NULL || run_ndirty(e) != 0 || run_ndirty(head) == 0) {
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
	if (run_ndirty(e) != 0)
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
	if (run_ndirty(e) != 0)
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

/* Fold b (the free run right after a) into a; b's descriptor is recycled.
 * The dirty span covers both; it is as old as its dirty bytes on average. */
static void run_absorb(pages_t *p, extent_t *a, extent_t *b) {
	size_t na = run_ndirty(a), nb = run_ndirty(b);
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
	desc_put_locked(p, b);
}

/* Merge the unlisted free run e with its free neighbours; returns the
 * result (not yet inserted). */
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

/* Runs of a bin looked at for a dirty one that fits before taking a clean
 * one (dirty runs sit at the head of their bin). */
#define PAGES_FIND_DIRTY 8

/* A run of at least need bytes and at most max from the smallest size class
 * that has one (best fit by class: a small request does not split a big
 * free run that a big request will want again, which would have to fault
 * in a new chunk); in that class a dirty run first, so that pages already
 * faulted in are reused. The last bin holds any size, so it is searched. */
static extent_t *run_find(pages_t *p, size_t need, size_t max) {
	uint64_t all = p->nonempty & (~(uint64_t)0 << pages_bin_ceil(need));
	if (max < SIZE_MAX)
		all &= ~(uint64_t)0 >> (63 - pages_bin_floor(max));

	for (uint64_t mask = all; mask != 0; mask &= mask - 1) {
		extent_t *fit = NULL, *e = p->bins[__builtin_ctzll(mask)];
		for (unsigned n = 0; e != NULL; e = e->next, n++) {
			if (e->size < need || e->size > max)
				continue;
			if (run_ndirty(e) != 0 || n >= PAGES_FIND_DIRTY)
				return e;
			if (fit == NULL)
				fit = e;
		}
		if (fit != NULL)
			return fit;
	}
	return NULL;
}

/* Take the spare if it fits size bytes at alignment (lock held). */
static extent_t *huge_spare_take_locked(pages_t *p, size_t size,
    size_t alignment) {
	extent_t *s = p->huge_spare;
	if (s == NULL || s->size < size || s->size / 2 > size ||
	    (s->addr & (MAX(alignment, PAGE) - 1)) != 0)
		return NULL;
	p->huge_spare = NULL;
	p->stats.spare = 0;
	p->stats.mapped -= s->size;
	p->stats.huge += s->size;
	p->stats.n_huge++;
	return s;
}

/* Give the spare up (lock held); the caller unmaps what it returns. */
static extent_t *huge_spare_drop_locked(pages_t *p) {
	extent_t *s = p->huge_spare;
	if (s != NULL) {
		p->huge_spare = NULL;
		p->stats.spare = 0;
		p->stats.mapped -= s->size;
	}
	return s;
}

static void run_list_freed(pages_t *p, uintptr_t addr, size_t size);

/* The spare s was unmapped with result err (lock held): its descriptor goes
 * back to the cache, and a mapping the kernel kept (ENOMEM at its limit on
 * mappings) becomes free pages of the arena instead of a silent leak. */
static void huge_spare_unmapped_locked(pages_t *p, extent_t *s, int err) {
	desc_put_locked(p, s);
	if (err != 0) {
		p->stats.mapped += s->size;
		run_list_freed(p, s->addr, s->size);
	}
}

/* Unmap every free run (a map failed); one the kernel refuses (ENOMEM at
 * its limit on mappings) stays listed. Returns the bytes unmapped. */
static size_t pages_unmap_free_locked(pages_t *p) {
	size_t total = 0;
	for (unsigned b = 0; b < PAGES_NBINS; b++) {
		for (extent_t *e = p->bins[b], *next; e != NULL; e = next) {
			next = e->next;
			if (os_unmap((void *)e->addr, e->size) != 0)
				continue;
			run_remove(p, e);
			p->stats.mapped -= e->size;
			total += e->size;
			desc_put_locked(p, e);
		}
	}
	extent_t *spare = huge_spare_drop_locked(p);
	if (spare != NULL) {
		int err = os_unmap((void *)spare->addr, spare->size);
		total += err == 0 ? spare->size : 0;
		huge_spare_unmapped_locked(p, spare, err);
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

/* Map a chunk that holds need bytes (a multiple of PAGE) and list it as a
 * clean free run; short of address space (ENOMEM), halves down to need. */
static extent_t *pages_chunk_map(pages_t *p, size_t need) {
	size_t size = MAX(PAGES_CHUNK, ALIGN_UP(need, PAGES_CHUNK));
	extent_t *e = desc_get_locked(p);
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
		desc_put_locked(p, e);
		return NULL;
	}
	p->stats.mapped += size;
	e->addr = (uintptr_t)addr;
	e->size = size;
	run_set_clean(e);
	e = run_coalesce(p, e);
	run_insert(p, e);
	return e;
}

/* ---------------------------------------------------------------------- */
/* Purging */

/* A guesser whose purges proved wrong n times in a row waits 2^n decay
 * times before it purges again, at most this many. */
#define PAGES_HOLD_MAX 64
/* Without a collapse, an arena's footprint (active + dirty) may reach this
 * many times its recent peak of active bytes before it purges at once: the
 * free space needed to serve a demand again without faults can be as large
 * as the demand (a buffer and the blocks that follow it live in different
 * runs). */
#define PAGES_ROOM 2
/* Dirty bytes past what an arena keeps for the decay time may stay this
 * fraction (1/n) of it. */
#define PAGES_YOUNG_DIV 10
/* The background purger retries a busy arena this much later (ns). */
#define PAGES_BUSY_NS ((uint64_t)10 * 1000 * 1000)

static uint64_t pages_decay_ns(void) {
	return opt_dirty_decay_ms < 0 ? UINT64_MAX
	    : (uint64_t)opt_dirty_decay_ms * 1000000u;
}

static uint64_t pages_add_sat(uint64_t a, uint64_t b) {
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* The most active bytes of this demand epoch and the one before (an epoch
 * lasts the decay time); moves on to a new epoch when this one is over. */
static size_t pages_recent_peak(pages_t *p, uint64_t now) {
	size_t active = p->stats.active;
	uint64_t epoch = pages_decay_ns();
	if (now > p->peak_at && now - p->peak_at >= epoch) {
		bool idle = now - p->peak_at >= pages_add_sat(epoch, epoch);
		p->peak[1] = idle ? active : p->peak[0];
		p->peak[0] = active;
		p->peak_at = now;
	}
	return MAX(active, MAX(p->peak[0], p->peak[1]));
}

/* Whether g may purge now: its last purge has not been proven wrong, or
 * it has waited its hold since. */
static bool guess_allowed(const pages_guess_t *g, uint64_t now) {
	uint64_t hold = g->hold != 0 ? g->hold : pages_decay_ns();
	return g->watch || g->at == 0 || (now > g->at && now - g->at >= hold);
}

/* g purges now, guessing the arena will not need the memory again soon
 * (peak: its recent peak of active bytes). */
static void guess_made(pages_guess_t *g, uint64_t now, size_t peak) {
	if (!g->watch) {
		g->at = now;
		g->peak = peak;
	}
	g->watch = true;
}

/* The active bytes grew to `active`: g's last purge proved wrong if they
 * are back at half its peak within the decay time (g then waits twice as
 * long as before it purges again), right if later. */
static void guess_check(pages_guess_t *g, size_t active, uint64_t now) {
	if (!g->watch || active < g->peak / 2)
		return;
	uint64_t decay = pages_decay_ns();
	g->watch = false;
	if (now > g->at && now - g->at >= decay) {
		g->hold = 0;
		return;
	}
	uint64_t hold = g->hold != 0 ? g->hold : decay;
	uint64_t cap = decay > UINT64_MAX / PAGES_HOLD_MAX ? UINT64_MAX
	    : decay * PAGES_HOLD_MAX;
	g->hold = hold > cap / 2 ? cap : hold * 2;
}

/* The active bytes of p grew: the peak, and the guesses on watch. */
static void pages_note_active(pages_t *p) {
	size_t active = p->stats.active;
	if (active > p->peak[0])
		p->peak[0] = active;
	if (!p->collapsed.watch && !p->left.watch)
		return;
	uint64_t now = os_now_ns();
	guess_check(&p->collapsed, active, now);
	guess_check(&p->left, active, now);
}

static void purging_link(pages_t *p, extent_t *e) {
	e->prev = NULL;
	e->next = p->purging;
	if (e->next != NULL)
		e->next->prev = e;
	p->purging = e;
	e->dprev = (extent_t *)(void *)&pages_purge_self;
}

static void purging_unlink(pages_t *p, extent_t *e) {
	if (e->prev != NULL)
		e->prev->next = e->next;
	else
		p->purging = e->next;
	if (e->next != NULL)
		e->next->prev = e->prev;
}

static bool pages_aged(const extent_t *e, uint64_t now, uint64_t decay) {
	return now >= e->dirty_since && now - e->dirty_since >= decay;
}

/* Take runs off the dirty list from the oldest onto `purging` (marked as
 * this thread's, in dprev; on no other list, so nothing allocates or merges
 * them): every run dirty for the decay time; while the dirty bytes are over
 * room, more down to 7/8 of it; while they are over lasting, the runs dirty
 * for a tenth of the decay time. Returns them chained by dnext. */
static extent_t *purge_pick_locked(pages_t *p, size_t room, size_t lasting,
    uint64_t now) {
	uint64_t decay = pages_decay_ns(), young = decay / PAGES_YOUNG_DIV;
	bool over = p->stats.dirty > room;
	size_t target = room - room / 8;
	extent_t *batch = NULL;
	while (p->dirty.dnext != &p->dirty) {
		extent_t *e = p->dirty.dnext;
		if (!pages_aged(e, now, decay) && !(over && p->stats.dirty > target) &&
		    !(p->stats.dirty > lasting && pages_aged(e, now, young)))
			break;
		run_remove(p, e);
		purging_link(p, e);
		e->dnext = batch;
		batch = e;
	}
	return batch;
}

/* List the purged runs of batch again, as clean (lock held). */
static void purge_finish_locked(pages_t *p, extent_t *batch) {
	while (batch != NULL) {
		extent_t *e = batch;
		batch = e->dnext;
		purging_unlink(p, e);
		p->stats.purged += run_ndirty(e);
		run_set_clean(e);
		run_insert(p, run_coalesce(p, e));
	}
	p->stats.purge_runs++;
}

/* Purge what purge_pick_locked picks, and the spare huge mapping when it
 * has waited the decay time (or room is 0: everything goes). The kernel
 * is called without the lock (held again on return). */
static void pages_purge_locked(pages_t *p, size_t room, size_t lasting,
    uint64_t now) {
	uint64_t decay = pages_decay_ns();
	extent_t *batch = purge_pick_locked(p, room, lasting, now);
	extent_t *spare = NULL;
	if (p->huge_spare != NULL && (room == 0 ||
	    (now >= p->spare_since && now - p->spare_since >= decay)))
		spare = huge_spare_drop_locked(p);
	if (batch == NULL && spare == NULL)
		return;
	mutex_unlock(&p->lock);
	for (extent_t *e = batch; e != NULL; e = e->dnext)
		os_purge_forced((void *)e->dlo, run_ndirty(e));
	int err = spare != NULL ? os_unmap((void *)spare->addr, spare->size) : 0;
	mutex_lock(&p->lock);
	if (spare != NULL)
		huge_spare_unmapped_locked(p, spare, err);
	if (batch != NULL)
		purge_finish_locked(p, batch);
}

/* What p may keep dirty now, without a collapse: `lasting` (dirty_max, or
 * what its recent peak of active bytes leaves room for: memory it needed
 * within the last decay time or two) for as long as the decay time, and up
 * to `room` (PAGES_ROOM times that peak) for a tenth of it: pages freed and
 * allocated again at once stay dirty. */
static void pages_keep(pages_t *p, uint64_t now, size_t *room,
    size_t *lasting) {
	size_t active = p->stats.active, peak = pages_recent_peak(p, now);
	*lasting = MAX(opt_dirty_max, peak - active);
	*room = MAX(opt_dirty_max, PAGES_ROOM * peak - active);
}

/* After a run was freed: purge what p should not keep (pages_keep). When
 * the heap has collapsed (the active bytes fell below an eighth of their
 * recent peak and a quarter of dirty_max: the program freed most of what it
 * had), it keeps an eighth of dirty_max instead, if that guess is allowed. */
static void pages_maybe_purge(pages_t *p) {
	if (p->dirty.dnext == &p->dirty)
		return;
	uint64_t now = os_now_ns(), decay = pages_decay_ns();
	size_t active = p->stats.active, peak = pages_recent_peak(p, now);
	size_t keep = opt_dirty_max / 8;
	if (active < peak / 8 && active < opt_dirty_max / 4 &&
	    p->stats.dirty > keep && guess_allowed(&p->collapsed, now)) {
		guess_made(&p->collapsed, now, peak);
		pages_purge_locked(p, keep, keep, now);
		return;
	}
	size_t room, lasting;
	pages_keep(p, now, &room, &lasting);
	extent_t *old = p->dirty.dnext;
	if (p->stats.dirty > room || pages_aged(old, now, decay) ||
	    (p->stats.dirty > lasting &&
	    pages_aged(old, now, decay / PAGES_YOUNG_DIV)))
		pages_purge_locked(p, room, lasting, now);
}

void pages_purge(pages_t *p, bool force) {
	mutex_lock(&p->lock);
	if (force)
		pages_purge_locked(p, 0, 0, os_now_ns());
	else
		pages_maybe_purge(p);
	mutex_unlock(&p->lock);
}

void pages_purge_left(pages_t *p) {
	mutex_lock(&p->lock);
	uint64_t now = os_now_ns();
	if (p->stats.dirty != 0 && guess_allowed(&p->left, now)) {
		guess_made(&p->left, now, pages_recent_peak(p, now));
		pages_purge_locked(p, 0, 0, now);
	}
	mutex_unlock(&p->lock);
}

/* When p next has something to purge by age (UINT64_MAX: never). */
static uint64_t pages_next_due(pages_t *p, uint64_t now) {
	uint64_t decay = pages_decay_ns(), next = UINT64_MAX;
	if (p->huge_spare != NULL)
		next = pages_add_sat(p->spare_since, decay);
	if (p->dirty.dnext == &p->dirty)
		return next;
	uint64_t since = p->dirty.dnext->dirty_since;
	next = MIN(next, pages_add_sat(since, decay));
	size_t room, lasting;
	pages_keep(p, now, &room, &lasting);
	if (p->stats.dirty > lasting)
		next = MIN(next, pages_add_sat(since, decay / PAGES_YOUNG_DIV));
	return next;
}

uint64_t pages_purge_aged(pages_t *p, uint64_t now) {
	if (mutex_trylock(&p->lock) != 0)
		return now + PAGES_BUSY_NS;
	size_t room, lasting;
	pages_keep(p, now, &room, &lasting);
	pages_purge_locked(p, room, lasting, now);
	uint64_t next = pages_next_due(p, now);
	mutex_unlock(&p->lock);
	return next;
}

void pages_postfork_child(pages_t *p) {
	if (p->purging == NULL || mutex_held(&p->lock))
		return;  /* held: the frame a signal handler forked from has it */
	mutex_lock(&p->lock);
	uint64_t now = os_now_ns();
	extent_t *next;
	for (extent_t *e = p->purging; e != NULL; e = next) {
		next = e->next;
		if (e->dprev == (extent_t *)(void *)&pages_purge_self)
			continue;  /* this thread's: its frame lists them */
		purging_unlink(p, e);
		e->dlo = e->addr;
		e->dhi = e->addr + e->size;
		e->dirty_since = now;
		run_insert(p, run_coalesce(p, e));
	}
	mutex_unlock(&p->lock);
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

/* Where in the free run e (at least size bytes once aligned) a run of size
 * bytes aligned to align goes: over e's dirty pages when it has some (they
 * are likely resident: no page faults), else at its start. A slab in a run
 * bigger than a chunk (a chunk just mapped for it, merged with the free run
 * next to it) goes at the start: new chunks are mapped below older ones. */
static uintptr_t run_place(const extent_t *e, size_t size, size_t align,
    extent_kind_t kind) {
	uintptr_t first = ALIGN_UP(e->addr, align);
	if (run_ndirty(e) == 0 ||
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
	extent_t *e = run_find(p, need, kind == EXTENT_SLAB ? PAGES_CHUNK
	    : SIZE_MAX);
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
	extent_t *e = desc != NULL ? run_take(p, need, kind) : NULL;
	uintptr_t start = e != NULL ? run_place(e, size, MAX(alignment, PAGE),
	    kind) : 0;
	if (e != NULL)
		*zeroed = !(start < e->dhi && e->dlo < start + size);
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
	pages_note_active(p);
	mutex_unlock(&p->lock);
	return desc;
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
			BM_ASSERT(run_ndirty(e) == 0 || (e->dlo >= e->addr &&
			    e->dhi <= e->addr + e->size && e->dlo < e->dhi));
			dirty += run_ndirty(e);
		}
	}
	size_t listed = 0;
	for (extent_t *e = p->dirty.dnext; e != &p->dirty; e = e->dnext) {
		BM_ASSERT(e->kind == EXTENT_FREE && run_ndirty(e) != 0);
		listed += run_ndirty(e);
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

/* The dirty span of the freed run [addr, addr+size): the hull of its
 * resident pages when they fill at least a quarter of it, else their largest
 * stretch, the others being purged now (they are free: nothing is lost).
 * The whole run when the kernel cannot tell. */
static void run_touched_span(pages_t *p, extent_t *f) {
	unsigned char vec[PAGES_RESIDENT_BATCH];
	pages_touched_t t = { 0, 0, 0, 0, 0 };
	uintptr_t cur = 0;
	for (uintptr_t at = f->addr; at < f->addr + f->size;
	    at += PAGES_RESIDENT_BATCH * PAGE) {
		size_t n = MIN(PAGES_RESIDENT_BATCH, (f->addr + f->size - at) / PAGE);
		if (os_resident_pages((void *)at, n, vec) != 0)
			return;
		pages_touched_add(&t, at, vec, n, &cur);
	}
	if (t.count == 0) {
		run_set_clean(f);
		return;
	}
	if (t.count >= (t.hi - t.lo) / PAGES_TOUCHED_DENSE) {
		f->dlo = t.lo;
		f->dhi = t.hi;
		return;
	}
	if (t.lo < t.best_lo)
		os_purge_forced((void *)t.lo, t.best_lo - t.lo);
	if (t.best_hi < t.hi)
		os_purge_forced((void *)t.best_hi, t.hi - t.best_hi);
	p->stats.purged += t.count - (t.best_hi - t.best_lo);
	f->dlo = t.best_lo;
	f->dhi = t.best_hi;
}

/* List [addr, addr+size) as a new dirty free run, merged with neighbours. */
static void run_list_freed(pages_t *p, uintptr_t addr, size_t size) {
	extent_t *f = desc_get_locked(p);
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
	f = run_coalesce(p, f);
	run_insert(p, f);
	pages_check_locked(p);
}

/* run_list_freed, then purge what the policy says is due. */
static void run_release(pages_t *p, uintptr_t addr, size_t size) {
	run_list_freed(p, addr, size);
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
	pages_note_active(p);
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

/* Keep the freed huge run desc (out of the rtree already) as the spare,
 * unless the spare there is as large; true when kept. Its pages past the
 * first PAGES_HUGE_KEEP are purged before anyone can take it. The fault
 * build keeps none: its tests count on every huge allocation mapping. */
static bool huge_spare_keep(pages_t *p, extent_t *desc) {
#ifdef BM_FAULT_INJECT
	return false;
#endif
	if (opt_dirty_decay_ms == 0)
		return false;
	mutex_lock(&p->lock);
	bool larger = p->huge_spare == NULL || p->huge_spare->size < desc->size;
	mutex_unlock(&p->lock);
	if (!larger)
		return false;
	os_purge_forced((void *)(desc->addr + PAGES_HUGE_KEEP),
	    desc->size - PAGES_HUGE_KEEP);
	mutex_lock(&p->lock);
	extent_t *old = huge_spare_drop_locked(p);
	p->huge_spare = desc;
	p->spare_since = os_now_ns();
	p->stats.spare = desc->size;
	p->stats.mapped += desc->size;
	p->stats.huge -= desc->size;
	p->stats.n_huge--;
	mutex_unlock(&p->lock);
	huge_account(-1, -(int64_t)desc->size);
	if (old != NULL) {
		int err = os_unmap((void *)old->addr, old->size);
		mutex_lock(&p->lock);
		huge_spare_unmapped_locked(p, old, err);
		mutex_unlock(&p->lock);
	}
	return true;
}

extent_t *extent_huge_alloc(pages_t *p, size_t size, size_t alignment,
    bool *zeroed) {
	mutex_lock(&p->lock);
	extent_t *desc = huge_spare_take_locked(p, size, alignment);
	mutex_unlock(&p->lock);
	if (desc != NULL) {
		extent_tag(desc, EXTENT_HUGE, p->owner);
		rtree_set((void *)desc->addr, desc);
		huge_account(1, (int64_t)desc->size);
		*zeroed = false;
		return desc;
	}
	*zeroed = true;
	desc = extent_desc_get(p);
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
	if (huge_spare_keep(p, desc))
		return;
	int err = os_unmap((void *)desc->addr, desc->size);
	mutex_lock(&p->lock);
	p->stats.huge -= desc->size;
	p->stats.n_huge--;
	huge_account(-1, -(int64_t)desc->size);
	desc_put_locked(p, desc);
	/* A mapping the kernel kept (ENOMEM at its limit on mappings: the unmap
	 * would split a merged one) becomes free pages, under that descriptor
	 * (the cache gives it back first; its rtree leaves exist). */
	if (err != 0) {
		p->stats.mapped += desc->size;
		run_release(p, desc->addr, desc->size);
	}
	mutex_unlock(&p->lock);
}

int extent_huge_resize(pages_t *p, extent_t *desc, size_t new_size) {
	void *old = (void *)desc->addr;
	/* Leaves for all of it (extent_huge_free may register its last page). */
	if (new_size > desc->size && rtree_reserve(old, new_size) != 0)
		return ENOMEM;
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
