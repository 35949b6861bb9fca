/*
 * cache-scratch: passive false sharing, after Hoard's cache-scratch. The main
 * thread allocates one small object per worker, back to back, and hands one
 * to each worker, which frees it and then repeatedly allocates an object of
 * the same size, writes it many times and frees it. An allocator that serves
 * a worker from the freed neighbour's cache line makes the workers' writes
 * contend for the same line. SCALE multiplies the iterations.
 */
#include "common.h"

#define CS_OBJ 8
#define CS_WRITES 500

struct job {
	char *first;
	size_t iters;
	uint64_t sum;
};

static void *cs_worker(void *arg)
{
	struct job *j = (struct job *)arg;
	uint64_t sum = 0;
	free(j->first);
	for (size_t i = 0; i < j->iters; i++) {
		volatile char *p = (volatile char *)bench_malloc(CS_OBJ);
		for (int k = 0; k < CS_OBJ; k++)
			p[k] = 0;
		for (int w = 0; w < CS_WRITES; w++)
			p[w % CS_OBJ] = (char)(p[w % CS_OBJ] + 1 + w);
		sum += (unsigned char)p[0];
		free((void *)p);
	}
	j->sum = sum;
	return NULL;
}

int main(int argc, char **argv)
{
	int threads;
	double scale;
	bench_parse_args(argc, argv, &threads, &scale, 2);
	struct job *jobs = (struct job *)calloc((size_t)threads, sizeof(struct job));
	if (!jobs)
		bench_die("out of memory");
	size_t iters = bench_scaled(scale, 2e6, 100) / threads;
	for (int t = 0; t < threads; t++) {
		jobs[t].first = (char *)bench_malloc(CS_OBJ);
		memset(jobs[t].first, 0, CS_OBJ);
		jobs[t].iters = iters;
	}
	bench_run_threads(threads, cs_worker, jobs, sizeof(struct job));
	uint64_t sum = 0;
	for (int t = 0; t < threads; t++)
		sum += jobs[t].sum;
	free(jobs);
	return bench_finish(sum);
}
