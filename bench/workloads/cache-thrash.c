/*
 * cache-thrash: active false sharing, after Hoard's cache-thrash. Each worker
 * repeatedly allocates a small object, writes it many times and frees it.
 * An allocator that hands objects on one cache line to different threads
 * makes their writes contend for that line. SCALE multiplies the iterations.
 */
#include "common.h"

#define CT_OBJ 8
#define CT_WRITES 500

static void *ct_worker(void *arg)
{
	struct bench_job *j = (struct bench_job *)arg;
	uint64_t sum = 0;
	for (size_t i = 0; i < j->n; i++) {
		volatile char *p = (volatile char *)bench_malloc(CT_OBJ);
		for (int k = 0; k < CT_OBJ; k++)
			p[k] = 0;
		for (int w = 0; w < CT_WRITES; w++)
			p[w % CT_OBJ] = (char)(p[w % CT_OBJ] + 1 + w);
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
	struct bench_job *jobs = bench_jobs_run(threads,
	    bench_scaled(scale, 2e6, 100) / threads, 0, ct_worker);
	return bench_finish(bench_jobs_free(jobs, threads));
}
