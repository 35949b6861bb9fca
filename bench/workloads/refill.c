/*
 * refill: a thread that frees more memory per cycle than an allocator keeps
 * dirty, and allocates it again at once. Each worker, every round, writes a
 * 12 MiB buffer in full and frees it, then allocates and writes 200 blocks of
 * 1-100 KB and frees them. An allocator whose purging bound is below what a
 * round frees gives the pages back and faults them straight in again (page
 * faults and system time); one that keeps them reuses them. SCALE multiplies
 * the rounds.
 */
#include "common.h"

#define RF_BUFFER ((size_t)12 << 20)
#define RF_BLOCKS 200

/* Writes every page of p (n bytes) and its last byte; returns a value to
 * fold. */
static uint64_t rf_fill(unsigned char *p, size_t n, uint64_t v)
{
	for (size_t off = 0; off < n; off += 4096)
		p[off] = (unsigned char)(v + off / 4096);
	p[n - 1] = (unsigned char)v;
	return (uint64_t)p[0] + p[n - 1];
}

static void *rf_worker(void *arg)
{
	struct bench_job *j = (struct bench_job *)arg;
	unsigned char *blk[RF_BLOCKS];
	size_t len[RF_BLOCKS];
	bench_rng_t r;
	uint64_t sum = 0;
	bench_rng_seed(&r, j->seed);
	for (size_t i = 0; i < j->n; i++) {
		unsigned char *buf = (unsigned char *)bench_malloc(RF_BUFFER);
		sum += rf_fill(buf, RF_BUFFER, i);
		free(buf);
		for (int k = 0; k < RF_BLOCKS; k++) {
			len[k] = bench_rng_range(&r, 1000, 100000);
			blk[k] = (unsigned char *)bench_malloc(len[k]);
			sum += rf_fill(blk[k], len[k], i + k);
		}
		for (int k = 0; k < RF_BLOCKS; k++)
			free(blk[k]);
	}
	j->sum = sum;
	return NULL;
}

int main(int argc, char **argv)
{
	return bench_jobs_main(argc, argv, 4, 1600, 8, 900, rf_worker);
}
