/*
 * harden: delayed frees, kept guarded runs, guard pages (hardened builds;
 * in default builds these functions are empty and never called).
 */
#include "harden.h"
#include "os.h"
#include "rtree.h"
#include "secret.h"

int harden_init(harden_t *h, uint64_t seed) {
#ifdef BM_HARDENED
	h->rng = seed;
	return mutex_init(&h->kept_lock, "arena.kept", MUTEX_RANK_LEAF);
#else
	(void)h;
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

/* Keep e, the newest of its size and of all (kept_lock held). */
static void harden_kept_link(harden_t *h, extent_t *e) {
	extent_t **bin = harden_kept_bin(h, e->size);
	e->prev = NULL;
	e->next = *bin;
	if (*bin != NULL)
		(*bin)->prev = e;
	*bin = e;
	e->dnext = NULL;
	e->dprev = h->kept_new;
	if (h->kept_new != NULL)
		h->kept_new->dnext = e;
	else
		h->kept_old = e;
	h->kept_new = e;
	h->kept_bytes += e->size;
}

/* Take the kept run e off both lists (kept_lock held). */
static void harden_kept_unlink(harden_t *h, extent_t *e) {
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
	extent_t *out = NULL;
	mutex_lock(&h->kept_lock);
	harden_kept_link(h, e);
	while (h->kept_bytes > HARDEN_KEPT_BYTES) {
		extent_t *old = h->kept_old;
		harden_kept_unlink(h, old);
		old->dnext = out;
		out = old;
	}
	mutex_unlock(&h->kept_lock);
	harden_kept_release(p, out);
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
	h->kept_old = h->kept_new = NULL;
	for (unsigned i = 0; i < HARDEN_KEPT_BINS; i++)
		h->kept[i] = NULL;
	h->kept_bytes = 0;
	mutex_unlock(&h->kept_lock);
	harden_kept_release(p, all);  /* the age list, linked by dnext */
#else
	(void)h;
	(void)p;
#endif
}
