/*
 * frag: fragmentation. Each worker fills a table with small blocks (16-256
 * bytes), frees about 90% of them at random, then refills the table with
 * larger blocks (300-2000 bytes) that cannot reuse the small holes. An
 * allocator that cannot give back the partly used pages shows a high peak and
 * a high RSS after the frees. Then everything is freed; the program reports
 * `rss_after_free_kib` right away, idles IDLE seconds (env BENCH_IDLE_S,
 * default 1.5, so that time-based purging has happened while the sampler
 * watches), and reports `idle_s` (the runner takes it off the wall time) and
 * `end_rss_kib`. SCALE multiplies the number of blocks.
 */
#include "common.h"

/* A job's table: data[0] the blocks (void *[n]), data[1] their sizes. */
static void *frag_worker(void *arg)
{
	struct bench_job *j = (struct bench_job *)arg;
	void **p = (void **)j->data[0];
	size_t *len = (size_t *)j->data[1];
	bench_rng_t r;
	uint64_t sum = 0;
	bench_rng_seed(&r, j->seed);
	for (size_t i = 0; i < j->n; i++) {
		len[i] = bench_rng_range(&r, 16, 256);
		p[i] = bench_malloc(len[i]);
		sum += bench_touch(p[i], len[i], i);
	}
	for (size_t i = 0; i < j->n; i++)
		if (bench_rng_next(&r) % 10 != 0) {
			sum += bench_peek(p[i], len[i]);
			free(p[i]);
			p[i] = NULL;
		}
	for (size_t i = 0; i < j->n; i++)
		if (!p[i] && bench_rng_next(&r) % 4 == 0) {
			len[i] = bench_rng_range(&r, 300, 2000);
			p[i] = bench_malloc(len[i]);
			sum += bench_touch(p[i], len[i], i);
		}
	j->sum = sum;
	return NULL;
}

static void frag_free_all(struct bench_job *j)
{
	void **p = (void **)j->data[0];
	for (size_t i = 0; i < j->n; i++)
		free(p[i]);
	free(j->data[0]);
	free(j->data[1]);
}

int main(int argc, char **argv)
{
	int threads;
	double scale;
	bench_parse_args(argc, argv, &threads, &scale, 1);
	const char *idle_env = getenv("BENCH_IDLE_S");
	double idle = idle_env ? atof(idle_env) : 1.5;
	struct bench_job *jobs = bench_jobs_new(threads,
	    bench_scaled(scale, 6e5, 1000) / threads, 400);
	for (int t = 0; t < threads; t++) {
		jobs[t].data[0] = bench_malloc(sizeof(void *) * jobs[t].n);
		jobs[t].data[1] = bench_malloc(sizeof(size_t) * jobs[t].n);
	}
	bench_jobs_start(jobs, threads, frag_worker);
	fprintf(stderr, "rss_after_refill_kib=%ld\n", bench_rss_kib());
	for (int t = 0; t < threads; t++)
		frag_free_all(&jobs[t]);
	uint64_t sum = bench_jobs_free(jobs, threads);
	fprintf(stderr, "rss_after_free_kib=%ld\n", bench_rss_kib());
	double t0 = bench_now();
	while (idle > 0 && bench_now() - t0 < idle) {
		struct timespec ts = { 0, 50 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	fprintf(stderr, "idle_s=%.6f\n", bench_now() - t0);
	return bench_finish(sum);
}
