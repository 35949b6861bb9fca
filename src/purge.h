/*
 * purge: the purging policy of an arena's dirty pages and its passes. An
 * arena keeps dirty pages up to what its recent demand leaves room for (its
 * peak of active bytes over the last one or two decay times) until they are
 * dirty_decay_ms old, and up to twice that peak for a tenth of that time;
 * two guesses give memory back sooner (the heap collapsed, the thread
 * left), each backing off when it proves wrong. The spare huge mapping is
 * unmapped once it waited the decay time. A pass takes the runs off the
 * lists onto pages_t.purging and calls the kernel (MADV_DONTNEED) without
 * the lock; a fork child lists again as dirty the runs a vanished thread
 * was purging.
 * Lock: pages_t.lock (see pages); the kernel is called without it.
 */
#ifndef BM_PURGE_H
#define BM_PURGE_H

#include "common.h"
#include "pages.h"

/* The dirty bytes an arena may keep young whatever its demand: dirty_max
 * while there are no more arenas than CPUs, dirty_max x CPUs / arenas
 * beyond (a program whose 32 threads each churn a few MiB on 2 CPUs would
 * otherwise keep dirty_max in each arena: 4.8x its live heap in mimalloc's
 * test-stress). The collapse guess keeps using dirty_max itself. */
size_t purge_dirty_floor(void);

/* The background purger retries a busy arena this much later (ns). */
#define PAGES_BUSY_NS ((uint64_t)10 * 1000 * 1000)

/* The active bytes of p grew: its demand peak, and the guesses on watch. */
void purge_note_active_locked(pages_t *p);
/* List [addr, addr+size) as a freed run (pages_list_freed_locked), then
 * purge what the policy says is due; the lock is dropped while the kernel
 * purges. */
void purge_freed_locked(pages_t *p, uintptr_t addr, size_t size);
/* Purge dirty runs: all of them (and the spare) when force, else those past
 * the decay time or over the dirty bound. */
void purge_pages(pages_t *p, bool force);
/* The arena's thread exited: purge its dirty runs, unless the last purge
 * of a collapsed or left heap proved wrong recently (the memory was
 * needed again at once). */
void purge_left(pages_t *p);
/* For the background purger: purge the runs of p dirty for the decay time
 * by now, without waiting for p's lock (busy: retried soon), and those a
 * layer above holds (p->held_purge). Returns when the next run comes due
 * (UINT64_MAX: none is dirty). */
uint64_t purge_aged(pages_t *p, uint64_t now);
/* In the fork child: list again as dirty the runs another thread was
 * purging when the parent forked. */
void purge_postfork_child(pages_t *p);

#endif
