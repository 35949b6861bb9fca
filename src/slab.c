/*
 * slab: carving, remote-free collection and the double-free confirmation.
 * Owner-only except slab_free_remote, which is one CAS loop on remote_free
 * followed by a seq_cst read of `full` (paired with the owner's seq_cst
 * store of `full` and re-read of remote_free in the arena: one of the two
 * sides always sees the other, so a full slab with remote frees is queued).
 */
#include "slab.h"
#include "os.h"

#include <errno.h>
#include <string.h>

uintptr_t slab_free_key;

void slab_boot(void) {
	const void *rnd = os_random_at_exec();
	uintptr_t key = 0;
	if (rnd != NULL)
		memcpy(&key, (const char *)rnd + 8, sizeof(key));
	slab_free_key = key | 1;  /* odd (slab addresses and sizes are even):
	                           * never a valid block pointer */
}

void slab_init(slab_t *s, unsigned bin, size_t bs) {
	s->ext.szind = (uint16_t)bin;
	s->free = NULL;
	s->used = 0;
	s->nblocks = (uint32_t)(s->ext.size / bs);
	s->bump = 0;
	s->block_size = (uint32_t)bs;
	s->magic = (uint32_t)((((uint64_t)1 << 32) + bs - 1) / bs);
	s->state = 0;
	s->next = s->prev = NULL;
	atomic_store_explicit(&s->remote_free, NULL, memory_order_relaxed);
	atomic_store_explicit(&s->full, 0, memory_order_relaxed);
}

int slab_extend(slab_t *s) {
	if (s->bump >= s->nblocks)
		return ENOMEM;
	uintptr_t start = s->ext.addr + (uintptr_t)s->bump * s->block_size;
	uintptr_t stop = ALIGN_UP(start + 1, PAGE);  /* end of this page */
	uint32_t n = (uint32_t)((stop - start + s->block_size - 1) /
	    s->block_size);
	if (n > s->nblocks - s->bump)
		n = s->nblocks - s->bump;
	void **head = s->free;
	for (uint32_t i = n; i-- > 0;) {
		void **b = (void **)(start + (uintptr_t)i * s->block_size);
		b[0] = head;
		head = b;
	}
	s->free = head;
	s->bump += n;
	return 0;
}

uint32_t slab_collect(slab_t *s) {
	if (atomic_load_explicit(&s->remote_free, memory_order_relaxed) == NULL)
		return 0;
	void **list = atomic_exchange_explicit(&s->remote_free, NULL,
	    memory_order_acquire);
	uint32_t n = 0;
	void **tail = list;
	for (void **b = list; b != NULL; b = b[0]) {
		tail = b;
		n++;
	}
	if (tail != NULL) {
		tail[0] = s->free;
		s->free = list;
	}
	s->used -= n;
	return n;
}

bool slab_free_remote(slab_t *s, void *p) {
	void **b = p;
	b[1] = (void *)slab_key(s);
	void *head = atomic_load_explicit(&s->remote_free, memory_order_relaxed);
	do {
		b[0] = head;
	} while (!atomic_compare_exchange_weak_explicit(&s->remote_free, &head,
	    b, memory_order_seq_cst, memory_order_relaxed));
	if (!atomic_load_explicit(&s->full, memory_order_seq_cst))
		return false;
	return !atomic_exchange_explicit(&s->queued, 1, memory_order_acq_rel);
}

static bool list_has(void **list, void *p) {
	for (void **b = list; b != NULL; b = b[0]) {
		if (b == p)
			return true;
	}
	return false;
}

bool slab_has_free_block(slab_t *s, void *p) {
	return list_has(s->free, p) || list_has(atomic_load_explicit(
	    &s->remote_free, memory_order_acquire), p);
}
