/*
 * test_base_mt: four threads allocate from one base at once, with the default
 * hooks and with a user's hook that yields while the base mutex is dropped
 * (so growth races with allocation). No two allocations overlap, every
 * allocation arrives zeroed and keeps its contents, and the stats stay
 * consistent while the threads run and after.
 */
#include "base_util.h"

#include <pthread.h>
#include <sched.h>

enum { NTHREADS = 4, PER_THREAD = 150000 };

typedef struct {
	base_t *base;
	uint64_t seed;
	rec_t *recs;
	size_t fails, not_zero, bad_align, bad_stats;
} worker_t;

static pthread_barrier_t start_line;

static void *worker(void *arg) {
	worker_t *w = arg;
	pthread_barrier_wait(&start_line);
	for (size_t i = 0; i < PER_THREAD; i++) {
		size_t size = 1 + (size_t)(check_rand(&w->seed) % 300);
		size_t align = (size_t)1 << (check_rand(&w->seed) % 9);
		unsigned char *p = base_alloc(w->base, size, align);
		if (p == NULL) {
			w->fails++;
			continue;
		}
		w->bad_align += (uintptr_t)p % align != 0;
		w->not_zero += nonzero_bytes(p, size) != 0;
		pattern_fill(p, size);
		w->recs[i] = (rec_t){ p, size };
		if (i % 1000 == 0 && !stats_consistent(w->base, NULL, 0))
			w->bad_stats++;
	}
	return NULL;
}

/* Hook forwarding to the default one, yielding first so that other threads
 * run while this one grows the base with the mutex dropped. */
static void *yield_alloc(bm_extent_hooks_t *h, void *new_addr, size_t size,
    size_t alignment, bool *zero, bool *commit, unsigned ind) {
	(void)h;
	sched_yield();
	return hooks_default.alloc(&hooks_default, new_addr, size, alignment,
	    zero, commit, ind);
}

static bm_extent_hooks_t yield_hooks;

/* Four threads allocate from one base on hooks (NULL = default). */
static int run(bm_extent_hooks_t *hooks) {
	base_t *b = base_new(50, hooks);
	rec_t *all = calloc((size_t)NTHREADS * PER_THREAD, sizeof(rec_t));
	CHECK(b != NULL && all != NULL);
	worker_t w[NTHREADS];
	pthread_t t[NTHREADS];
	pthread_barrier_init(&start_line, NULL, NTHREADS);
	for (int i = 0; i < NTHREADS; i++) {
		w[i] = (worker_t){ .base = b, .seed = 0x1234567ULL * (i + 1),
		    .recs = all + (size_t)i * PER_THREAD };
		CHECK(pthread_create(&t[i], NULL, worker, &w[i]) == 0);
	}
	size_t fails = 0, not_zero = 0, bad_align = 0, bad_stats = 0, sum = 0;
	for (int i = 0; i < NTHREADS; i++) {
		pthread_join(t[i], NULL);
		fails += w[i].fails;
		not_zero += w[i].not_zero;
		bad_align += w[i].bad_align;
		bad_stats += w[i].bad_stats;
	}
	pthread_barrier_destroy(&start_line);
	CHECK(fails == 0);
	CHECK(not_zero == 0, "%zu allocations not zeroed", not_zero);
	CHECK(bad_align == 0, "%zu misaligned", bad_align);
	CHECK(bad_stats == 0, "%zu inconsistent snapshots", bad_stats);
	size_t n = (size_t)NTHREADS * PER_THREAD;
	for (size_t i = 0; i < n; i++)
		sum += all[i].size;
	CHECK_DO(records_verify(all, n));
	base_stats_t st;
	base_stats_get(b, &st);
	CHECK(st.allocated >= sum);
	CHECK_STATS(b);
	free(all);
	base_delete(b);
	return CHECK_OK;
}

/* base mt: 4 threads on one base, default hooks */
static int test_default_hooks(void) {
	return run(NULL);
}

/* base mt: 4 threads on one base, yielding user hook */
static int test_yielding_hook(void) {
	return run(&yield_hooks);
}

static const struct check_s checks[] = {
	CHECK_ENTRY(test_default_hooks),
	CHECK_ENTRY(test_yielding_hook),
};

int main(int argc, char **argv) {
	boot_modules();
	yield_hooks = hooks_default;
	yield_hooks.alloc = yield_alloc;
	return check_main(checks, sizeof(checks) / sizeof(checks[0]), argc,
	    argv);
}
