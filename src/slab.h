/*
 * slab: one page run cut into equal blocks. The owning thread (the one that
 * holds the slab's arena) pops and pushes on `free` with no atomics; other
 * threads push on `remote_free` with one CAS, and the owner collects those
 * when `free` runs dry (mimalloc's free-list sharding). Blocks are carved
 * from the untouched part of the slab a page at a time, so pages are touched
 * only when needed.
 * A freed block carries slab_key(s) in its second word; finding the key on
 * free means a double free (confirmed by walking the lists when the caller
 * owns the slab).
 * No locks. Fields above the cache-line split are the owner's only.
 */
#ifndef BM_SLAB_H
#define BM_SLAB_H

#include "common.h"
#include "pages.h"

typedef enum {
	SLAB_CURRENT = 1,  /* the bin allocates from it */
	SLAB_PARTIAL = 2,  /* on the bin's partial list */
	SLAB_FULL = 3,     /* no free block; on no list */
	SLAB_SPARE = 4,    /* empty, kept by the bin for reuse */
} slab_state_t;

typedef struct slab_s slab_t;
struct slab_s {
	extent_t ext;              /* kind EXTENT_SLAB; ext.szind = bin */
	void *free;                /* owner's free blocks */
	uint32_t used;             /* blocks out (owner's view) */
	uint32_t nblocks;
	uint32_t bump;             /* blocks below this index were carved */
	uint32_t block_size;
	uint32_t magic;            /* ceil(2^32 / block_size) */
	uint8_t state;             /* slab_state_t */
	uint32_t parked;           /* `used` when last filed as partial (stats) */
	slab_t *next, *prev;       /* bin's partial list; slab cache */
	slab_t *qnext;             /* arena's remote queue */
	_Alignas(64) _Atomic(void *) remote_free;
	_Atomic(uint8_t) full;     /* owner set it: no free block, not listed */
	_Atomic(uint8_t) queued;   /* on the arena's remote queue */
};

extern uintptr_t slab_free_key;

/* Pick the free-block key (from the kernel's random bytes). */
void slab_boot(void);
/* Set up a slab over its run (ext already filled) for blocks of bs bytes. */
void slab_init(slab_t *s, unsigned bin, size_t bs);
/* Carve more never-used blocks onto `free`; 0, or ENOMEM when none left. */
int slab_extend(slab_t *s);
/* Move remote frees onto `free`; returns how many. */
uint32_t slab_collect(slab_t *s);
/* Push p on the remote list; true when the caller must queue the slab on
 * its arena (it was full and not queued yet). */
bool slab_free_remote(slab_t *s, void *p);
/* True when p is on one of the slab's free lists (owner only). */
bool slab_has_free_block(slab_t *s, void *p);

/* The key a free block of s carries in its second word: the process's
 * secret mixed with the slab's address and block size, so that a stale key
 * left in memory by another slab layout (bytes a program copies without
 * having written them) does not match. */
BM_INLINE uintptr_t slab_key(const slab_t *s) {
	return slab_free_key ^ s->ext.addr ^ s->block_size;
}

/* True when p is the start of a block of s. */
BM_INLINE bool slab_block_valid(const slab_t *s, const void *p) {
	uint64_t off = (uintptr_t)p - s->ext.addr;
	uint64_t idx = (off * s->magic) >> 32;
	return idx * s->block_size == off && idx < s->nblocks;
}

/* Pop a block from `free`, or NULL. */
BM_INLINE void *slab_alloc(slab_t *s) {
	void **b = s->free;
	if (UNLIKELY(b == NULL))
		return NULL;
	s->free = b[0];
	b[1] = NULL;
	s->used++;
	return b;
}

/* Owner's free: push p on `free`. */
BM_INLINE void slab_free_local(slab_t *s, void *p) {
	void **b = p;
	b[0] = s->free;
	b[1] = (void *)slab_key(s);
	s->free = b;
	s->used--;
}

#endif
