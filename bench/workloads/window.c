/*
 * window: single-thread sliding window of small blocks. A ring of 20000 live
 * blocks (16-512 bytes); each step frees the oldest and allocates a new one.
 * This is the allocator's fast path with a steady working set. THREADS is
 * accepted for a uniform command line and ignored (always one thread).
 * SCALE multiplies the steps.
 */
#include "common.h"

#define WIN 20000

int main(int argc, char **argv)
{
	int threads;
	double scale;
	bench_parse_args(argc, argv, &threads, &scale, 1);
	void **p = (void **)calloc(WIN, sizeof(void *));
	uint16_t *n = (uint16_t *)calloc(WIN, sizeof(uint16_t));
	if (!p || !n)
		bench_die("out of memory");
	size_t steps = bench_scaled(scale, 3e7, WIN);
	bench_rng_t r;
	uint64_t sum = 0;
	bench_rng_seed(&r, 800);
	for (size_t i = 0; i < steps; i++) {
		size_t k = i % WIN;
		size_t len = bench_rng_range(&r, 16, 512);
		sum += bench_replace(&p[k], n[k], len, i);
		n[k] = (uint16_t)len;
	}
	for (size_t k = 0; k < WIN; k++)
		free(p[k]);
	free(p);
	free(n);
	return bench_finish(sum);
}
