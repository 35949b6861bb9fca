/*
 * tsd: per-thread state in initial-exec TLS (kept to a few words: the
 * "static TLS block" of a dlopen'ed program is small). The thread's arena is
 * acquired on its first allocation and abandoned to the pool by a pthread
 * key destructor at thread exit; an allocation after that (another
 * destructor calling malloc) acquires one again and re-arms the destructor.
 */
#ifndef BM_TSD_H
#define BM_TSD_H

#include "common.h"
#include "arena.h"

typedef struct {
	arena_t *arena;   /* NULL until the first allocation, and after exit */
	slab_t *const *cur;  /* arena->cur, or arena_no_cur without an arena */
	int64_t prof_left;/* prof: bytes to allocate until the next sample
	                   * (0 before the thread's first; see prof.h) */
	bool exited;      /* the exit hook ran (no adoption after it) */
} tsd_t;

extern __thread tsd_t tsd_tls __attribute__((tls_model("initial-exec")));

/* Create the thread-exit key. 0 on success. */
int tsd_boot(void);
/* The calling thread's arena, acquiring one if needed; NULL on failure. */
arena_t *tsd_arena_slow(void);

/* Free p, a live block of slab s, which the thread's arena does not own,
 * while the thread has no arena: tsd_free_foreign's slow path. */
void tsd_free_adopt(slab_t *s, void *p);

/* Free p, a live block of slab s, which the thread's arena does not own.
 * A thread without an arena (and not exiting: a free after its exit hook
 * would leave the arena claimed) whose first call frees a block of a pooled
 * arena (one an exited thread left: a new generation of workers taking
 * over tables of blocks, as in Larson) adopts that arena, so that its
 * frees of those blocks are local and its mallocs reuse them while they
 * are in cache; any other such free is arena_free_remote. An owned arena
 * is claimed, so the test of `claimed` spares the pool's lock. */
BM_INLINE void tsd_free_foreign(slab_t *s, void *p) {
	__asm__("" : "+r"(s));  /* reload the owner here: free's fast path
	                         * compares it from memory, without a register */
	if (UNLIKELY(tsd_tls.arena == NULL) && !atomic_load_explicit(
	    &((arena_t *)s->ext.owner)->claimed, memory_order_relaxed))
		return tsd_free_adopt(s, p);
	arena_free_remote(s, p);
}

BM_INLINE arena_t *tsd_arena(void) {
	arena_t *a = tsd_tls.arena;
	return LIKELY(a != NULL) ? a : tsd_arena_slow();
}

/* A block for size (at most SZ_LOOKUP_MAX) from the calling thread's
 * current slab of its request granule, or NULL (also without an arena:
 * its slots are all the empty placeholder). */
BM_INLINE void *tsd_cur_pop(size_t size) {
	return slab_alloc(tsd_tls.cur[(size + QUANTUM - 1) >> LG_QUANTUM]);
}

/* The calling thread's arena, or NULL when it has none (never acquires). */
BM_INLINE arena_t *tsd_arena_peek(void) {
	return tsd_tls.arena;
}

#endif
