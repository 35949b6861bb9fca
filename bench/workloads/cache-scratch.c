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

static void *cs_worker(void *arg)
{
	struct bench_job *j = (struct bench_job *)arg;
	free(j->data[0]);	/* the block the main thread allocated */
	j->sum = bench_scribble(j->n, CS_OBJ, CS_WRITES);
	return NULL;
}

int main(int argc, char **argv)
{
	int threads;
	double scale;
	bench_parse_args(argc, argv, &threads, &scale, 2);
	struct bench_job *jobs = bench_jobs_new(threads,
	    bench_scaled(scale, 2e6, 100) / threads, 0);
	for (int t = 0; t < threads; t++) {
		jobs[t].data[0] = bench_malloc(CS_OBJ);
		memset(jobs[t].data[0], 0, CS_OBJ);
	}
	bench_jobs_start(jobs, threads, cs_worker);
	return bench_finish(bench_jobs_free(jobs, threads));
}
