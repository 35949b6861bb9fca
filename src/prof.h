/*
 * prof: the sampling heap profiler's sampler and records. Each thread
 * counts down the bytes it allocates (tsd_tls.prof_left); the allocation
 * that takes the count past zero is sampled, and the next count is drawn
 * from an exponential distribution of mean opt_prof_sample bytes (a
 * Poisson process over the bytes allocated, as jemalloc and tcmalloc do):
 * an allocation of s bytes is sampled with probability 1 - exp(-s/R), so
 * the samples, each weighted by the inverse of that, estimate the live heap
 * without bias.
 * A sampled allocation is always a page run (alloc.c promotes small
 * ones): its extent's prof_id names its record, which points back at the
 * extent (an id whose record does not point back is stale: the run is not
 * sampled), and at its call stack, kept once per distinct stack with the
 * live sampled count and bytes. Records and stacks are metadata from the
 * sampling thread's arena base; a base never frees, so freed records and
 * stacks wait on free lists.
 * Lock: prof_lock (rank PROF, below the bases, which it calls with it held)
 * guards every record, stack and total. The stack is walked before the lock
 * is taken; meanwhile the thread's countdown is parked far away, so an
 * allocation made from inside the walk (libgcc's, where it is used) is not
 * sampled.
 */
#ifndef BM_PROF_H
#define BM_PROF_H

#include "common.h"
#include "base.h"
#include "extent.h"
#include "tsd.h"

/* A parked countdown: no allocation of the thread is sampled meanwhile. */
#define PROF_GUARD ((int64_t)1 << 62)

/* Set up the lock, the random seed and the stack walker (bootstrap, when
 * opt_prof). 0 on success; on failure opt_prof is turned off. */
int prof_boot(void);
/* Load the DWARF stack walker (from the library's constructor, when
 * opt_prof); warns when it cannot be had. */
void prof_boot_late(void);
/* The slow half of prof_sample_due: the countdown passed zero after
 * charging size bytes. True when this allocation is sampled; the next
 * countdown is drawn either way. */
bool prof_sample_pick(size_t size);

/* Charge size bytes to the calling thread's countdown; true when it
 * reached zero (then prof_sample_pick decides). Only while opt_prof. The
 * countdown is never negative here (it starts at 0, and every charge that
 * reaches zero draws the next one), so the test is unsigned: left <= size. */
BM_INLINE bool prof_sample_charge(size_t size) {
#if defined(__x86_64__) && defined(__GCC_ASM_FLAG_OUTPUTS__)
	bool due;   /* one sub on the TLS word, its flags the test */
	__asm__("subq %[s], %[left]" : [left] "+m"(tsd_tls.prof_left),
	    "=@ccbe"(due) : [s] "r"(size));
	return UNLIKELY(due);
#else
	uint64_t left = (uint64_t)tsd_tls.prof_left;
	tsd_tls.prof_left = (int64_t)(left - size);
	return UNLIKELY(left <= size);
#endif
}

/* Park the calling thread's countdown around allocations made on the
 * allocator's own behalf (the C library's, while it starts the background
 * purger); returns what prof_unpark puts back. */
BM_INLINE int64_t prof_park(void) {
	int64_t left = tsd_tls.prof_left;
	tsd_tls.prof_left = PROF_GUARD;
	return left;
}

BM_INLINE void prof_unpark(int64_t left) {
	tsd_tls.prof_left = left;
}

/* Charge size bytes; true when the allocation must be sampled. */
BM_INLINE bool prof_sample_due(size_t size) {
	return prof_sample_charge(size) && prof_sample_pick(size);
}

/* Record the sampled allocation of size bytes held by run e (metadata from
 * base); walks the caller's stack. True when the estimated live heap just
 * passed the next prof_gdump step (the caller then dumps). */
bool prof_sample_record(extent_t *e, size_t size, base_t *base);
/* Run e (large or huge) is being freed: drop its record if it has one. */
void prof_free(extent_t *e);
/* Run e was resized in place to hold size bytes; false when it holds no
 * sample. */
bool prof_resize(extent_t *e, size_t size);

/* The totals. */
typedef struct {
	uint64_t samples;     /* allocations sampled so far */
	uint64_t live;        /* sampled allocations live now */
	uint64_t live_bytes;  /* their requested bytes */
	uint64_t stacks;      /* distinct stacks holding them */
	uint64_t dropped;     /* samples not recorded (no metadata) */
	uint64_t est_bytes;   /* the live heap they stand for (estimated) */
} prof_stats_t;
void prof_stats_get(prof_stats_t *out);
/* Estimated allocations behind count samples holding bytes bytes (pprof's
 * scaling for heap_v2: count / (1 - exp(-(bytes / count) / R))); *est_bytes
 * gets the bytes they stand for. */
double prof_scale(uint64_t count, uint64_t bytes, double *est_bytes);
/* The sampling period R in bytes. */
uint64_t prof_period(void);

/* One stack with live samples, as prof_stacks_visit shows it. */
typedef struct {
	const uintptr_t *frames;   /* return addresses, innermost first */
	unsigned depth;
	uint64_t count, bytes;     /* live sampled allocations, their bytes */
} prof_stack_view_t;
/* Call fn on every stack with live samples, holding prof_lock (fn must not
 * allocate or take locks); *totals gets the totals seen at that moment. */
void prof_stacks_visit(void (*fn)(void *arg, const prof_stack_view_t *s),
    void *arg, prof_stats_t *totals);

#endif
