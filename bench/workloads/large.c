/*
 * large: large and huge blocks, 64 KiB to 64 MiB (log-uniform). Each worker
 * keeps a window of 8 live blocks; each step frees the oldest and allocates
 * a new one, writing one byte in every page of its first 1 MiB and its last
 * byte, as programs that fill buffers do. Allocators differ in whether they
 * map and unmap each block (page faults, munmap cost) or reuse memory (RSS).
 * SCALE multiplies the steps.
 */
#include "common.h"

#define LG_WINDOW 8
#define LG_TOUCH ((size_t)1 << 20)

static size_t lg_size(bench_rng_t *r)
{
	unsigned shift = (unsigned)bench_rng_range(r, 16, 25);	/* 64 KiB..32 MiB */
	size_t base = (size_t)1 << shift;
	return base + bench_rng_next(r) % base;			/* ..64 MiB */
}

static uint64_t lg_fill(unsigned char *p, size_t n, uint64_t v)
{
	size_t lim = n < LG_TOUCH ? n : LG_TOUCH;
	for (size_t off = 0; off < lim; off += 4096)
		p[off] = (unsigned char)(v + off / 4096);
	p[n - 1] = (unsigned char)v;
	return p[0] + p[n - 1];
}

static void *lg_worker(void *arg)
{
	struct bench_job *j = (struct bench_job *)arg;
	unsigned char *p[LG_WINDOW] = { 0 };
	size_t n[LG_WINDOW] = { 0 };
	bench_rng_t r;
	uint64_t sum = 0;
	bench_rng_seed(&r, j->seed);
	for (size_t i = 0; i < j->n; i++) {
		size_t k = i % LG_WINDOW;
		if (p[k]) {
			sum += p[k][0] + p[k][n[k] - 1];
			free(p[k]);
		}
		n[k] = lg_size(&r);
		p[k] = (unsigned char *)bench_malloc(n[k]);
		sum += lg_fill(p[k], n[k], i);
	}
	for (int k = 0; k < LG_WINDOW; k++)
		free(p[k]);
	j->sum = sum;
	return NULL;
}

int main(int argc, char **argv)
{
	return bench_jobs_main(argc, argv, 2, 2000, 16, 600, lg_worker);
}
