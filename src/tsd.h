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
} tsd_t;

extern __thread tsd_t tsd_tls __attribute__((tls_model("initial-exec")));

/* Create the thread-exit key. 0 on success. */
int tsd_boot(void);
/* The calling thread's arena, acquiring one if needed; NULL on failure. */
arena_t *tsd_arena_slow(void);

BM_INLINE arena_t *tsd_arena(void) {
	arena_t *a = tsd_tls.arena;
	return LIKELY(a != NULL) ? a : tsd_arena_slow();
}

/* The calling thread's arena, or NULL when it has none (never acquires). */
BM_INLINE arena_t *tsd_arena_peek(void) {
	return tsd_tls.arena;
}

#endif
