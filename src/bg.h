/*
 * bg: the background purger, a thread that purges every arena's runs once
 * they have been dirty long enough (see purge: purge_aged), so that
 * a program that goes idle gives its freed memory back without calling the
 * allocator again. It is started lazily, from an allocation slow path
 * (never from free: the C library frees thread stacks' TLS while holding a
 * lock its thread creation takes), once the arenas hold BG_START bytes of
 * page runs between them, and only with background_thread:true and a
 * positive dirty_decay_ms. It blocks every signal, sleeps until the next
 * run comes due, and sleeps on a futex when nothing is dirty, woken by the
 * next free that leaves dirty runs; it exits once no arena holds dirty
 * pages and the arenas hold less than BG_START bytes of page runs (the
 * next allocation that gets there starts another). It never waits for a busy arena's lock before purging
 * and holds no lock while the kernel purges. A fork child has no purger:
 * its state goes back to "not running" and the child starts one the same
 * lazy way.
 * State: bg_state (atomic); no lock of its own.
 */
#ifndef BM_BG_H
#define BM_BG_H

#include "common.h"
#include "pages.h"

typedef enum {
	BG_OFF = 0,       /* not running: an allocation may start it */
	BG_RUNNING = 1,   /* running (or being started) */
	BG_IDLE = 2,      /* sleeping until a free leaves dirty runs */
	BG_FAILED = 3,    /* the thread could not be started: not retried */
	BG_DISABLED = 4,  /* background_thread:false or no decay by time */
} bg_state_t;

extern _Atomic uint32_t bg_state;

typedef struct {
	uint64_t starts;  /* threads started */
	uint64_t passes;  /* passes over the arenas */
	bool running;     /* a purger thread exists (awake or asleep) */
} bg_stats_t;

/* Read the options (after conf_boot): disabled, or ready to start. */
void bg_boot(void);
/* Start the purger if p's page runs call for it (none running yet). */
void bg_start_slow(pages_t *p);
/* Wake the purger from its idle sleep. */
void bg_wake_slow(void);
/* In the fork child: the purger did not survive the fork. */
void bg_postfork_child(void);
/* Its counters. */
void bg_stats_get(bg_stats_t *out);

/* On an allocation slow path of arena pages p, no allocator lock held:
 * one load when a purger runs or is off. */
BM_INLINE void bg_maybe_start(pages_t *p) {
	if (LIKELY(atomic_load_explicit(&bg_state, memory_order_relaxed) !=
	    BG_OFF))
		return;
	bg_start_slow(p);
}

/* After a free left dirty runs (any context): one load unless the purger
 * sleeps idle. */
BM_INLINE void bg_wake(void) {
	if (LIKELY(atomic_load_explicit(&bg_state, memory_order_relaxed) !=
	    BG_IDLE))
		return;
	bg_wake_slow();
}

#endif
