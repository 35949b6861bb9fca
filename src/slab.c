/*
 * slab: carving, remote-free collection, the double-free confirmation, and
 * the checks of what freed blocks hold (links; in hardened builds their
 * zeros and the canaries after the blocks' bytes).
 * Owner-only except slab_free_remote, which is one CAS loop on remote_free
 * followed by a seq_cst read of `full` (paired with the owner's seq_cst
 * store of `full` and re-read of remote_free in the arena: one of the two
 * sides always sees the other, so a full slab with remote frees is queued).
 */
#include "slab.h"
#include "rtree.h"
#include "conf.h"
#include "log.h"
#include "secret.h"

#include <errno.h>
#include <string.h>

/* Slab incarnations so far: mixed into the keys, so that a slab set up
 * again at the same address, for the same size, gets keys of its own. */
static _Atomic uint64_t slab_generation;

void slab_init(slab_t *s, unsigned bin, size_t bs) {
	uint64_t gen = atomic_fetch_add_explicit(&slab_generation, 1,
	    memory_order_relaxed) << 2;
	s->ext.szind = (uint16_t)bin;
	s->free = NULL;
	s->key = (uintptr_t)secret_mix(s->ext.addr, gen | 1) | 1;
	s->link_key = (uintptr_t)secret_mix(s->ext.addr, gen | 2);
	s->canary = config_hardened ? secret_mix(s->ext.addr, gen | 3) : 0;
	s->div = UINT64_MAX / bs + 1;
	uint64_t mul = s->div;
	if (mul * bs == 0)     /* a power of two: e would be 0 */
		mul++;
	mul |= 1;              /* odd: off -> off * mul is one to one */
	s->ext.mul = mul;
	atomic_store_explicit(&s->ext.lim, 0, memory_order_relaxed);
	s->watch = SLAB_GATE_OPEN;
	s->gate = 0 - SLAB_GATE_OPEN;
	s->nblocks = (uint32_t)(s->ext.size / bs);
	atomic_store_explicit(&s->carved, 0, memory_order_relaxed);
	s->block_size = (uint32_t)bs;
	BM_ASSERT(((uint64_t)s->nblocks + 1) * (mul * bs) < mul);
	s->state = 0;
	s->next = s->prev = NULL;
	atomic_store_explicit(&s->remote_free, NULL, memory_order_relaxed);
	atomic_store_explicit(&s->full, 0, memory_order_relaxed);
}

int slab_extend(slab_t *s) {
	uint32_t carved = atomic_load_explicit(&s->carved, memory_order_relaxed);
	uint32_t end = s->nblocks * s->block_size;
	if (carved >= end)
		return ENOMEM;
	uintptr_t start = s->ext.addr + carved;
	uintptr_t stop = ALIGN_UP(start + 1, PAGE);  /* end of this page */
	uint32_t n = (uint32_t)((stop - start + s->block_size - 1) /
	    s->block_size);
	if (n > (end - carved) / s->block_size)
		n = (end - carved) / s->block_size;
	if (config_hardened && !s->clean)
		memset((void *)start, 0, (size_t)n * s->block_size);
	void **head = s->free;
	for (uint32_t i = n; i-- > 0;) {
		void **b = (void **)(start + (uintptr_t)i * s->block_size);
		b[0] = (void *)slab_link(s, b, (uintptr_t)head);
		b[1] = (void *)slab_key(s);
		head = b;
	}
	s->free = head;
	carved += n * s->block_size;
	atomic_store_explicit(&s->ext.lim, (uint64_t)(carved / s->block_size) *
	    (s->ext.mul * s->block_size), memory_order_relaxed);
	atomic_store_explicit(&s->carved, carved, memory_order_relaxed);
	return 0;
}

/* What a walk of s's lists needs, read once (the walk calls out only when
 * it finds a bad link, so these stay in registers). */
typedef struct {
	uintptr_t addr, link_key;
	uint32_t carved, nblocks;
} slab_walk_t;

static slab_walk_t slab_walk(const slab_t *s) {
	return (slab_walk_t){ s->ext.addr, s->link_key,
	    atomic_load_explicit(&s->carved, memory_order_relaxed), s->nblocks };
}

/* slab_next for a walk, which only reads the blocks it passes: the block
 * after b, or NULL at the end of the list or after reporting a bad link.
 * Only the bound is checked (reading inside the carved part is safe); a
 * link off a block boundary is caught when it is popped, or, as the tail
 * that collection writes to, by slab_collect itself. */
static void *slab_walk_next(const slab_walk_t *w, slab_t *s, void *b) {
	uintptr_t next = *(uintptr_t *)b ^ (uintptr_t)b ^ w->link_key;
	if (LIKELY(next - w->addr < w->carved))
		return (void *)next;
	return next == 0 ? NULL : slab_corrupt(s, b);
}

uint32_t slab_collect(slab_t *s) {
	if (atomic_load_explicit(&s->remote_free, memory_order_relaxed) == NULL)
		return 0;
	void **list = atomic_exchange_explicit(&s->remote_free, NULL,
	    memory_order_acquire);
	slab_walk_t w = slab_walk(s);
	uint32_t n = 0;
	void **tail = list, **prev = NULL;
	for (void **b = list; b != NULL; b = slab_walk_next(&w, s, b)) {
		prev = tail;
		tail = b;
		if (UNLIKELY(++n > w.nblocks)) {  /* a cycle */
			slab_corrupt(s, b);
			break;
		}
	}
	if (UNLIKELY(tail != list && !slab_block_valid(s, tail))) {
		slab_corrupt(s, prev);  /* off a block boundary: drop it */
		tail = prev;
		n--;
	}
	if (tail != NULL) {
		tail[0] = (void *)slab_link(s, tail, (uintptr_t)s->free);
		s->free = list;
	}
	s->gate -= n;
	return n;
}

bool slab_free_remote(slab_t *s, void *p) {
	void **b = p;
	b[1] = (void *)slab_key(s);
	void *head = atomic_load_explicit(&s->remote_free, memory_order_relaxed);
	do {
		b[0] = (void *)slab_link(s, b, (uintptr_t)head);
	} while (!atomic_compare_exchange_weak_explicit(&s->remote_free, &head,
	    b, memory_order_seq_cst, memory_order_relaxed));
	if (!atomic_load_explicit(&s->full, memory_order_seq_cst))
		return false;
	return !atomic_exchange_explicit(&s->queued, 1, memory_order_acq_rel);
}

static bool list_has(slab_t *s, void *list, void *p) {
	slab_walk_t w = slab_walk(s);
	uint32_t n = 0;
	for (void *b = list; b != NULL; b = slab_walk_next(&w, s, b)) {
		if (b == p)
			return true;
		if (++n > w.nblocks) {
			slab_corrupt(s, b);
			break;
		}
	}
	return false;
}

bool slab_has_free_block(slab_t *s, void *p) {
	return list_has(s, s->free, p) || list_has(s, atomic_load_explicit(
	    &s->remote_free, memory_order_acquire), p);
}

/* Report an error found in the block at p; abort unless abort_on_invalid
 * is off. */
static void slab_report(const char *call, const char *what, const void *p) {
	log_error(opt_abort_on_invalid, "%s(): %s %p", call, what, p);
}

BM_NOINLINE void *slab_alloc_last(slab_t *s, void *b) {
	void *next = (void *)slab_link(s, b, *(uintptr_t *)b);
	if (next != NULL)
		next = slab_corrupt(s, b);
	return slab_pop(s, b, next);
}

BM_NOINLINE void *slab_corrupt(slab_t *s, void *b) {
	(void)s;
	slab_report("malloc", "corrupted free list", b);
	return NULL;
}

bool slab_all_zero_long(const void *p, size_t n) {
	const slab_v2_t *v = p, *e = (const slab_v2_t *)((const char *)p + n);
	slab_v2_t a = { 0, 0 }, b = a, c = a, d = a;
	for (; v + 4 <= e; v += 4) {
		a |= v[0];
		b |= v[1];
		c |= v[2];
		d |= v[3];
	}
	a |= b | c | d | slab_or4(e - 4);
	return (a[0] | a[1]) == 0;
}

BM_NOINLINE void slab_reuse_fail(slab_t *s, void *b) {
	slab_report("malloc", "write after free to", b);
	slab_zero(s, b);
}

BM_NOINLINE void slab_delayed_check(slab_t *s, void *b) {
	const uint64_t *w = b;
	if (UNLIKELY(w[0] != 0 || w[1] != slab_key(s)))
		slab_report("free", "write after free to", b);
}

/* Debug builds: slab s (owned by the caller) is consistent. Its counts:
 * blocks out plus blocks on the local free list make the carved blocks,
 * which do not exceed nblocks, and remote frees are among the blocks out.
 * Its free lists hold carved blocks of s only (inside, on a block boundary;
 * no cycle). Every page of its run maps to s in the rtree. */
void slab_check(slab_t *s) {
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
		BM_ASSERT(nremote <= slab_used(s));
	}
	BM_ASSERT(ncarved <= s->nblocks);
	BM_ASSERT(slab_used(s) + nfree == ncarved);
	BM_ASSERT(s->ext.kind == EXTENT_SLAB && s->ext.size % PAGE == 0);
	for (size_t off = 0; off < s->ext.size; off += PAGE)
		BM_ASSERT(rtree_lookup((void *)(s->ext.addr + off)) == s);
}
