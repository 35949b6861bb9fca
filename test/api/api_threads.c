/*
 * api_threads.c: the malloc API from many threads, run under LD_PRELOAD by
 * test/api/run: 8 threads each allocating and freeing with checked patterns,
 * blocks freed by a thread other than the one that allocated them, and
 * threads that exit while their blocks are still alive elsewhere.
 */
#include "check.h"

#include <malloc.h>
#include <pthread.h>

#define N_THREADS 8

struct worker_s {
	int id;
	uint64_t seed;
	int failed;
};

/* Each thread keeps a window of live blocks, each filled with a pattern
 * keyed by its serial number, and verifies it just before freeing. */
static void *worker_own(void *arg)
{
	struct worker_s *w = arg;
	enum { WINDOW = 128, OPS = 150000 };
	unsigned char *live[WINDOW] = { 0 };
	size_t size[WINDOW];
	uint64_t tag[WINDOW], rng = w->seed;
	for (int i = 0; i < OPS && !w->failed; i++) {
		int k = (int)(check_rand(&rng) % WINDOW);
		if (live[k] != NULL) {
			if (check_verify(live[k], size[k], tag[k]) >= 0)
				w->failed = 1;
			free(live[k]);
		}
		uint64_t r = check_rand(&rng);
		size[k] = (r % 100 == 0) ? r % (200 * 1024) : r % 1024;
		tag[k] = ((uint64_t)w->id << 40) | (uint64_t)i;
		live[k] = malloc(size[k]);
		if (live[k] == NULL) {
			w->failed = 1;
			break;
		}
		check_fill(live[k], size[k], tag[k]);
	}
	for (int k = 0; k < WINDOW; k++)
		if (live[k] != NULL) {
			if (check_verify(live[k], size[k], tag[k]) >= 0)
				w->failed = 1;
			free(live[k]);
		}
	return NULL;
}

static int threads_8(void)
{
	pthread_t th[N_THREADS];
	struct worker_s w[N_THREADS];
	for (int i = 0; i < N_THREADS; i++) {
		w[i] = (struct worker_s){ .id = i, .seed = check_seed() + (uint64_t)i };
		CHECK(pthread_create(&th[i], NULL, worker_own, &w[i]) == 0);
	}
	for (int i = 0; i < N_THREADS; i++)
		CHECK(pthread_join(th[i], NULL) == 0);
	for (int i = 0; i < N_THREADS; i++)
		CHECK(!w[i].failed, "thread %d saw a corrupted block or a failed malloc", i);
	return CHECK_OK;
}

/* A bounded queue of blocks from producers to consumers (mutex + condvars). */
#define QCAP 1024
struct item_s {
	unsigned char *p;
	size_t n;
	uint64_t tag;
};
static struct {
	pthread_mutex_t mu;
	pthread_cond_t not_empty, not_full;
	struct item_s items[QCAP];
	size_t head, count;
	int producers_left;
} q = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER,
	{ { 0, 0, 0 } }, 0, 0, 0 };

static void queue_put(struct item_s it)
{
	pthread_mutex_lock(&q.mu);
	while (q.count == QCAP)
		pthread_cond_wait(&q.not_full, &q.mu);
	q.items[(q.head + q.count) % QCAP] = it;
	q.count++;
	pthread_cond_signal(&q.not_empty);
	pthread_mutex_unlock(&q.mu);
}

/* Returns 0 and the item, or 1 when the queue is drained for good. */
static int queue_get(struct item_s *it)
{
	pthread_mutex_lock(&q.mu);
	while (q.count == 0 && q.producers_left > 0)
		pthread_cond_wait(&q.not_empty, &q.mu);
	if (q.count == 0) {
		pthread_mutex_unlock(&q.mu);
		return 1;
	}
	*it = q.items[q.head];
	q.head = (q.head + 1) % QCAP;
	q.count--;
	pthread_cond_signal(&q.not_full);
	pthread_mutex_unlock(&q.mu);
	return 0;
}

static void *producer(void *arg)
{
	struct worker_s *w = arg;
	uint64_t rng = w->seed;
	for (int i = 0; i < 50000; i++) {
		uint64_t r = check_rand(&rng);
		struct item_s it = { NULL, (r % 50 == 0) ? r % (300 * 1024) : r % 2048,
			((uint64_t)w->id << 40) | (uint64_t)i };
		it.p = malloc(it.n);
		if (it.p == NULL) {
			w->failed = 1;
			break;
		}
		check_fill(it.p, it.n, it.tag);
		queue_put(it);
	}
	pthread_mutex_lock(&q.mu);
	q.producers_left--;
	pthread_cond_broadcast(&q.not_empty);
	pthread_mutex_unlock(&q.mu);
	return NULL;
}

static void *consumer(void *arg)
{
	struct worker_s *w = arg;
	struct item_s it;
	while (queue_get(&it) == 0) {
		if (check_verify(it.p, it.n, it.tag) >= 0)
			w->failed = 1;
		if (it.n > 16)
			it.p[0] ^= 1;
		free(it.p);
	}
	return NULL;
}

/* 4 producers allocate, 4 consumers verify and free; producers exit while
 * their blocks are still queued. */
static int cross_thread_free(void)
{
	pthread_t th[N_THREADS];
	struct worker_s w[N_THREADS];
	q.producers_left = N_THREADS / 2;
	for (int i = 0; i < N_THREADS; i++) {
		w[i] = (struct worker_s){ .id = i, .seed = check_seed() * 31 + (uint64_t)i };
		CHECK(pthread_create(&th[i], NULL, i % 2 ? consumer : producer, &w[i]) == 0);
	}
	for (int i = 0; i < N_THREADS; i++)
		CHECK(pthread_join(th[i], NULL) == 0);
	for (int i = 0; i < N_THREADS; i++)
		CHECK(!w[i].failed, "%s %d saw a corrupted block or a failed malloc",
		    i % 2 ? "consumer" : "producer", i);
	CHECK(q.count == 0);
	return CHECK_OK;
}

static const struct check_s checks[] = {
	CHECK_ENTRY(threads_8),
	CHECK_ENTRY(cross_thread_free),
};

int main(int argc, char **argv)
{
	printf("# api_threads: seed %#llx\n", (unsigned long long)check_seed());
	return check_main(checks, sizeof(checks) / sizeof(checks[0]), argc, argv);
}
