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

struct job {
	size_t n;
	uint64_t seed;
	uint64_t sum;
	void **p;
	size_t *len;
};

static void *frag_worker(void *arg)
{
	struct job *j = (struct job *)arg;
	bench_rng_t r;
	uint64_t sum = 0;
	bench_rng_seed(&r, j->seed);
	for (size_t i = 0; i < j->n; i++) {
		j->len[i] = bench_rng_range(&r, 16, 256);
		j->p[i] = bench_malloc(j->len[i]);
		sum += bench_touch(j->p[i], j->len[i], i);
	}
	for (size_t i = 0; i < j->n; i++)
		if (bench_rng_next(&r) % 10 != 0) {
			sum += bench_peek(j->p[i], j->len[i]);
			free(j->p[i]);
			j->p[i] = NULL;
		}
	for (size_t i = 0; i < j->n; i++)
		if (!j->p[i] && bench_rng_next(&r) % 4 == 0) {
			j->len[i] = bench_rng_range(&r, 300, 2000);
			j->p[i] = bench_malloc(j->len[i]);
			sum += bench_touch(j->p[i], j->len[i], i);
		}
	j->sum = sum;
	return NULL;
}

static void frag_free_all(struct job *j)
{
	for (size_t i = 0; i < j->n; i++)
		free(j->p[i]);
	free(j->p);
	free(j->len);
}

int main(int argc, char **argv)
{
	int threads;
	double scale;
	bench_parse_args(argc, argv, &threads, &scale, 1);
	const char *idle_env = getenv("BENCH_IDLE_S");
	double idle = idle_env ? atof(idle_env) : 1.5;
	struct job *jobs = (struct job *)calloc((size_t)threads, sizeof(struct job));
	if (!jobs)
		bench_die("out of memory");
	for (int t = 0; t < threads; t++) {
		jobs[t].n = bench_scaled(scale, 6e5, 1000) / threads;
		jobs[t].seed = 400 + t;
		jobs[t].p = (void **)bench_malloc(sizeof(void *) * jobs[t].n);
		jobs[t].len = (size_t *)bench_malloc(sizeof(size_t) * jobs[t].n);
	}
	bench_run_threads(threads, frag_worker, jobs, sizeof(struct job));
	fprintf(stderr, "rss_after_refill_kib=%ld\n", bench_rss_kib());
	uint64_t sum = 0;
	for (int t = 0; t < threads; t++) {
		sum += jobs[t].sum;
		frag_free_all(&jobs[t]);
	}
	free(jobs);
	fprintf(stderr, "rss_after_free_kib=%ld\n", bench_rss_kib());
	double t0 = bench_now();
	while (idle > 0 && bench_now() - t0 < idle) {
		struct timespec ts = { 0, 50 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	fprintf(stderr, "idle_s=%.6f\n", bench_now() - t0);
	return bench_finish(sum);
}
