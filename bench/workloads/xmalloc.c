/*
 * xmalloc: producer/consumer after Lever and Boreham's xmalloc-test. THREADS
 * pairs; in each pair one thread mallocs blocks of random size (8 to 512
 * bytes), writes them and hands them over in batches of 256 through a small
 * bounded queue; the other thread reads and frees them. Every block is freed
 * by a thread that did not allocate it. SCALE multiplies the block count.
 * Locks: one mutex + two condition variables per pair's queue.
 */
#include "common.h"

#define XM_BATCH 256
#define XM_QUEUE 16

struct batch {
	void *p[XM_BATCH];
	uint32_t n[XM_BATCH];
};

struct pair {
	pthread_mutex_t mu;
	pthread_cond_t not_empty, not_full;
	struct batch *q[XM_QUEUE];
	int head, count, done;
	size_t batches;
	uint64_t seed;
	uint64_t sum_prod, sum_cons;
};

static void xm_push(struct pair *p, struct batch *b)
{
	pthread_mutex_lock(&p->mu);
	while (p->count == XM_QUEUE)
		pthread_cond_wait(&p->not_full, &p->mu);
	p->q[(p->head + p->count) % XM_QUEUE] = b;
	p->count++;
	pthread_cond_signal(&p->not_empty);
	pthread_mutex_unlock(&p->mu);
}

static struct batch *xm_pop(struct pair *p)
{
	struct batch *b = NULL;
	pthread_mutex_lock(&p->mu);
	while (p->count == 0 && !p->done)
		pthread_cond_wait(&p->not_empty, &p->mu);
	if (p->count > 0) {
		b = p->q[p->head];
		p->head = (p->head + 1) % XM_QUEUE;
		p->count--;
		pthread_cond_signal(&p->not_full);
	}
	pthread_mutex_unlock(&p->mu);
	return b;
}

static void *xm_producer(void *arg)
{
	struct pair *p = (struct pair *)arg;
	bench_rng_t r;
	bench_rng_seed(&r, p->seed);
	for (size_t i = 0; i < p->batches; i++) {
		struct batch *b = (struct batch *)bench_malloc(sizeof(*b));
		for (int k = 0; k < XM_BATCH; k++) {
			size_t n = bench_rng_range(&r, 8, 512);
			b->p[k] = bench_malloc(n);
			b->n[k] = (uint32_t)n;
			p->sum_prod += bench_touch(b->p[k], n, i + k);
		}
		xm_push(p, b);
	}
	pthread_mutex_lock(&p->mu);
	p->done = 1;
	pthread_cond_broadcast(&p->not_empty);
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

static void *xm_consumer(void *arg)
{
	struct pair *p = (struct pair *)arg;
	struct batch *b;
	while ((b = xm_pop(p)) != NULL) {
		for (int k = 0; k < XM_BATCH; k++) {
			p->sum_cons += bench_peek(b->p[k], b->n[k]);
			free(b->p[k]);
		}
		free(b);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	int pairs;
	double scale;
	bench_parse_args(argc, argv, &pairs, &scale, 1);
	struct pair *ps = (struct pair *)calloc((size_t)pairs, sizeof(struct pair));
	pthread_t *t = (pthread_t *)bench_malloc(sizeof(pthread_t) * 2 * pairs);
	if (!ps)
		bench_die("out of memory");
	size_t batches = bench_scaled(scale, 4e6, XM_BATCH) / XM_BATCH / pairs;
	for (int i = 0; i < pairs; i++) {
		pthread_mutex_init(&ps[i].mu, NULL);
		pthread_cond_init(&ps[i].not_empty, NULL);
		pthread_cond_init(&ps[i].not_full, NULL);
		ps[i].batches = batches;
		ps[i].seed = 100 + i;
		pthread_create(&t[2 * i], NULL, xm_producer, &ps[i]);
		pthread_create(&t[2 * i + 1], NULL, xm_consumer, &ps[i]);
	}
	uint64_t sum = 0;
	for (int i = 0; i < pairs; i++) {
		pthread_join(t[2 * i], NULL);
		pthread_join(t[2 * i + 1], NULL);
		if (ps[i].sum_prod != ps[i].sum_cons)
			bench_die("xmalloc: a block changed between threads");
		sum += ps[i].sum_cons;
	}
	free(t);
	free(ps);
	return bench_finish(sum);
}
