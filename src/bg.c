/*
 * bg: the background purger's thread, its start, idle sleep and stop.
 * Starting is a CAS of bg_state from OFF to RUNNING on an allocation slow
 * path, then os_thread_start (outside every allocator lock). Going idle
 * and stopping pair with frees the same way: the thread stores IDLE (or
 * OFF), then reads every arena's figures under its lock; a free changes
 * them under that lock before it loads bg_state, so either the thread sees
 * the new dirty runs (and takes RUNNING back, unless a free or a new start
 * already did) or the free sees IDLE (and wakes it: CAS to RUNNING, futex
 * wake) or OFF (the next allocation that needs one starts a purger).
 */
#include "bg.h"
#include "conf.h"
#include "os.h"
#include "purge.h"

#include <errno.h>

/* Bytes of page runs (active and dirty) in the arenas together that make
 * an allocation start the purger, and below which it may leave. High enough that ordinary programs and test programs (glibc's
 * tst-mallocfork2 keeps about 35 MiB) stay single-threaded: a thread makes
 * the C library take its multi-threaded paths for good (a signal handler
 * that forks while its thread is inside fork() then waits forever in
 * glibc's atfork lock). What a smaller heap leaves dirty is bounded by the
 * purging policy and purged at its next allocator call. */
#define BG_START ((size_t)64 << 20)
/* Shortest sleep between passes (runs coming due one by one are purged a
 * few at a time): a 32nd of the decay time, at least 1 ms. */
#define BG_SLEEP_DIV 32
#define BG_SLEEP_MIN_NS ((uint64_t)1000 * 1000)
/* How often an allocation may add up every arena's page runs. */
#define BG_RECHECK_NS ((uint64_t)10 * 1000 * 1000)

_Atomic uint32_t bg_state;
static _Atomic uint64_t bg_starts, bg_passes;

void bg_boot(void) {
	if (!opt_background_thread || opt_dirty_decay_ms <= 0)
		atomic_store(&bg_state, BG_DISABLED);
}

/* Purge what has come due in every arena; when the next run comes due. */
static uint64_t bg_pass(uint64_t now) {
	uint64_t next = UINT64_MAX;
	for (pages_t *p = pages_registry(); p != NULL; p = p->reg_next)
		next = MIN(next, purge_aged(p, now));
	atomic_fetch_add_explicit(&bg_passes, 1, memory_order_relaxed);
	return next;
}

static size_t bg_footprint(const pages_stats_t *st) {
	return st->active + st->dirty;
}

/* Whether an arena holds dirty pages (or a spare huge mapping, or dirty
 * runs a layer above holds); *big: or the arenas hold BG_START bytes of
 * page runs between them. Reads each arena under its lock. */
static bool bg_any_dirty(bool *big) {
	bool dirty = false;
	size_t held = 0;
	for (pages_t *p = pages_registry(); p != NULL; p = p->reg_next) {
		pages_stats_t st;
		pages_stats_get(p, &st);
		dirty |= st.dirty != 0 || st.spare != 0 ||
		    __atomic_load_n(&p->held_dirty, __ATOMIC_RELAXED) != 0;
		held += bg_footprint(&st);
	}
	*big = held >= BG_START;
	return dirty;
}

/* Bytes of page runs the arenas hold between them, read without their
 * locks (a hint). */
static size_t bg_held_all(void) {
	size_t held = 0;
	for (pages_t *p = pages_registry(); p != NULL; p = p->reg_next)
		held += __atomic_load_n(&p->stats.active, __ATOMIC_RELAXED) +
		    __atomic_load_n(&p->stats.dirty, __ATOMIC_RELAXED);
	return held;
}

/* Whether the arenas hold BG_START bytes of page runs: p's own figure
 * first; the sum over every arena only when the process maps that much
 * and at most once per BG_RECHECK_NS (the walk is as long as the arenas
 * are many). */
static bool bg_heap_big(pages_t *p) {
	static _Atomic uint64_t checked_at;
	if (__atomic_load_n(&p->stats.active, __ATOMIC_RELAXED) +
	    __atomic_load_n(&p->stats.dirty, __ATOMIC_RELAXED) >= BG_START)
		return true;
	if (os_mapped_bytes() < BG_START)
		return false;
	uint64_t now = os_now_ns(), last = atomic_load_explicit(&checked_at,
	    memory_order_relaxed);
	if (now - last < BG_RECHECK_NS || !atomic_compare_exchange_strong(
	    &checked_at, &last, now))
		return false;
	return bg_held_all() >= BG_START;
}

/* Nothing is dirty: sleep until a free wakes the thread, or leave when no
 * arena is big. Returns false when the thread must exit. */
static bool bg_rest(void) {
	bool big;
	atomic_store(&bg_state, BG_IDLE);
	bool dirty = bg_any_dirty(&big);
	if (!dirty && !big) {
		uint32_t expect = BG_IDLE;
		if (atomic_compare_exchange_strong(&bg_state, &expect, BG_OFF))
			return false;  /* a free may have woken it meanwhile */
	}
	while (!dirty) {
		os_futex_wait(&bg_state, BG_IDLE);
		if (atomic_load(&bg_state) != BG_IDLE)
			return true;
	}
	uint32_t expect = BG_IDLE;
	atomic_compare_exchange_strong(&bg_state, &expect, BG_RUNNING);
	return true;
}

static void *bg_main(void *unused) {
	(void)unused;
	os_thread_name("bm-purge");
	uint64_t pause = (uint64_t)opt_dirty_decay_ms * 1000000u / BG_SLEEP_DIV;
	pause = MAX(pause, BG_SLEEP_MIN_NS);
	for (;;) {
		uint64_t next = bg_pass(os_now_ns());
		if (next == UINT64_MAX) {
			if (!bg_rest())
				return NULL;
			continue;
		}
		uint64_t now = os_now_ns();
		os_sleep_ns(MAX(next > now ? next - now : 0, pause));
	}
}

void bg_start_slow(pages_t *p) {
	if (!bg_heap_big(p))
		return;
	uint32_t expect = BG_OFF;
	if (!atomic_compare_exchange_strong(&bg_state, &expect, BG_RUNNING))
		return;
	int saved = errno;
	if (os_thread_start(bg_main) == 0)
		atomic_fetch_add_explicit(&bg_starts, 1, memory_order_relaxed);
	else
		atomic_store(&bg_state, BG_FAILED);
	errno = saved;
}

void bg_wake_slow(void) {
	uint32_t expect = BG_IDLE;
	if (atomic_compare_exchange_strong(&bg_state, &expect, BG_RUNNING))
		os_futex_wake(&bg_state);
}

void bg_postfork_child(void) {
	uint32_t s = atomic_load_explicit(&bg_state, memory_order_relaxed);
	if (s == BG_RUNNING || s == BG_IDLE || s == BG_FAILED)
		atomic_store_explicit(&bg_state, BG_OFF, memory_order_relaxed);
}

void bg_stats_get(bg_stats_t *out) {
	uint32_t s = atomic_load_explicit(&bg_state, memory_order_relaxed);
	out->starts = atomic_load_explicit(&bg_starts, memory_order_relaxed);
	out->passes = atomic_load_explicit(&bg_passes, memory_order_relaxed);
	out->running = s == BG_RUNNING || s == BG_IDLE;
}
