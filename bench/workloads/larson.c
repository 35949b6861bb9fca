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

/* A job's data[0] is the table it works on this generation; its sum
 * accumulates over the generations. */
static void *larson_worker(void *arg)
{
	struct bench_job *j = (struct bench_job *)arg;
	struct table *tab = (struct table *)j->data[0];
	bench_rng_t r;
	bench_rng_seed(&r, j->seed);
	j->sum += bench_larson_rounds(tab->p, tab->n, LARSON_SLOTS, j->n, &r);
	return NULL;
}

int main(int argc, char **argv)
{
	int threads;
	double scale;
	bench_parse_args(argc, argv, &threads, &scale, 4);
	size_t rounds = bench_scaled(scale, 2e7, 1000) / threads / LARSON_GENERATIONS;
	struct table *tables = (struct table *)bench_malloc(sizeof(struct table) * threads);
	struct bench_job *jobs = bench_jobs_new(threads, rounds, 0);
	bench_rng_t r;
	bench_rng_seed(&r, 1);
	for (int t = 0; t < threads; t++)
		bench_larson_fill(tables[t].p, tables[t].n, LARSON_SLOTS, &r);
	for (int g = 0; g < LARSON_GENERATIONS; g++) {
		for (int t = 0; t < threads; t++) {
			jobs[t].data[0] = &tables[(t + g) % threads];
			jobs[t].seed = (uint64_t)g * 1000 + t + 7;
		}
		bench_jobs_start(jobs, threads, larson_worker);
	}
	for (int t = 0; t < threads; t++)
		for (int k = 0; k < LARSON_SLOTS; k++)
			free(tables[t].p[k]);
	free(tables);
	return bench_finish(bench_jobs_free(jobs, threads));
}
