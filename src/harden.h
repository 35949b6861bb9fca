/*
 * harden: the hardened build's state of an arena, below the arena: the
 * delayed frees (the blocks its thread freed last, kept from reuse; the one
 * let go is picked at random among the oldest), the kept guarded runs
 * (freed large runs whose guard page stays set, out of the rtree, for the
 * next block of their size: a list per size, the most recently kept
 * first, and one list of all by age, whose oldest go back to the pages
 * beyond HARDEN_KEPT_BYTES; once kept for dirty_decay_ms a run's pages go
 * back to the kernel like any dirty run's, the run and its guard still
 * kept) and the guard pages themselves.
 * Locks: the delayed frees are the owner's only; the kept runs have their
 * own lock (rank LEAF), since any thread frees large runs; the kernel
 * purges kept runs taken off the lists, without it. Default builds:
 * harden_t is one byte and callers test config_hardened before calling.
 */
#ifndef BM_HARDEN_H
#define BM_HARDEN_H

#include "common.h"
#include "extent.h"
#include "mutex.h"
#include "secret.h"
#include "slab.h"

/* Bytes of guard after each large and huge run. */
#define HARDEN_GUARD (config_hardened ? PAGE : 0)
#define HARDEN_DELAYED 64             /* delayed frees per arena */
#define HARDEN_DELAYED_PICK 8         /* the oldest, among which one goes */
#define HARDEN_KEPT_MAX ((size_t)1 << 20)    /* the largest kept (usable) */
#define HARDEN_KEPT_BYTES ((size_t)16 << 20) /* all kept runs together (as
                                             * dirty_max's default) */
/* Kept runs by size in pages (guard included): 2 to HARDEN_KEPT_MAX / PAGE
 * + 1 pages. */
#define HARDEN_KEPT_BINS (HARDEN_KEPT_MAX / PAGE)

typedef struct {
	void *p;
	slab_t *s;
} harden_delayed_t;

typedef struct {
#ifdef BM_HARDENED
	harden_delayed_t delayed[HARDEN_DELAYED];
	unsigned delayed_head;          /* the oldest delayed free */
	unsigned delayed_pick;          /* the next one let go: delayed_head
	                                 * + this (< HARDEN_DELAYED_PICK) */
	uint64_t rng;                   /* picks the one let go */
	uint64_t rng_bits;              /* unused random bits, above them a
	                                 * one (fewer than 3 below it: none) */
	mutex_t kept_lock;
	extent_t *kept[HARDEN_KEPT_BINS]; /* newest first (next, prev) */
	extent_t *kept_old, *kept_new;  /* by age, oldest first (dnext,
	                                 * dprev) */
	extent_t *kept_fresh;           /* the oldest not purged since kept:
	                                 * those before it by age are purged,
	                                 * it and those after are dirty (their
	                                 * dirty_since: when kept) */
	size_t kept_bytes;              /* their sizes */
	size_t kept_dirty;              /* the dirty ones' bytes, guards out
	                                 * (published in pages->held_dirty) */
	pages_t *pages;                 /* the arena's pages */
#else
	char none;
#endif
} harden_t;

/* Set up h for the arena of pages p (seed: a secret-derived number for its
 * generator), and make p's purger purge h's aged kept runs
 * (p->held_purge). 0, or an errno value. */
int harden_init(harden_t *h, pages_t *p, uint64_t seed);
/* Take the oldest delayed block out (its slab in *s_out), checked as
 * harden_delay checks the one it lets go; NULL when none is left (taking
 * them all out passes each slot once). Owner only. */
void *harden_delayed_pop(harden_t *h, slab_t **s_out);
/* True when p is among the delayed frees. Owner only. */
bool harden_delayed_has(const harden_t *h, const void *p);
/* Delay the free of p, in slab s: p joins the delayed frees and the block
 * let go in exchange is returned (its slab in *s_out), checked for writes
 * since its free; NULL while there are free slots. Owner only.
 * The slots from delayed_head on are in order of age; the block let go is
 * one of the HARDEN_DELAYED_PICK oldest, picked at random; the oldest takes
 * its slot and p the oldest's, which becomes the youngest. Nearly first
 * in, first out: the order in which a program freed its blocks, and so its
 * locality, mostly survives. The next one to go is picked a free ahead and
 * fetched meanwhile. */
BM_INLINE void *harden_delay(harden_t *h, slab_t *s, void *p,
    slab_t **s_out) {
#ifdef BM_HARDENED
	unsigned head = h->delayed_head % HARDEN_DELAYED;
	unsigned pick = (head + h->delayed_pick) % HARDEN_DELAYED;
	harden_delayed_t old = h->delayed[pick];
	h->delayed[pick] = h->delayed[head];
	h->delayed[head].p = p;
	h->delayed[head].s = s;
	h->delayed_head = head + 1;
	if (UNLIKELY(h->rng_bits < HARDEN_DELAYED_PICK))
		h->rng_bits = secret_rng_next(&h->rng) | (uint64_t)1 << 63;
	h->delayed_pick = (unsigned)(h->rng_bits % HARDEN_DELAYED_PICK);
	h->rng_bits /= HARDEN_DELAYED_PICK;
	__builtin_prefetch(h->delayed[(head + 1 + h->delayed_pick) %
	    HARDEN_DELAYED].p, 1);
	if (old.p != NULL) {
		const uintptr_t *w = old.p;
		if (UNLIKELY(w[0] != 0 || w[1] != slab_key(old.s)))
			slab_delayed_check(old.s, old.p);
	}
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

/* Make the last page of run e a guard (os_guard: a page-table marker where
 * the kernel has them, else mprotect; when the kernel refuses that, having
 * too many mappings, it stays an unused accessible page) / lift it. */
void harden_guard(const extent_t *e);
void harden_unguard(const extent_t *e);
/* A kept run of size bytes (guard included) aligned to alignment, back in
 * the rtree, or NULL. */
extent_t *harden_kept_take(harden_t *h, size_t size, size_t alignment);
/* Keep e, a freed guarded run of p, for reuse (out of the rtree, so that
 * freeing it again is an invalid pointer); the oldest runs kept before may
 * go back to p to make room, and those kept for the decay time are purged.
 * False when e is too large to keep. */
bool harden_kept_put(harden_t *h, pages_t *p, extent_t *e);
/* Give every kept run back to p. */
void harden_kept_flush(harden_t *h, pages_t *p);

#endif
