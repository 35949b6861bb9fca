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

void *harden_delay(harden_t *h, slab_t *s, void *p, slab_t **s_out) {
#ifdef BM_HARDENED
	/* The slots from delayed_head on are in order of age; the block let
	 * go is one of the HARDEN_DELAYED_PICK oldest, picked at random; the
	 * oldest takes its slot and p the oldest's, which becomes the
	 * youngest. Nearly first in, first out: the order in which a program
	 * freed its blocks, and so its locality, mostly survives. */
	unsigned head = h->delayed_head % HARDEN_DELAYED;
	unsigned pick = (head + (unsigned)(secret_rng_next(&h->rng) %
	    HARDEN_DELAYED_PICK)) % HARDEN_DELAYED;
	harden_delayed_t old = h->delayed[pick];
	h->delayed[pick] = h->delayed[head];
	h->delayed[head].p = p;
	h->delayed[head].s = s;
	h->delayed_head++;
	if (old.p != NULL)
		slab_delayed_check(old.s, old.p);
	*s_out = old.s;
	return old.p;
#else
	(void)h;
	(void)s;
	(void)p;
	(void)s_out;
	return NULL;
#endif
}

void *harden_delayed_pop(harden_t *h, slab_t **s_out) {
#ifdef BM_HARDENED
	for (unsigned i = 0; i < HARDEN_DELAYED; i++) {
		harden_delayed_t d = h->delayed[i];
		if (d.p != NULL) {
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
	os_commit((void *)(e->addr + e->size - PAGE), PAGE);
}

extent_t *harden_kept_take(harden_t *h, size_t size, size_t alignment) {
	extent_t *e = NULL;
#ifdef BM_HARDENED
	uintptr_t mask = MAX(alignment, PAGE) - 1;
	mutex_lock(&h->kept_lock);
	for (unsigned i = 0; i < HARDEN_KEPT && e == NULL; i++) {
		extent_t *k = h->kept[i];
		if (k != NULL && k->size == size && (k->addr & mask) == 0) {
			e = k;
			h->kept[i] = NULL;
			h->kept_bytes -= size;
		}
	}
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

#ifdef BM_HARDENED
/* Give the kept run e back to p, its guard lifted. */
static void harden_kept_release(pages_t *p, extent_t *e) {
	harden_unguard(e);
	extent_run_free(p, e, true);
}
#endif

bool harden_kept_put(harden_t *h, pages_t *p, extent_t *e) {
#ifdef BM_HARDENED
	if (e->size > HARDEN_KEPT_MAX + PAGE)
		return false;
	rtree_set((void *)e->addr, NULL);
	extent_t *out[HARDEN_KEPT];
	unsigned nout = 0, i = 0;
	mutex_lock(&h->kept_lock);
	while (i < HARDEN_KEPT && h->kept[i] != NULL)
		i++;
	/* Make room in slots and bytes, giving kept runs back in turn. */
	while (i == HARDEN_KEPT ||
	    h->kept_bytes + e->size > HARDEN_KEPT_BYTES) {
		unsigned k = h->kept_next++ % HARDEN_KEPT;
		if (h->kept[k] != NULL) {
			out[nout++] = h->kept[k];
			h->kept_bytes -= h->kept[k]->size;
			h->kept[k] = NULL;
		}
		if (i == HARDEN_KEPT)
			i = k;
	}
	h->kept[i] = e;
	h->kept_bytes += e->size;
	mutex_unlock(&h->kept_lock);
	while (nout > 0)
		harden_kept_release(p, out[--nout]);
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
	extent_t *kept[HARDEN_KEPT];
	mutex_lock(&h->kept_lock);
	for (unsigned i = 0; i < HARDEN_KEPT; i++) {
		kept[i] = h->kept[i];
		h->kept[i] = NULL;
	}
	h->kept_bytes = 0;
	mutex_unlock(&h->kept_lock);
	for (unsigned i = 0; i < HARDEN_KEPT; i++) {
		if (kept[i] != NULL)
			harden_kept_release(p, kept[i]);
	}
#else
	(void)h;
	(void)p;
#endif
}
