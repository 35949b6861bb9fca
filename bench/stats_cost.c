/*
 * stats_cost.c: what the always-on statistics counters cost. The counters
 * sit on slow paths only (slab refills that collect remote frees, page-run
 * allocation and release, arena adoption), so this drives exactly those
 * paths and reports nanoseconds per operation; run it under a library built
 * without the counters and one built with them, alternating, and compare.
 *
 *   cc -O2 -pthread -o stats_cost bench/stats_cost.c
 *   LD_PRELOAD=./libbasemalloc.so ./stats_cost [rounds [workload]]
 *
 * Times are process CPU time per operation. On a loaded machine they are
 * noisy; instruction counts are not:
 *   valgrind --tool=callgrind --callgrind-out-file=/dev/null \
 *     env LD_PRELOAD=./libbasemalloc.so ./stats_cost 1 churn
 *
 * Workloads (each line "name ns_per_op"):
 *   fast     malloc+free of one size: the fast path, no counter at all
 *   churn    100k mixed small objects allocated then freed, repeatedly:
 *            refills, new slabs, slabs retired to the page runs
 *   remote   one thread allocates 64-byte objects, another frees them: every
 *            refill collects remote frees (the remote-free counter)
 *   large    64 KiB .. 1 MiB runs, 16 live: page-run counters under the lock
 *   threads  short-lived threads that each allocate: arena adoption
 * Not a test: it asserts nothing. No locks of its own beyond the queue's.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* CPU time of the whole process: on a loaded machine, the time other
 * processes run does not count. */
static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t rng_state = 88172645463325252ULL;
static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* Keep the compiler from dropping allocations. */
static volatile uintptr_t sink;

static double bench_fast(int rounds)
{
	uint64_t n = (uint64_t)rounds * 2000000, t = now_ns();
	for (uint64_t i = 0; i < n; i++) {
		void *p = malloc(48);
		sink += (uintptr_t)p;
		free(p);
	}
	return (double)(now_ns() - t) / (double)n;
}

#define CHURN_N 100000
static void *churn_p[CHURN_N];

static double bench_churn(int rounds)
{
	uint64_t t = now_ns(), ops = 0;
	for (int r = 0; r < rounds * 10; r++) {
		for (int i = 0; i < CHURN_N; i++) {
			churn_p[i] = malloc(16 + rng() % 1009);
			sink += (uintptr_t)churn_p[i];
		}
		for (int i = 0; i < CHURN_N; i++)
			free(churn_p[i]);
		ops += CHURN_N;
	}
	return (double)(now_ns() - t) / (double)ops;
}

/* A bounded queue of batches from the allocating thread to the freeing one. */
#define BATCH 1000
#define QLEN 8
typedef struct {
	pthread_mutex_t m;
	pthread_cond_t cv;
	void **q[QLEN];
	int head, tail, done;
} queue_t;

static void queue_put(queue_t *q, void **b)
{
	pthread_mutex_lock(&q->m);
	while (q->tail - q->head == QLEN)
		pthread_cond_wait(&q->cv, &q->m);
	q->q[q->tail++ % QLEN] = b;
	pthread_cond_broadcast(&q->cv);
	pthread_mutex_unlock(&q->m);
}

static void **queue_get(queue_t *q)
{
	void **b = NULL;
	pthread_mutex_lock(&q->m);
	while (q->tail == q->head && !q->done)
		pthread_cond_wait(&q->cv, &q->m);
	if (q->tail != q->head)
		b = q->q[q->head++ % QLEN];
	pthread_cond_broadcast(&q->cv);
	pthread_mutex_unlock(&q->m);
	return b;
}

static void *remote_freer(void *arg)
{
	queue_t *q = arg;
	void **b;
	while ((b = queue_get(q)) != NULL) {
		for (int i = 0; i < BATCH; i++)
			free(b[i]);
		free(b);
	}
	return NULL;
}

static double bench_remote(int rounds)
{
	queue_t q = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
	    { 0 }, 0, 0, 0 };
	pthread_t t;
	uint64_t n = (uint64_t)rounds * 2000, start = now_ns();
	pthread_create(&t, NULL, remote_freer, &q);
	for (uint64_t r = 0; r < n; r++) {
		void **b = malloc(BATCH * sizeof(void *));
		for (int i = 0; i < BATCH; i++)
			b[i] = malloc(64);
		queue_put(&q, b);
	}
	pthread_mutex_lock(&q.m);
	q.done = 1;
	pthread_cond_broadcast(&q.cv);
	pthread_mutex_unlock(&q.m);
	pthread_join(t, NULL);
	return (double)(now_ns() - start) / (double)(n * BATCH);
}

static double bench_large(int rounds)
{
	void *live[16] = { 0 };
	uint64_t n = (uint64_t)rounds * 100000, t = now_ns();
	for (uint64_t i = 0; i < n; i++) {
		unsigned k = (unsigned)(rng() % 16);
		free(live[k]);
		live[k] = malloc((64 << 10) + (rng() % 16) * (60 << 10));
		sink += (uintptr_t)live[k];
	}
	for (int k = 0; k < 16; k++)
		free(live[k]);
	return (double)(now_ns() - t) / (double)n;
}

static void *short_thread(void *arg)
{
	(void)arg;
	for (int i = 0; i < 100; i++) {
		void *p = malloc(32 + (size_t)i * 8);
		sink += (uintptr_t)p;
		free(p);
	}
	return NULL;
}

static double bench_threads(int rounds)
{
	uint64_t n = (uint64_t)rounds * 2000, t = now_ns();
	for (uint64_t i = 0; i < n; i++) {
		pthread_t th;
		pthread_create(&th, NULL, short_thread, NULL);
		pthread_join(th, NULL);
	}
	return (double)(now_ns() - t) / (double)n;
}

static const struct {
	const char *name;
	double (*fn)(int rounds);
} workloads[] = {
	{ "fast", bench_fast }, { "churn", bench_churn },
	{ "remote", bench_remote }, { "large", bench_large },
	{ "threads", bench_threads },
};

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 5;
	const char *only = argc > 2 ? argv[2] : NULL;
	if (rounds < 1)
		rounds = 1;
	for (size_t i = 0; i < sizeof(workloads) / sizeof(workloads[0]); i++) {
		if (only == NULL || strcmp(only, workloads[i].name) == 0)
			printf("%s %.2f\n", workloads[i].name,
			    workloads[i].fn(rounds));
	}
	return 0;
}
