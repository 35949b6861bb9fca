/*
 * Shared helpers for the benchmark workloads (the .c and .cc files here):
 * argument parsing (THREADS SCALE), a small deterministic PRNG, thread
 * start/join, the one-job-per-thread boilerplate (bench_jobs_*), and the
 * exit report every workload prints.
 *
 * Every workload is run as `NAME THREADS SCALE`: THREADS is the number of
 * worker threads (or pairs, or threads alive at a time, as the workload says),
 * SCALE multiplies its amount of work (1.0 = the full benchmark size).
 * On stdout it prints exactly one line `checksum=HEX`; the checksum depends
 * only on the work done, never on addresses, so it must be the same under
 * every allocator. On stderr it prints `end_rss_kib=N` (resident set after
 * the workload freed everything) and, under basemalloc, its metadata figures
 * `bm_meta_mapped=N bm_meta_resident=N`.
 *
 * Header-only, usable from C and C++. No locks of its own.
 */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct {
	uint64_t s;
} bench_rng_t;

static inline void bench_rng_seed(bench_rng_t *r, uint64_t seed)
{
	r->s = seed * 0x9E3779B97F4A7C15ull + 0x2545F4914F6CDD1Dull;
	if (r->s == 0)
		r->s = 1;
}

/* xorshift64*: fast, deterministic, good enough for picking sizes. */
static inline uint64_t bench_rng_next(bench_rng_t *r)
{
	uint64_t x = r->s;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	r->s = x;
	return x * 0x2545F4914F6CDD1Dull;
}

/* Uniform in [lo, hi]. */
static inline size_t bench_rng_range(bench_rng_t *r, size_t lo, size_t hi)
{
	return lo + (size_t)(bench_rng_next(r) % (uint64_t)(hi - lo + 1));
}

static inline double bench_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline void bench_die(const char *what)
{
	fprintf(stderr, "%s\n", what);
	exit(1);
}

/* malloc that fails loudly: a benchmark cannot go on without its memory. */
static inline void *bench_malloc(size_t n)
{
	void *p = malloc(n);
	if (!p)
		bench_die("out of memory");
	return p;
}

/* Writes the first and last byte of a block; returns a value to fold. */
static inline uint64_t bench_touch(void *p, size_t n, uint64_t v)
{
	unsigned char *b = (unsigned char *)p;
	b[0] = (unsigned char)v;
	b[n - 1] = (unsigned char)(v >> 8);
	return (uint64_t)b[0] + b[n - 1];
}

/* Reads back what bench_touch wrote. */
static inline uint64_t bench_peek(const void *p, size_t n)
{
	const unsigned char *b = (const unsigned char *)p;
	return (uint64_t)b[0] + b[n - 1];
}

/*
 * Replaces the block in *slot (old_n bytes; none when *slot is NULL), read
 * back and freed first, with a new touched block of new_n bytes; returns
 * the values to fold.
 */
static inline uint64_t bench_replace(void **slot, size_t old_n, size_t new_n,
    uint64_t v)
{
	uint64_t sum = 0;
	if (*slot) {
		sum += bench_peek(*slot, old_n);
		free(*slot);
	}
	*slot = bench_malloc(new_n);
	return sum + bench_touch(*slot, new_n, v);
}

/* Fills the slots blocks p (sizes in n) with touched blocks of 16 to 1000
 * bytes, Larson's starting table. */
static inline void bench_larson_fill(void **p, size_t *n, size_t slots,
    bench_rng_t *r)
{
	for (size_t k = 0; k < slots; k++) {
		n[k] = bench_rng_range(r, 16, 1000);
		p[k] = bench_malloc(n[k]);
		bench_touch(p[k], n[k], k);
	}
}

/*
 * Larson's rounds: each replaces a random one of the slots blocks p (of
 * sizes n) with a new block of 16 to 1000 bytes; returns the values to
 * fold.
 */
static inline uint64_t bench_larson_rounds(void **p, size_t *n, size_t slots,
    size_t rounds, bench_rng_t *r)
{
	uint64_t sum = 0;
	for (size_t i = 0; i < rounds; i++) {
		size_t k = bench_rng_range(r, 0, slots - 1);
		size_t len = bench_rng_range(r, 16, 1000);
		sum += bench_replace(&p[k], n[k], len, i);
		n[k] = len;
	}
	return sum;
}

static inline void bench_parse_args(int argc, char **argv, int *threads,
    double *scale, int default_threads)
{
	*threads = default_threads;
	*scale = 1.0;
	if (argc > 1)
		*threads = atoi(argv[1]);
	if (argc > 2)
		*scale = atof(argv[2]);
	if (*threads < 1 || *scale <= 0) {
		fprintf(stderr, "usage: %s [THREADS] [SCALE]\n", argv[0]);
		exit(2);
	}
}

/* n scaled, at least lo. */
static inline size_t bench_scaled(double scale, double n, size_t lo)
{
	double v = n * scale;
	return v < (double)lo ? lo : (size_t)v;
}

/* Runs fn(arg_i) on n threads, args[i] being base + i * stride bytes. */
static inline void bench_run_threads(int n, void *(*fn)(void *), void *base,
    size_t stride)
{
	pthread_t *t = (pthread_t *)bench_malloc(sizeof(pthread_t) * (size_t)n);
	for (int i = 0; i < n; i++)
		if (pthread_create(&t[i], NULL, fn, (char *)base + stride * (size_t)i))
			bench_die("pthread_create failed");
	for (int i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	free(t);
}

/*
 * One worker's job, for the workloads that run one job per thread: n is its
 * amount of work (steps, iterations, blocks: the workload says), seed its
 * PRNG seed, sum its checksum, data what the main thread hands it (or NULL).
 */
struct bench_job {
	size_t n;
	uint64_t seed;
	uint64_t sum;
	void *data[2];
};

/* threads zeroed jobs, job i with n and seed seed0 + i. */
static inline struct bench_job *bench_jobs_new(int threads, size_t n,
    uint64_t seed0)
{
	struct bench_job *jobs =
	    (struct bench_job *)calloc((size_t)threads, sizeof(struct bench_job));
	if (!jobs)
		bench_die("out of memory");
	for (int t = 0; t < threads; t++) {
		jobs[t].n = n;
		jobs[t].seed = seed0 + (uint64_t)t;
	}
	return jobs;
}

/* Runs fn(&jobs[i]) on thread i and joins them all. */
static inline void bench_jobs_start(struct bench_job *jobs, int threads,
    void *(*fn)(void *))
{
	bench_run_threads(threads, fn, jobs, sizeof(struct bench_job));
}

/* bench_jobs_new then bench_jobs_start; returns the finished jobs. */
static inline struct bench_job *bench_jobs_run(int threads, size_t n,
    uint64_t seed0, void *(*fn)(void *))
{
	struct bench_job *jobs = bench_jobs_new(threads, n, seed0);
	bench_jobs_start(jobs, threads, fn);
	return jobs;
}

/* Frees the jobs (not what their data points to); returns their sums' sum. */
static inline uint64_t bench_jobs_free(struct bench_job *jobs, int threads)
{
	uint64_t sum = 0;
	for (int t = 0; t < threads; t++)
		sum += jobs[t].sum;
	free(jobs);
	return sum;
}

/*
 * The inner loop of the cache (false sharing) workloads: iters times,
 * allocates an obj-byte block, writes it `writes` times and frees it.
 * Returns the sum of the blocks' first bytes.
 */
static inline uint64_t bench_scribble(size_t iters, int obj, int writes)
{
	uint64_t sum = 0;
	for (size_t i = 0; i < iters; i++) {
		volatile char *p = (volatile char *)bench_malloc((size_t)obj);
		for (int k = 0; k < obj; k++)
			p[k] = 0;
		for (int w = 0; w < writes; w++)
			p[w % obj] = (char)(p[w % obj] + 1 + w);
		sum += (unsigned char)p[0];
		free((void *)p);
	}
	return sum;
}

static inline long bench_rss_kib(void)
{
	char buf[128];
	long size = 0, res = 0;
	int fd = open("/proc/self/statm", O_RDONLY);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	if (sscanf(buf, "%ld %ld", &size, &res) != 2)
		return 0;
	return res * (sysconf(_SC_PAGESIZE) / 1024);
}

typedef int (*bench_ctl_fn)(const char *, void *, size_t *, void *, size_t);

/* basemalloc's metadata figures, when it is the allocator in this process. */
static inline void bench_print_meta(void)
{
	bench_ctl_fn ctl = (bench_ctl_fn)dlsym(RTLD_DEFAULT, "bm_ctl");
	size_t mapped = 0, resident = 0, len = sizeof(size_t);
	uint64_t epoch = 1;
	if (!ctl)
		return;
	ctl("epoch", NULL, NULL, &epoch, sizeof(epoch));	/* fresh snapshot */
	if (ctl("stats.base.mapped", &mapped, &len, NULL, 0) != 0)
		return;
	len = sizeof(size_t);
	if (ctl("stats.base.resident", &resident, &len, NULL, 0) != 0)
		return;
	fprintf(stderr, "bm_meta_mapped=%zu bm_meta_resident=%zu\n", mapped,
	    resident);
}

/* The exit report; call after the workload freed everything it allocated. */
static inline int bench_finish(uint64_t checksum)
{
	printf("checksum=%016llx\n", (unsigned long long)checksum);
	fflush(stdout);
	fprintf(stderr, "end_rss_kib=%ld\n", bench_rss_kib());
	bench_print_meta();
	return 0;
}

/*
 * The whole main of a workload that runs one job per thread (default
 * default_threads): job i does bench_scaled(scale, work, lo) / threads of
 * fn's work with seed seed0 + i; the checksum is the sum of the jobs' sums.
 */
static inline int bench_jobs_main(int argc, char **argv, int default_threads,
    double work, size_t lo, uint64_t seed0, void *(*fn)(void *))
{
	int threads;
	double scale;
	bench_parse_args(argc, argv, &threads, &scale, default_threads);
	struct bench_job *jobs = bench_jobs_run(threads,
	    bench_scaled(scale, work, lo) / threads, seed0, fn);
	return bench_finish(bench_jobs_free(jobs, threads));
}

#endif
