/*
 * realloc: growth by realloc, as string builders and vectors do. Each worker
 * keeps 64 buffers; each step picks one and grows it by a small random amount
 * (1-64 bytes) or, one time in eight, doubles it; a buffer that passes its
 * limit (4 KiB to 1 MiB, random) is freed and starts again. The last byte
 * written must survive every move. SCALE multiplies the steps.
 */
#include "common.h"

#define RG_BUFS 64

struct buf {
	unsigned char *p;
	size_t n, limit;
};

static void rg_restart(struct buf *b, bench_rng_t *r)
{
	free(b->p);
	b->n = bench_rng_range(r, 8, 64);
	b->limit = (size_t)4096 << bench_rng_range(r, 0, 8);
	b->p = (unsigned char *)bench_malloc(b->n);
	b->p[b->n - 1] = (unsigned char)b->n;
}

static void *rg_worker(void *arg)
{
	struct bench_job *j = (struct bench_job *)arg;
	struct buf b[RG_BUFS];
	bench_rng_t r;
	uint64_t sum = 0;
	bench_rng_seed(&r, j->seed);
	memset(b, 0, sizeof(b));
	for (int k = 0; k < RG_BUFS; k++)
		rg_restart(&b[k], &r);
	for (size_t i = 0; i < j->n; i++) {
		struct buf *x = &b[bench_rng_next(&r) % RG_BUFS];
		size_t grow = bench_rng_next(&r) % 8 == 0 ? x->n : bench_rng_range(&r, 1, 64);
		unsigned char last = x->p[x->n - 1];
		unsigned char *q = (unsigned char *)realloc(x->p, x->n + grow);
		if (!q)
			bench_die("out of memory");
		if (q[x->n - 1] != last)
			bench_die("realloc lost data");
		sum += last;
		x->p = q;
		x->n += grow;
		x->p[x->n - 1] = (unsigned char)i;
		if (x->n > x->limit)
			rg_restart(x, &r);
	}
	for (int k = 0; k < RG_BUFS; k++)
		free(b[k].p);
	j->sum = sum;
	return NULL;
}

int main(int argc, char **argv)
{
	return bench_jobs_main(argc, argv, 2, 1e6, 1000, 500, rg_worker);
}
