/*
 * larson: a server simulation after Larson and Krishnan's benchmark. Each of
 * THREADS workers owns a table of live blocks and, for a number of rounds,
 * frees a random slot and fills it with a new block of random size (16 to
 * 1000 bytes). Workers then exit and a new generation of threads takes over
 * the tables shifted by one, so blocks allocated by one thread are freed by
 * another thread, often after their allocating thread has exited.
 * SCALE multiplies the rounds. Tables are disjoint between concurrent
 * workers, so no locks are needed and the checksum is deterministic.
 */
#include "common.h"

#define LARSON_SLOTS 4000
#define LARSON_GENERATIONS 6

struct table {
	void *p[LARSON_SLOTS];
	size_t n[LARSON_SLOTS];
};

struct job {
	struct table *t;
	size_t rounds;
	uint64_t seed;
	uint64_t sum;
};

static void *larson_worker(void *arg)
{
	struct job *j = (struct job *)arg;
	bench_rng_t r;
	bench_rng_seed(&r, j->seed);
	uint64_t sum = 0;
	for (size_t i = 0; i < j->rounds; i++) {
		size_t k = bench_rng_range(&r, 0, LARSON_SLOTS - 1);
		sum += bench_peek(j->t->p[k], j->t->n[k]);
		free(j->t->p[k]);
		size_t n = bench_rng_range(&r, 16, 1000);
		j->t->p[k] = bench_malloc(n);
		j->t->n[k] = n;
		sum += bench_touch(j->t->p[k], n, i);
	}
	j->sum = sum;
	return NULL;
}

int main(int argc, char **argv)
{
	int threads;
	double scale;
	bench_parse_args(argc, argv, &threads, &scale, 4);
	size_t rounds = bench_scaled(scale, 2e7, 1000) / threads / LARSON_GENERATIONS;
	struct table *tables = (struct table *)bench_malloc(sizeof(struct table) * threads);
	struct job *jobs = (struct job *)bench_malloc(sizeof(struct job) * threads);
	bench_rng_t r;
	bench_rng_seed(&r, 1);
	for (int t = 0; t < threads; t++)
		for (int k = 0; k < LARSON_SLOTS; k++) {
			size_t n = bench_rng_range(&r, 16, 1000);
			tables[t].p[k] = bench_malloc(n);
			tables[t].n[k] = n;
			bench_touch(tables[t].p[k], n, k);
		}
	uint64_t sum = 0;
	for (int g = 0; g < LARSON_GENERATIONS; g++) {
		for (int t = 0; t < threads; t++) {
			jobs[t].t = &tables[(t + g) % threads];
			jobs[t].rounds = rounds;
			jobs[t].seed = (uint64_t)g * 1000 + t + 7;
		}
		bench_run_threads(threads, larson_worker, jobs, sizeof(struct job));
		for (int t = 0; t < threads; t++)
			sum += jobs[t].sum;
	}
	for (int t = 0; t < threads; t++)
		for (int k = 0; k < LARSON_SLOTS; k++)
			free(tables[t].p[k]);
	free(tables);
	free(jobs);
	return bench_finish(sum);
}
