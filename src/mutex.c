/*
 * mutex: our own futex locks with a name, a rank and an exact owner,
 * registered in one list for the fork protocol.
 *
 * Registry contract: mutex_init / mutex_destroy of allocator locks happen at
 * bootstrap or with the arena-pool lock (rank ARENA_POOL) held. mutex_prefork
 * first takes the locks of rank <= ARENA_POOL (static, never destroyed), which
 * freezes the registry, then every other lock in rank order. The registry
 * itself is guarded by registry_mtx, a lock of the same kind (not
 * registered), held only for list edits and walks. Edits keep the list
 * walkable forwards at every instruction, so that a signal handler whose
 * thread holds registry_mtx (it was editing or walking) may walk it without
 * taking it.
 *
 * A lock owned by the forking thread (fork from a signal handler that
 * interrupted the allocator) is skipped before fork and stays held after it:
 * the interrupted frame releases it when the handler returns. For that the
 * owner must be exact at every instruction, so the lock is our own: one CAS
 * installs the owner's id in the lock word (a pthread mutex records its
 * owner after taking the lock, and a signal landing in between made the
 * handler's fork wait for itself). Contended waiters sleep on the word.
 *
 * Allocating inside fork: pthread_atfork runs prepare handlers in the
 * reverse order of registration, parent and child handlers in order. A
 * library whose constructor registered handlers before ours (its
 * constructor runs before the preload's) has its prepare handler run after
 * ours and its parent and child handlers before ours, all while our
 * prefork holds every lock; glibc's own malloc is locked after all prepare
 * handlers and unlocked before all others, so such handlers may allocate.
 * So may they here: the forking thread owns every lock its prefork took,
 * no other thread is inside the allocator, and its mutex_lock of such a
 * lock (fork_depth marked, word its own) only sets fork_nest, which the
 * matching unlock clears. A lock held by a frame a signal handler
 * interrupted (not marked, or marked and fork_nest set) still waits if the
 * handler takes it again, as it would outside fork.
 *
 * Nested forks: a handler may fork while its thread is inside fork (between
 * prepare and postfork). Each prefork runs at a depth (this thread's count
 * of preforks not yet matched by a postfork) and marks the locks it takes
 * with it; a postfork gives back only the locks of its own depth, so an
 * inner fork never releases (or resets) what the outer one holds.
 *
 * stdio: glibc's fork takes libc's stdio list lock after the prepare
 * handlers. A thread holding that lock (fflush(NULL)) may wait for a FILE
 * lock whose holder (getline) waits in realloc for an allocator lock; had
 * prefork taken the allocator locks first, the forking thread would then
 * wait for the list lock while holding them: a deadlock. So prefork takes
 * the list lock first (when glibc's fork will take it too: the process has
 * threads), and postfork gives it back after the allocator locks (glibc's
 * fork has released its own hold by then, or reset the lock in the child).
 * No allocator lock holder ever waits for stdio.
 */
#include "mutex.h"
#include "log.h"

#include "os.h"

#include <errno.h>

static mutex_t *registry;
static mutex_t registry_mtx;
static _Atomic uint32_t mutex_next_id = 1;
static __thread uint32_t mutex_self_id;
/* Preforks of this thread not yet matched by a postfork; the depth that
 * took the stdio list lock (0: none). */
static __thread uint32_t fork_depth, fork_stdio_depth;

static bool registry_enter(void);
static void registry_leave(bool taken);

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

int mutex_init(mutex_t *m, const char *name, mutex_rank_t rank) {
	atomic_store_explicit(&m->word, 0, memory_order_relaxed);
	m->name = name;
	m->rank = rank;
	m->fork_depth = 0;
	m->fork_nest = 0;
	bool taken = registry_enter();
	m->reg_prev = NULL;
	m->reg_next = registry;
	if (registry != NULL)
		registry->reg_prev = m;
	/* m is complete before a walk (a handler on this thread) can reach it. */
	atomic_signal_fence(memory_order_seq_cst);
	registry = m;
	registry_leave(taken);
	return 0;
}

void mutex_destroy(mutex_t *m) {
	bool taken = registry_enter();
	/* Unlink forwards first: a walk then no longer reaches m. */
	if (m->reg_prev != NULL)
		m->reg_prev->reg_next = m->reg_next;
	else
		registry = m->reg_next;
	atomic_signal_fence(memory_order_seq_cst);
	if (m->reg_next != NULL)
		m->reg_next->reg_prev = m->reg_prev;
	registry_leave(taken);
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

/* A lock this thread holds already, taken again: the allocator never
 * does so, so a signal handler called it while the frame it interrupted
 * held m. Waiting would wait for ourselves forever: say so and abort. */
BM_NOINLINE BM_NORETURN static void mutex_self_deadlock(const mutex_t *m) {
	log_fatal("a signal handler called the allocator while its thread was "
	    "inside it, holding lock \"%s\" (deadlock)", m->name);
}

/* Take the word: 0 -> self (| waiters when others may sleep on it). */
static void mutex_acquire(mutex_t *m) {
	uint32_t self = mutex_self(), v = 0;
	if (LIKELY(atomic_compare_exchange_strong_explicit(&m->word, &v, self,
	    memory_order_acquire, memory_order_relaxed)))
		return;
	if (UNLIKELY((v & ~MUTEX_WAITERS) == self))
		mutex_self_deadlock(m);
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

/* Inside fork (this thread's prefork holds locks): true, and the nesting
 * counted, when m is one of them and not already taken so (the allocator
 * never takes a lock twice: a second take is by a signal handler whose
 * frame interrupted the first, and it waits as it would outside fork). */
static bool mutex_fork_reenter(mutex_t *m) {
	if (LIKELY(fork_depth == 0) || m->fork_depth == 0 ||
	    m->fork_nest != 0 || !mutex_held(m))
		return false;
	m->fork_nest = 1;
	return true;
}

void mutex_lock(mutex_t *m) {
	if (UNLIKELY(mutex_fork_reenter(m)))
		return;
	mutex_rank_push(m);
	mutex_acquire(m);
}

int mutex_trylock(mutex_t *m) {
	if (UNLIKELY(mutex_fork_reenter(m)))
		return 0;
	uint32_t v = 0;
	if (!atomic_compare_exchange_strong_explicit(&m->word, &v, mutex_self(),
	    memory_order_acquire, memory_order_relaxed))
		return EBUSY;
	mutex_rank_push(m);
	return 0;
}

void mutex_unlock(mutex_t *m) {
	BM_ASSERT(mutex_held(m));
	if (UNLIKELY(fork_depth != 0) && m->fork_nest != 0) {
		m->fork_nest = 0;  /* the prefork's hold stays */
		return;
	}
	mutex_rank_pop(m);
	mutex_release(m);
}

bool mutex_held(mutex_t *m) {
	return (atomic_load_explicit(&m->word, memory_order_relaxed) &
	    ~MUTEX_WAITERS) == mutex_self();
}

/* Take the registry lock unless this thread holds it already (a handler
 * forking while its thread edits or walks the list, which stays walkable).
 * Returns whether it was taken. */
static bool registry_enter(void) {
	if (mutex_held(&registry_mtx))
		return false;
	mutex_acquire(&registry_mtx);
	return true;
}

static void registry_leave(bool taken) {
	if (taken)
		mutex_release(&registry_mtx);
}

/* Take m for the prefork of depth d unless this thread already holds it. */
static void mutex_fork_take(mutex_t *m, uint32_t d) {
	if (mutex_held(m))
		return;
	mutex_acquire(m);
	m->fork_depth = d;
}

/* Ranks <= ARENA_POOL: walk under the registry lock, but never block while
 * holding it; restart the walk after each blocking acquisition. */
static void mutex_prefork_early(mutex_rank_t rank, uint32_t d) {
	for (;;) {
		mutex_t *want = NULL;
		bool taken = registry_enter();
		for (mutex_t *m = registry; m != NULL; m = m->reg_next) {
			if (m->rank == rank && !mutex_held(m)) {
				want = m;
				break;
			}
		}
		registry_leave(taken);
		if (want == NULL)
			return;
		mutex_fork_take(want, d);
	}
}

void mutex_prefork(void) {
	uint32_t d = ++fork_depth;
	if (fork_stdio_depth == 0 && os_threaded()) {
		os_stdio_lock();
		fork_stdio_depth = d;
	}
	mutex_prefork_early(MUTEX_RANK_INIT, d);
	mutex_prefork_early(MUTEX_RANK_ARENA_POOL, d);
	bool taken = registry_enter();
	for (unsigned r = MUTEX_RANK_ARENA; r <= MUTEX_RANK_LEAF; r++) {
		for (mutex_t *m = registry; m != NULL; m = m->reg_next) {
			if (m->rank == r)
				mutex_fork_take(m, d);
		}
	}
	registry_leave(taken);
}

/* Give back every lock the prefork of this depth took: unlock it in the
 * parent, re-initialise it in the child (whose other threads are gone).
 * Then the stdio list lock: the parent unlocks it if this depth took it;
 * in the child glibc's fork has reset it, whichever depth took it, and so
 * does this (in case glibc's fork saw one thread and did not). */
static void mutex_postfork(bool child) {
	uint32_t d = fork_depth;
	if (d == 0)
		return;  /* no prefork to match (marks 0 are locks it never took) */
	if (child && (atomic_load_explicit(&registry_mtx.word,
	    memory_order_relaxed) & ~MUTEX_WAITERS) != mutex_self())
		atomic_store_explicit(&registry_mtx.word, 0, memory_order_relaxed);
	bool taken = registry_enter();
	for (mutex_t *m = registry; m != NULL; m = m->reg_next) {
		if (m->fork_depth != d)
			continue;
		m->fork_depth = 0;
		m->fork_nest = 0;
		if (child)  /* no sleeper survived the fork */
			atomic_store_explicit(&m->word, 0, memory_order_relaxed);
		else
			mutex_release(m);
	}
	registry_leave(taken);
	if (child && fork_stdio_depth != 0) {
		fork_stdio_depth = 0;
		os_stdio_reset();
	} else if (fork_stdio_depth == d) {
		fork_stdio_depth = 0;
		os_stdio_unlock();
	}
	fork_depth = d - 1;
}

void mutex_postfork_parent(void) {
	mutex_postfork(false);
}

void mutex_postfork_child(void) {
	mutex_postfork(true);
}
