/*
 * harden: delayed frees, kept guarded runs, guard pages (hardened builds;
 * in default builds these functions are empty and never called).
 * Kept runs past the decay time are purged off the lists, the lock
 * dropped, then kept again as the oldest; a fork child of a thread purging
 * them does without those runs (their pages stay mapped, unused).
 */
#include "harden.h"
#include "conf.h"
#include "os.h"
#include "purge.h"
#include "rtree.h"
#include "secret.h"

#ifdef BM_HARDENED
static uint64_t harden_held_purge(pages_t *p, uint64_t now);
#endif

int harden_init(harden_t *h, pages_t *p, uint64_t seed) {
#ifdef BM_HARDENED
	h->rng = seed;
	h->pages = p;
	p->held = h;
	__atomic_store_n(&p->held_purge, harden_held_purge, __ATOMIC_RELEASE);
	return mutex_init(&h->kept_lock, "arena.kept", MUTEX_RANK_LEAF);
#else
	(void)h;
	(void)p;
	(void)seed;
	return 0;
#endif
}

void *harden_delayed_pop(harden_t *h, slab_t **s_out) {
#ifdef BM_HARDENED
	/* From the oldest on; delayed_head follows, so that taking them all
	 * out passes each slot once. */
	for (unsigned k = 0; k < HARDEN_DELAYED; k++) {
		unsigned i = h->delayed_head++ % HARDEN_DELAYED;
		harden_delayed_t d = h->delayed[i];
		if (d.p != NULL) {
			const uintptr_t *w = d.p;
			if (UNLIKELY(w[0] != 0 || w[1] != slab_key(d.s)))
				slab_delayed_check(d.s, d.p);
			h->delayed[i].p = NULL;
			*s_out = d.s;
			return d.p;
		}
	}
#else
	(void)h;
	(void)s_out;
#endif
	return NULL;
}

bool harden_delayed_has(const harden_t *h, const void *p) {
#ifdef BM_HARDENED
	for (unsigned i = 0; i < HARDEN_DELAYED; i++) {
		if (h->delayed[i].p == p)
			return true;
	}
#else
	(void)h;
	(void)p;
#endif
	return false;
}

void harden_guard(const extent_t *e) {
	os_guard((void *)(e->addr + e->size - PAGE), PAGE);
}

void harden_unguard(const extent_t *e) {
	os_unguard((void *)(e->addr + e->size - PAGE), PAGE);
}

#ifdef BM_HARDENED
/* The list of kept runs of e's size (size: a multiple of PAGE, 2 to
 * HARDEN_KEPT_BINS + 1 pages). */
static extent_t **harden_kept_bin(harden_t *h, size_t size) {
	return &h->kept[size / PAGE - 2];
}

/* Add n dirty bytes (or take them away) and publish the sum for the
 * purger (kept_lock held). */
static void harden_kept_dirty_add(harden_t *h, size_t n, bool add) {
	h->kept_dirty = add ? h->kept_dirty + n : h->kept_dirty - n;
	__atomic_store_n(&h->pages->held_dirty, h->kept_dirty,
	    __ATOMIC_RELAXED);
}

/* Keep e: the newest of its size, and by age the newest (a dirty run) or
 * the oldest (old: a purged one) (kept_lock held). */
static void harden_kept_link(harden_t *h, extent_t *e, bool old) {
	extent_t **bin = harden_kept_bin(h, e->size);
	e->prev = NULL;
	e->next = *bin;
	if (*bin != NULL)
		(*bin)->prev = e;
	*bin = e;
	if (old) {
		e->dprev = NULL;
		e->dnext = h->kept_old;
		if (h->kept_old != NULL)
			h->kept_old->dprev = e;
		else
			h->kept_new = e;
		h->kept_old = e;
	} else {
		e->dnext = NULL;
		e->dprev = h->kept_new;
		if (h->kept_new != NULL)
			h->kept_new->dnext = e;
		else
			h->kept_old = e;
		h->kept_new = e;
	}
	h->kept_bytes += e->size;
	if (extent_dirty_bytes(e) != 0) {
		if (h->kept_fresh == NULL)
			h->kept_fresh = e;   /* all before it are purged */
		harden_kept_dirty_add(h, extent_dirty_bytes(e), true);
	}
}

/* Take the kept run e off both lists (kept_lock held). */
static void harden_kept_unlink(harden_t *h, extent_t *e) {
	if (e == h->kept_fresh)
		h->kept_fresh = e->dnext;
	if (extent_dirty_bytes(e) != 0)
		harden_kept_dirty_add(h, extent_dirty_bytes(e), false);
	if (e->prev != NULL)
		e->prev->next = e->next;
	else
		*harden_kept_bin(h, e->size) = e->next;
	if (e->next != NULL)
		e->next->prev = e->prev;
	if (e->dprev != NULL)
		e->dprev->dnext = e->dnext;
	else
		h->kept_old = e->dnext;
	if (e->dnext != NULL)
		e->dnext->dprev = e->dprev;
	else
		h->kept_new = e->dprev;
	h->kept_bytes -= e->size;
}

/* Give the kept runs from e on (linked by dnext, off the lists) back to p,
 * their guards lifted. */
static void harden_kept_release(pages_t *p, extent_t *e) {
	while (e != NULL) {
		extent_t *next = e->dnext;
		harden_unguard(e);
		extent_run_free(p, e, true);
		e = next;
	}
}

/* Take the oldest runs off the lists while they add up to more than
 * HARDEN_KEPT_BYTES; they are returned, linked by dnext (kept_lock held). */
static extent_t *harden_kept_trim_locked(harden_t *h) {
	extent_t *out = NULL;
	while (h->kept_bytes > HARDEN_KEPT_BYTES) {
		extent_t *old = h->kept_old;
		harden_kept_unlink(h, old);
		old->dnext = out;
		out = old;
	}
	return out;
}

/* Take off the lists the dirty runs kept for the decay time by now, onto
 * *due (linked by dnext); when the next comes due (UINT64_MAX: none, or
 * never by time) (kept_lock held). */
static uint64_t harden_kept_due_locked(harden_t *h, uint64_t now,
    extent_t **due) {
	if (opt_dirty_decay_ms < 0)
		return UINT64_MAX;
	uint64_t decay = (uint64_t)opt_dirty_decay_ms * 1000000u;
	extent_t *e;
	while ((e = h->kept_fresh) != NULL && now >= e->dirty_since &&
	    now - e->dirty_since >= decay) {
		harden_kept_unlink(h, e);
		e->dnext = *due;
		*due = e;
	}
	if (e == NULL)
		return UINT64_MAX;
	return e->dirty_since > UINT64_MAX - decay ? UINT64_MAX
	    : e->dirty_since + decay;
}

/* Purge the runs on due (off the lists, no lock held) and keep them again,
 * clean, as the oldest; what goes over HARDEN_KEPT_BYTES goes back to p. */
static void harden_kept_purge_due(harden_t *h, pages_t *p, extent_t *due) {
	for (extent_t *e = due; e != NULL; e = e->dnext) {
		os_purge_forced((void *)e->addr, extent_dirty_bytes(e));
		extent_set_clean(e);
	}
	mutex_lock(&h->kept_lock);
	while (due != NULL) {
		extent_t *next = due->dnext;
		harden_kept_link(h, due, true);
		due = next;
	}
	extent_t *out = harden_kept_trim_locked(h);
	mutex_unlock(&h->kept_lock);
	harden_kept_release(p, out);
}

/* p->held_purge: the background purger's pass over p's kept runs; it never
 * waits for their lock (busy: retried soon, as purge_aged does). */
static uint64_t harden_held_purge(pages_t *p, uint64_t now) {
	harden_t *h = p->held;
	extent_t *due = NULL;
	if (mutex_trylock(&h->kept_lock) != 0)
		return now + PAGES_BUSY_NS;
	uint64_t next = harden_kept_due_locked(h, now, &due);
	mutex_unlock(&h->kept_lock);
	if (due != NULL)
		harden_kept_purge_due(h, p, due);
	return next;
}
#endif

extent_t *harden_kept_take(harden_t *h, size_t size, size_t alignment) {
	extent_t *e = NULL;
#ifdef BM_HARDENED
	if (size > HARDEN_KEPT_MAX + PAGE || size < 2 * PAGE)
		return NULL;
	uintptr_t mask = MAX(alignment, PAGE) - 1;
	mutex_lock(&h->kept_lock);
	e = *harden_kept_bin(h, size);
	while (e != NULL && (e->addr & mask) != 0)
		e = e->next;
	if (e != NULL)
		harden_kept_unlink(h, e);
	mutex_unlock(&h->kept_lock);
	if (e != NULL)
		rtree_set((void *)e->addr, e);
#else
	(void)h;
	(void)size;
	(void)alignment;
#endif
	return e;
}

bool harden_kept_put(harden_t *h, pages_t *p, extent_t *e) {
#ifdef BM_HARDENED
	if (e->size > HARDEN_KEPT_MAX + PAGE || e->size < 2 * PAGE)
		return false;
	rtree_set((void *)e->addr, NULL);
	extent_t *due = NULL;
	mutex_lock(&h->kept_lock);
	uint64_t now = os_now_ns();   /* under the lock: kept in time order */
	e->dirty_since = now;
	e->dlo = e->addr;
	e->dhi = e->addr + e->size - PAGE;
	harden_kept_link(h, e, false);
	extent_t *out = harden_kept_trim_locked(h);
	harden_kept_due_locked(h, now, &due);
	mutex_unlock(&h->kept_lock);
	harden_kept_release(p, out);
	if (due != NULL)
		harden_kept_purge_due(h, p, due);
	return true;
#else
	(void)h;
	(void)p;
	(void)e;
	return false;
#endif
}

void harden_kept_flush(harden_t *h, pages_t *p) {
#ifdef BM_HARDENED
	mutex_lock(&h->kept_lock);
	extent_t *all = h->kept_old;
	h->kept_old = h->kept_new = h->kept_fresh = NULL;
	for (unsigned i = 0; i < HARDEN_KEPT_BINS; i++)
		h->kept[i] = NULL;
	h->kept_bytes = 0;
	harden_kept_dirty_add(h, h->kept_dirty, false);
	mutex_unlock(&h->kept_lock);
	harden_kept_release(p, all);  /* the age list, linked by dnext */
#else
	(void)h;
	(void)p;
#endif
}
