/*
 * mutex: a lock with a name and a rank (a futex word holding its owner's id).
 * Every initialised mutex is registered
 * so that mutex_prefork can take all of them in rank order before fork() and
 * release them after (parent) or reset them (child). A lock already held by
 * the forking thread itself (fork from a signal handler that interrupted the
 * allocator, or the fork the handler interrupted) is left alone: the
 * interrupted code releases it when the handler returns, in the parent and
 * in the child. Between prefork and postfork the forking thread may still
 * allocate (atfork handlers that libraries registered before ours run after
 * our prepare handler and before our parent and child handlers): its
 * mutex_lock of a lock its prefork holds only marks it. Any other
 * mutex_lock of a lock the thread holds (a signal handler re-entering the
 * allocator) reports the deadlock and aborts instead of waiting. Before
 * the allocator's locks, mutex_prefork takes libc's
 * stdio list lock when the process has threads (glibc's fork takes it
 * after the prepare handlers; see mutex.c). Debug builds check that a
 * thread takes locks in increasing rank.
 */
#ifndef BM_MUTEX_H
#define BM_MUTEX_H

#include "common.h"

/* Ranks: a thread holding a lock of rank r only takes locks of rank > r. */
typedef enum {
	MUTEX_RANK_INIT = 1,      /* bootstrap */
	MUTEX_RANK_ARENA_POOL,    /* arena registry and abandoned pool */
	MUTEX_RANK_ARENA,         /* an arena's page runs (extents) */
	MUTEX_RANK_PROF,          /* the heap profiler's records and stacks */
	MUTEX_RANK_BASE,          /* an arena's base */
	MUTEX_RANK_BASE_B0,       /* b0: rtree nodes, arena structs */
	MUTEX_RANK_LEAF,          /* leaf locks that take nothing else */
} mutex_rank_t;

typedef struct mutex_s mutex_t;
struct mutex_s {
	/* 0 when free; else the holder's id shifted left by one, with bit 0
	 * set when a thread may be sleeping on it (futex). The holder is thus
	 * known exactly from the moment the lock is taken. */
	_Atomic uint32_t word;
	mutex_rank_t rank;
	const char *name;
	uint32_t fork_depth;        /* taken by the prefork of this depth of
	                             * its thread (0: not by a prefork) */
	uint32_t fork_nest;         /* 1 while the forking thread has it locked
	                             * inside the hold of its prefork */
	mutex_t *reg_next, *reg_prev;
};

/* Initialise and register m. 0 on success. */
int mutex_init(mutex_t *m, const char *name, mutex_rank_t rank);
/* Unregister m (it must not be held). */
void mutex_destroy(mutex_t *m);
void mutex_lock(mutex_t *m);
void mutex_unlock(mutex_t *m);
/* 0 when taken, EBUSY otherwise. */
int mutex_trylock(mutex_t *m);
/* True when the calling thread holds m. */
bool mutex_held(mutex_t *m);
/* Fork protocol over every registered mutex (and the stdio list lock);
 * may nest (a signal handler forking inside fork) on one thread. */
void mutex_prefork(void);
void mutex_postfork_parent(void);
void mutex_postfork_child(void);

#endif
