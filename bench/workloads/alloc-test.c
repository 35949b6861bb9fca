/*
 * alloc-test: random size churn, after the alloc-test benchmark. Each worker
 * keeps a table of slots; each step picks a random slot, frees what is there
 * and allocates a new block. Sizes follow a skewed mix like real programs:
 * 80% of 16-128 bytes, 15% of 129 bytes-4 KiB, 5% of 4-64 KiB. Workers are
 * independent (no cross-thread frees). SCALE multiplies the steps.
 */
#include "common.h"

#define AT_SLOTS 8192

static size_t at_size(bench_rng_t *r)
{
	uint64_t pick = bench_rng_next(r) % 100;
	if (pick < 80)
		return bench_rng_range(r, 16, 128);
	if (pick < 95)
		return bench_rng_range(r, 129, 4096);
	return bench_rng_range(r, 4097, 65536);
}

static void *at_worker(void *arg)
{
	struct bench_job *j = (struct bench_job *)arg;
	void **p = (void **)calloc(AT_SLOTS, sizeof(void *));
	size_t *n = (size_t *)calloc(AT_SLOTS, sizeof(size_t));
	bench_rng_t r;
	uint64_t sum = 0;
	if (!p || !n)
		bench_die("out of memory");
	bench_rng_seed(&r, j->seed);
	for (size_t i = 0; i < j->n; i++) {
		size_t k = bench_rng_next(&r) % AT_SLOTS;
		size_t len = at_size(&r);
		sum += bench_replace(&p[k], n[k], len, i);
		n[k] = len;
	}
	for (size_t k = 0; k < AT_SLOTS; k++)
		free(p[k]);
	free(p);
	free(n);
	j->sum = sum;
	return NULL;
}

int main(int argc, char **argv)
{
	return bench_jobs_main(argc, argv, 2, 6e6, 1000, 300, at_worker);
}
