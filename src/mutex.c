/*
 * mutex: our own futex locks with a name, a rank and an exact owner,
 * registered in one list for the fork protocol.
 *
 * Registry contract: mutex_init / mutex_destroy of allocator locks happen at
 * bootstrap or with the arena-pool lock (rank ARENA_POOL) held. mutex_prefork
 * first takes the locks of rank <= ARENA_POOL (static, never destroyed), which
 * freezes the registry, then every other lock in rank order. The registry
 * itself is guarded by a spin flag held only for list edits and walks.
 *
 * A lock owned by the forking thread (fork from a signal handler that
 * interrupted the allocator) is skipped before fork and stays held after it:
 * the interrupted frame releases it when the handler returns. For that the
 * owner must be exact at every instruction, so the lock is our own: one CAS
 * installs the owner's id in the lock word (a pthread mutex records its
 * owner after taking the lock, and a signal landing in between made the
 * handler's fork wait for itself). Contended waiters sleep on the word.
 */
#include "mutex.h"
#include "log.h"

#include "os.h"

#include <errno.h>

static mutex_t *registry;
static atomic_flag registry_busy = ATOMIC_FLAG_INIT;
static _Atomic uint32_t mutex_next_id = 1;
static __thread uint32_t mutex_self_id;

#define MUTEX_WAITERS 1u

#ifdef BM_DEBUG
#define MUTEX_MAX_HELD 16
static __thread mutex_rank_t held_ranks[MUTEX_MAX_HELD];
static __thread unsigned held_count;
#endif

/* This thread's lock-word value: a process-unique id (never 0), shifted. */
static uint32_t mutex_self(void) {
	if (UNLIKELY(mutex_self_id == 0))
		mutex_self_id = atomic_fetch_add_explicit(&mutex_next_id, 1,
		    memory_order_relaxed) << 1;
	return mutex_self_id;
}

static void registry_lock(void) {
	while (atomic_flag_test_and_set_explicit(&registry_busy,
	    memory_order_acquire))
		;
}

static void registry_unlock(void) {
	atomic_flag_clear_explicit(&registry_busy, memory_order_release);
}

int mutex_init(mutex_t *m, const char *name, mutex_rank_t rank) {
	atomic_store_explicit(&m->word, 0, memory_order_relaxed);
	m->name = name;
	m->rank = rank;
	m->forked = false;
	registry_lock();
	m->reg_prev = NULL;
	m->reg_next = registry;
	if (registry != NULL)
		registry->reg_prev = m;
	registry = m;
	registry_unlock();
	return 0;
}

void mutex_destroy(mutex_t *m) {
	registry_lock();
	if (m->reg_prev != NULL)
		m->reg_prev->reg_next = m->reg_next;
	else
		registry = m->reg_next;
	if (m->reg_next != NULL)
		m->reg_next->reg_prev = m->reg_prev;
	registry_unlock();
}

static void mutex_rank_push(mutex_t *m) {
#ifdef BM_DEBUG
	if (held_count > 0 && held_ranks[held_count - 1] >= m->rank)
		log_fatal("lock order: taking \"%s\" (rank %u) after rank %u",
		    m->name, (unsigned)m->rank,
		    (unsigned)held_ranks[held_count - 1]);
	if (held_count < MUTEX_MAX_HELD)
		held_ranks[held_count] = m->rank;
	held_count++;
#else
	(void)m;
#endif
}

static void mutex_rank_pop(mutex_t *m) {
#ifdef BM_DEBUG
	if (held_count == 0)
		log_fatal("unlocking \"%s\" that is not held", m->name);
	held_count--;
#else
	(void)m;
#endif
}

/* Take the word: 0 -> self (| waiters when others may sleep on it). */
static void mutex_acquire(mutex_t *m) {
	uint32_t self = mutex_self(), v = 0;
	if (LIKELY(atomic_compare_exchange_strong_explicit(&m->word, &v, self,
	    memory_order_acquire, memory_order_relaxed)))
		return;
	for (;;) {
		if (v == 0) {
			/* We may have slept: others may sleep too. */
			if (atomic_compare_exchange_weak_explicit(&m->word, &v,
			    self | MUTEX_WAITERS, memory_order_acquire,
			    memory_order_relaxed))
				return;
			continue;
		}
		if (!(v & MUTEX_WAITERS) && !atomic_compare_exchange_weak_explicit(
		    &m->word, &v, v | MUTEX_WAITERS, memory_order_relaxed,
		    memory_order_relaxed))
			continue;
		os_futex_wait(&m->word, v | MUTEX_WAITERS);
		v = atomic_load_explicit(&m->word, memory_order_relaxed);
	}
}

static void mutex_release(mutex_t *m) {
	uint32_t v = atomic_exchange_explicit(&m->word, 0, memory_order_release);
	if (v & MUTEX_WAITERS)
		os_futex_wake(&m->word);
}

void mutex_lock(mutex_t *m) {
	mutex_rank_push(m);
	mutex_acquire(m);
}

int mutex_trylock(mutex_t *m) {
	uint32_t v = 0;
	if (!atomic_compare_exchange_strong_explicit(&m->word, &v, mutex_self(),
	    memory_order_acquire, memory_order_relaxed))
		return EBUSY;
	mutex_rank_push(m);
	return 0;
}

void mutex_unlock(mutex_t *m) {
	BM_ASSERT(mutex_held(m));
	mutex_rank_pop(m);
	mutex_release(m);
}

bool mutex_held(mutex_t *m) {
	return (atomic_load_explicit(&m->word, memory_order_relaxed) &
	    ~MUTEX_WAITERS) == mutex_self();
}

/* Take m for fork unless this thread already holds it. */
static void mutex_fork_take(mutex_t *m) {
	if (mutex_held(m)) {
		m->forked = false;
		return;
	}
	mutex_acquire(m);
	m->forked = true;
}

/* Ranks <= ARENA_POOL: walk under the registry flag, but never block while
 * holding it; restart the walk after each blocking acquisition. */
static void mutex_prefork_early(mutex_rank_t rank) {
	for (;;) {
		mutex_t *want = NULL;
		registry_lock();
		for (mutex_t *m = registry; m != NULL; m = m->reg_next) {
			if (m->rank == rank && !m->forked && !mutex_held(m)) {
				want = m;
				break;
			}
		}
		registry_unlock();
		if (want == NULL)
			return;
		mutex_fork_take(want);
	}
}

void mutex_prefork(void) {
	for (mutex_t *m = registry; m != NULL; m = m->reg_next)
		m->forked = false;
	mutex_prefork_early(MUTEX_RANK_INIT);
	mutex_prefork_early(MUTEX_RANK_ARENA_POOL);
	registry_lock();
	for (unsigned r = MUTEX_RANK_ARENA; r <= MUTEX_RANK_LEAF; r++) {
		for (mutex_t *m = registry; m != NULL; m = m->reg_next) {
			if (m->rank == r)
				mutex_fork_take(m);
		}
	}
}

/* Give back every lock mutex_prefork took: unlock it in the parent,
 * re-initialise it in the child (whose other threads are gone). */
static void mutex_postfork(bool child) {
	for (mutex_t *m = registry; m != NULL; m = m->reg_next) {
		if (!m->forked)
			continue;
		m->forked = false;
		if (child)  /* no sleeper survived the fork */
			atomic_store_explicit(&m->word, 0, memory_order_relaxed);
		else
			mutex_release(m);
	}
	registry_unlock();
}

void mutex_postfork_parent(void) {
	mutex_postfork(false);
}

void mutex_postfork_child(void) {
	mutex_postfork(true);
}
