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
	j->sum = bench_scribble(j->n, CT_OBJ, CT_WRITES);
	return NULL;
}

int main(int argc, char **argv)
{
	return bench_jobs_main(argc, argv, 2, 2e6, 100, 0, ct_worker);
}
