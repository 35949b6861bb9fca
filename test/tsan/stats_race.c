/*
 * stats_race.c: statistics read from several threads while others allocate,
 * under ThreadSanitizer (test/tsan/run builds it and the modules with clang
 * -fsanitize=thread). Workers malloc and free small, large and huge blocks
 * through bm_* (their own and, through a queue, each other's: remote frees),
 * and some exit so their arenas go to the pool and are adopted; readers
 * meanwhile take snapshots (epoch), read every figure of every arena and
 * class by name, and print the text and JSON reports. TSan must report no
 * data race; the checks also want every read to answer.
 */
#include "check.h"
#include "../../include/basemalloc.h"

#include <pthread.h>
#include <stdatomic.h>

#define NWORKERS 3
#define NREADERS 2
#define WORKER_OPS 60000
#define WINDOW 512
#define SLOTS 64

static _Atomic int workers_left;
static _Atomic(void *) handoff[SLOTS];   /* blocks freed by another thread */

static void *worker(void *arg) {
	static _Thread_local void *win[WINDOW];
	uint64_t seed = (uintptr_t)arg * 7919 + 1;
	for (int i = 0; i < WORKER_OPS; i++) {
		unsigned k = (unsigned)(check_rand(&seed) % WINDOW);
		uint64_t r = check_rand(&seed);
		size_t size = r % 1000 == 0 ? ((size_t)33 << 20) : r % 50 == 0 ?
		    20000 + r % 200000 : 1 + r % 2000;
		void *old = win[k];
		if (old != NULL && r % 7 == 0)
			old = atomic_exchange(&handoff[r % SLOTS], old);
		bm_free(old);
		win[k] = bm_malloc(size);
		if (win[k] != NULL)
			((char *)win[k])[0] = (char)i;
	}
	for (int k = 0; k < WINDOW; k++) {
		bm_free(win[k]);
		win[k] = NULL;
	}
	atomic_fetch_sub(&workers_left, 1);
	return NULL;
}

/* A short-lived thread: its arena goes to the pool, the next one adopts it. */
static void *short_lived(void *arg) {
	(void)arg;
	for (int i = 0; i < 100; i++)
		bm_free(bm_malloc(64 + (size_t)i));
	return bm_malloc(100);
}

static void sink(void *opaque, const char *text) {
	*(size_t *)opaque += strlen(text);
}

static size_t rd(const char *fmt, unsigned a, unsigned c, int *err) {
	char name[96];
	size_t v = 0, len = sizeof(v);
	snprintf(name, sizeof(name), fmt, a, c);
	*err |= bm_ctl(name, &v, &len, NULL, 0);
	return v;
}

static void *reader(void *arg) {
	int *bad = arg;
	unsigned round = 0;
	while (atomic_load(&workers_left) > 0) {
		uint64_t e = 1;
		size_t out = 0;
		unsigned na = 0;
		size_t len = sizeof(na);
		int err = bm_ctl("epoch", NULL, NULL, &e, sizeof(e));
		rd("stats.allocated", 0, 0, &err);
		rd("stats.small.live", 0, 0, &err);
		rd("stats.bins.%u.live", 3, 0, &err);
		err |= bm_ctl("arenas.narenas", &na, &len, NULL, 0);
		for (unsigned a = 0; a < na; a++) {
			rd("stats.arenas.%u.small.live", a, 0, &err);
			rd("stats.arenas.%u.dirty", a, 0, &err);
			rd("stats.arenas.%u.base.allocated", a, 0, &err);
			for (unsigned c = 0; c < 36; c += 5)
				rd("stats.arenas.%u.bins.%u.live", a, c, &err);
		}
		bm_stats_print(sink, &out, round++ % 2 ? "J" : "b");
		*bad += err != 0 || out == 0;
	}
	return NULL;
}

static int stats_read_while_allocating(void) {
	pthread_t w[NWORKERS], r[NREADERS], s;
	int bad[NREADERS] = { 0 };
	atomic_store(&workers_left, NWORKERS);
	bm_free(bm_malloc(1));
	for (long i = 0; i < NREADERS; i++)
		CHECK(pthread_create(&r[i], NULL, reader, &bad[i]) == 0);
	for (long i = 0; i < NWORKERS; i++)
		CHECK(pthread_create(&w[i], NULL, worker, (void *)i) == 0);
	for (int i = 0; i < 20; i++) {
		void *p;
		CHECK(pthread_create(&s, NULL, short_lived, NULL) == 0);
		CHECK(pthread_join(s, &p) == 0);
		bm_free(p);
	}
	for (int i = 0; i < NWORKERS; i++)
		CHECK(pthread_join(w[i], NULL) == 0);
	for (int i = 0; i < NREADERS; i++)
		CHECK(pthread_join(r[i], NULL) == 0);
	for (int i = 0; i < SLOTS; i++)
		bm_free(atomic_exchange(&handoff[i], NULL));
	CHECK(bad[0] == 0 && bad[1] == 0, "reads that did not answer: %d, %d",
	    bad[0], bad[1]);
	return CHECK_OK;
}

static const struct check_s checks[] = {
	CHECK_ENTRY(stats_read_while_allocating),
};

int main(int argc, char **argv) {
	return check_main(checks, sizeof(checks) / sizeof(checks[0]), argc,
	    argv);
}
