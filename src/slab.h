/*
 * slab: one page run cut into equal blocks. The owning thread (the one that
 * holds the slab's arena) pops and pushes on `free` with no atomics; other
 * threads push on `remote_free` with one CAS, and the owner collects those
 * when `free` runs dry (mimalloc's free-list sharding). Blocks are carved
 * from the untouched part of the slab a page at a time, so pages are touched
 * only when needed.
 * Every block on a list (carved, freed or freed remotely) holds in word 0
 * the link to the next one encoded with slab_link (the next address, its
 * own address and the slab's link key: a plain pointer is never stored),
 * and in word 1 the slab's key: finding the key on free means a double
 * free (confirmed by walking the lists when the caller owns the slab). A
 * link is checked when followed: it must decode to a carved block of the
 * slab, or the list is reported corrupted. The keys are derived from the
 * process secret (secret_mix) for each slab afresh, so neither reveals the
 * secret, the other key or another slab's keys.
 * No locks. `carved` is written by the owner and read by any freeing
 * thread (a relaxed atomic: a block handed out was carved before it was
 * handed out, and the program's own synchronisation carries that to the
 * freer). Fields above the cache-line split are the owner's only.
 */
#ifndef BM_SLAB_H
#define BM_SLAB_H

#include "common.h"
#include "pages.h"

#include <string.h>

typedef enum {
	SLAB_CURRENT = 1,  /* the bin allocates from it */
	SLAB_PARTIAL = 2,  /* on the bin's partial list */
	SLAB_FULL = 3,     /* no free block; on no list */
	SLAB_SPARE = 4,    /* empty, kept by the bin for reuse */
} slab_state_t;

/* Hardened builds: the bytes a small block keeps past its user's bytes (an
 * 8-byte canary right after them; the user's size in the last 8 bytes). */
#define SLAB_TAIL ((size_t)16)
/* Hardened builds: how much of a freed block is checked for writes after
 * free when it is handed out again. Reading whole blocks of up to 16 KiB at
 * each reuse cost alloc-test a fifth of its hardened CPU time; past this, a
 * write after free stays in the block (calloc zeroes its part). */
#define SLAB_CHECKED ((size_t)256)

typedef struct slab_s slab_t;
struct slab_s {
	extent_t ext;              /* kind EXTENT_SLAB; ext.szind = bin */
	void *free;                /* owner's free blocks */
	uintptr_t key;             /* word 1 of every free block (odd) */
	uintptr_t link_key;        /* mixed into every encoded link */
	uint32_t gate;             /* blocks out - watch (mod 2^32): the free
	                            * that takes it to 0 needs the arena */
	uint32_t watch;            /* set with the state (slab_state_set) */
	uint64_t div;              /* ceil(2^64 / block_size): block test */
	_Atomic uint32_t carved;   /* bytes from ext.addr carved into blocks */
	uint32_t nblocks;
	uint32_t block_size;
	uint8_t state;             /* slab_state_t */
	uint8_t clean;             /* hardened: the part not carved yet reads
	                            * as zero (the run did when set up) */
	uint32_t parked;           /* slab_used when last filed as partial
	                            * (stats) */
	slab_t *next, *prev;       /* bin's partial list; slab cache */
	slab_t *qnext;             /* arena's remote queue */
	uint64_t canary;           /* hardened: the canary after the bytes */
	_Alignas(64) _Atomic(void *) remote_free;
	_Atomic(uint8_t) full;     /* owner set it: no free block, not listed */
	_Atomic(uint8_t) queued;   /* on the arena's remote queue */
};

/* The gate of a slab no free needs to stop at (current, spare): far from
 * 0 whatever the number of blocks out. */
#define SLAB_GATE_OPEN ((uint32_t)1 << 31)

/* Blocks out (owner's view). */
BM_INLINE uint32_t slab_used(const slab_t *s) {
	return s->watch + s->gate;
}

/* The owner's frees a full slab with `used` blocks out takes before it is
 * listed as partial again: an eighth of its blocks (one for slabs of fewer
 * than 16), so that a refill finds room for more than a block or two. A
 * slab freed into one block at a time otherwise went back and forth
 * between full and partial every few mallocs (Larson: a third of the
 * allocator's instructions). Meanwhile the freed blocks wait, unused and
 * counted as live. */
BM_INLINE uint32_t slab_full_frees(const slab_t *s, uint32_t used) {
	return s->nblocks >= 16 ? MIN(used, s->nblocks / 8) : 1;
}

/* Move s to state st (owner). The gate is set so that the owner's free
 * that needs the arena finds it at 0: the slab_full_frees-th free of a
 * full slab, the last one of a partial slab; never for the others. */
BM_INLINE void slab_state_set(slab_t *s, slab_state_t st) {
	uint32_t used = slab_used(s);
	s->state = (uint8_t)st;
	s->watch = st == SLAB_PARTIAL ? 0 : st == SLAB_FULL ? used -
	    slab_full_frees(s, used) : SLAB_GATE_OPEN;
	s->gate = used - s->watch;
}

/* Set up a slab over its run (ext already filled) for blocks of bs bytes,
 * with keys never used before. */
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
/* Report that the link in block b does not decode to a block of s
 * ("malloc(): corrupted free list"); aborts unless abort_on_invalid is off,
 * then returns NULL: the rest of the list is dropped (leaked). */
void *slab_corrupt(slab_t *s, void *b);
/* Hardened builds: report that block b, about to be handed out, does not
 * hold what free left in it (a write after free), and zero it. */
void slab_reuse_fail(slab_t *s, void *b);
/* Hardened builds: check that block b, kept from reuse since free zeroed
 * it, still holds zeros and the key in its first two words (the rest is
 * checked when it is handed out); else report a write after free. */
void slab_delayed_check(slab_t *s, void *b);
/* Hardened builds: the canary of block p of s: never a zero first byte,
 * so that writing one more string terminator than the block holds is
 * caught too. */
BM_INLINE uint64_t slab_canary(const slab_t *s, const void *p) {
	return (s->canary ^ (uintptr_t)p) | 1;
}

/* Hardened builds: write the canary after the n bytes of block p and n at
 * its end (n + SLAB_TAIL <= block_size). */
BM_INLINE void slab_tail_set(const slab_t *s, void *p, size_t n) {
	uint64_t c = slab_canary(s, p), size = n;
	memcpy((char *)p + n, &c, sizeof(c));
	memcpy((char *)p + s->block_size - sizeof(size), &size, sizeof(size));
}

/* Hardened builds: the size n recorded in block p when its canary is
 * intact, else SIZE_MAX (an overflow past the n bytes). */
BM_INLINE size_t slab_tail_get(const slab_t *s, const void *p) {
	uint64_t size, c;
	memcpy(&size, (const char *)p + s->block_size - sizeof(size),
	    sizeof(size));
	if (UNLIKELY(size > s->block_size - SLAB_TAIL))
		return SIZE_MAX;
	memcpy(&c, (const char *)p + size, sizeof(c));
	return LIKELY(c == slab_canary(s, p)) ? (size_t)size : SIZE_MAX;
}

typedef uint64_t slab_v2_t __attribute__((vector_size(16)));

/* Store zero in the 4 16-byte words from v on. */
BM_INLINE void slab_zero4(slab_v2_t *v) {
	v[0] = v[1] = v[2] = v[3] = (slab_v2_t){ 0, 0 };
}

/* Zero the n bytes at p (16-byte aligned, n a multiple of 16, at least
 * 16). Up to 256 bytes: the first and the last 2^k words for the power of
 * two 2^(k+1) >= n / 16 (they overlap between powers; no loop, which the
 * compiler would turn into a `rep stos`, slow to start); beyond, memset. */
BM_INLINE void slab_zero_bytes(void *p, size_t n) {
	slab_v2_t *v = p, *e = (slab_v2_t *)((char *)p + n);
	slab_v2_t z = { 0, 0 };
	if (n > 256) {
		memset(p, 0, n);
	} else if (n > 128) {
		slab_zero4(v);
		slab_zero4(v + 4);
		slab_zero4(e - 8);
		slab_zero4(e - 4);
	} else if (n > 64) {
		slab_zero4(v);
		slab_zero4(e - 4);
	} else if (n > 32) {
		v[0] = v[1] = e[-2] = e[-1] = z;
	} else {
		v[0] = e[-1] = z;
	}
}

/* Zero the block p of s. */
BM_INLINE void slab_zero(const slab_t *s, void *p) {
	slab_zero_bytes(p, s->block_size);
}

/* Hardened builds: zero the freed block p of s whose user asked for n
 * bytes (slab_tail_get): those, the canary after them and the size at the
 * end. The bytes between were zero when the block was handed out (checked
 * then) and only an out-of-bounds write changes them, which the check of
 * the next hand-out reports. */
BM_INLINE void slab_zero_freed(const slab_t *s, void *p, size_t n) {
	size_t used = ALIGN_UP(n + sizeof(uint64_t), 16);
	if (used + 16 >= s->block_size)
		return slab_zero(s, p);
	slab_zero_bytes(p, used);
	((slab_v2_t *)((char *)p + s->block_size))[-1] = (slab_v2_t){ 0, 0 };
}

/* The key a free block of s holds in its second word. */
BM_INLINE uintptr_t slab_key(const slab_t *s) {
	return s->key;
}

/* The OR of the 4 16-byte words from v on. */
BM_INLINE slab_v2_t slab_or4(const slab_v2_t *v) {
	return (v[0] | v[1]) | (v[2] | v[3]);
}

/* slab_all_zero for n > 256: 64 bytes a step, then the last 64. */
bool slab_all_zero_long(const void *p, size_t n);

/* True when the n bytes at p (16-byte aligned, n a multiple of 16) are all
 * zero. Up to 256 bytes: the first and the last 2^k words for the power of
 * two 2^(k+1) >= n / 16 (they overlap between powers; no loop). */
BM_INLINE bool slab_all_zero(const void *p, size_t n) {
	const slab_v2_t *v = p, *e = (const slab_v2_t *)((const char *)p + n);
	slab_v2_t a;
	if (n == 0)
		return true;
	if (n <= 32)
		a = v[0] | e[-1];
	else if (n <= 64)
		a = (v[0] | v[1]) | (e[-2] | e[-1]);
	else if (n <= 128)
		a = slab_or4(v) | slab_or4(e - 4);
	else if (n <= 256)
		a = (slab_or4(v) | slab_or4(v + 4)) |
		    (slab_or4(e - 8) | slab_or4(e - 4));
	else
		return slab_all_zero_long(p, n);
	return (a[0] | a[1]) == 0;
}

/* Hardened builds: check that block b, about to be handed out, holds what
 * free left in it (the key, zeros) in its first SLAB_CHECKED bytes; else
 * report a write after free and zero it. Starts fetching the first four lines of next (the block handed
 * out after b, or NULL: a prefetch of NULL is dropped), which the next
 * check reads in full (the hardware follows on from there). */
BM_INLINE void slab_reuse_check(slab_t *s, void *b, const void *next) {
	const uint64_t *w = b;
	uintptr_t n = (uintptr_t)next;
	__builtin_prefetch((const void *)n);
	__builtin_prefetch((const void *)(n + 64));
	__builtin_prefetch((const void *)(n + 128));
	__builtin_prefetch((const void *)(n + 192));
	if (UNLIKELY(w[1] != slab_key(s) ||
	    !slab_all_zero(w + 2, MIN(s->block_size, SLAB_CHECKED) - 16)))
		slab_reuse_fail(s, b);
}

/* The link stored in block b to next (and, applied to a stored link, the
 * next block back): encoding and decoding are the same mix. The block's
 * own address is mixed in, so a link copied into another block decodes to
 * garbage. */
BM_INLINE uintptr_t slab_link(const slab_t *s, const void *b, uintptr_t v) {
	return v ^ (uintptr_t)b ^ s->link_key;
}

/* True when p is the start of a carved block of s (one handed out or on a
 * free list). off * div < div is the exact test of off % block_size == 0
 * for off < 2^32 (Lemire, Kaser and Kurz, "Faster remainder by direct
 * computation"); slabs are far smaller. */
BM_INLINE bool slab_block_valid(const slab_t *s, const void *p) {
	uint64_t off = (uintptr_t)p - s->ext.addr;
	return off < atomic_load_explicit(&s->carved, memory_order_relaxed) &&
	    off * s->div < s->div;
}

/* True when p is the start of a carved block of s, for p inside s's run
 * (a lookup of p found s; s may also be a descriptor of another kind, or
 * rtree's `nothing`: their lim of 0 fails every p). With mul odd and about
 * 2^64 / block_size and off = p - ext.addr, off * mul mod 2^64 is
 * k * e for the k-th block (e = mul * block_size mod 2^64, small and not
 * 0) and at least mul for any other offset of the run, so one compare with
 * lim tells both "on a block boundary" and "carved". For an arbitrary
 * value (a decoded link) it accepts a value off the blocks with a
 * chance of lim / 2^64 (under 2^-40), never a block that is not carved. */
BM_INLINE bool slab_block_ok(const slab_t *s, const void *p) {
	uint64_t q = ((uintptr_t)p - s->ext.addr) * s->ext.mul;
	return q < extent_lim(&s->ext);
}

/* The block after b on a list of s, checked: NULL at the end. */
BM_INLINE void *slab_next(slab_t *s, void *b) {
	void *next = (void *)slab_link(s, b, *(uintptr_t *)b);
	if (UNLIKELY(!slab_block_valid(s, next)) && next != NULL)
		next = slab_corrupt(s, b);
	return next;
}

/* Follow the link of the head of `free` without popping it: a corrupted
 * one is reported now, and the list ends at the head (the rest leaked). */
BM_INLINE void slab_check_head(slab_t *s) {
	void **b = s->free;
	if (b != NULL && slab_next(s, b) == NULL)
		b[0] = (void *)slab_link(s, b, 0);
}

/* Hand out block b, the head of `free`, whose successor is next. */
BM_INLINE void *slab_pop(slab_t *s, void **b, void *next) {
	s->free = next;
	if (config_hardened) {
		slab_reuse_check(s, b, next);
		b[0] = NULL;
	}
	b[1] = NULL;
	s->gate++;
	return b;
}

/* Debug builds: s (owned by the caller) is consistent (see slab.c);
 * nothing in other builds. */
void slab_check(slab_t *s);

/* slab_alloc when the head's link decodes to neither a block nor the end of
 * the list: a corrupted link (reported). Out of line, so that the fast
 * path needs no stack frame. Returns b. */
void *slab_alloc_last(slab_t *s, void *b) __attribute__((returns_nonnull));

/* Pop a block from `free`, or NULL. */
BM_INLINE void *slab_alloc(slab_t *s) {
	void **b = s->free;
	if (UNLIKELY(b == NULL))
		return NULL;
	void *next = (void *)slab_link(s, b, (uintptr_t)b[0]);
	__asm__("" : "+r"(next));   /* test next itself: gcc would keep both
	                             * the link and the key to compare them */
	s->free = next;             /* stored before the test: no copy of next
	                             * lives across it */
	if (UNLIKELY(!slab_block_ok(s, next)) &&
	    *(void *volatile *)&s->free != NULL)
		return slab_alloc_last(s, b);
	return slab_pop(s, b, next);
}

/* Owner's free: push p on `free`. */
BM_INLINE void slab_free_local(slab_t *s, void *p) {
	void **b = p;
	b[0] = (void *)slab_link(s, b, (uintptr_t)s->free);
	b[1] = (void *)slab_key(s);
	s->free = b;
	s->gate--;
}

#endif
