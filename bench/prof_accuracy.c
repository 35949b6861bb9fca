/*
 * prof_accuracy.c: known amounts from known call sites, for the heap
 * profiler's estimates to be checked against. Six sites keep blocks live
 * (site_huge: 40 MiB-class blocks of 2..6 MiB; site_large: 64 KiB..256
 * KiB; site_medium: 4 KiB; site_small: 100 B; site_tiny: 16 B; site_rare:
 * 1% of the bytes in 48 B blocks) while site_churn allocates and frees as
 * much again; then the program writes a heap dump and prints the truth:
 *   site NAME BYTES COUNT      (one line per site; churn holds nothing)
 *   dump PATH
 * bench/prof accuracy runs it and compares (every site above 5% of the bytes
 * must be within 10%; test/prof/run holds it to that).
 *
 *   prof_accuracy [-m MiB] [-t THREADS] [-s SEED] DUMP_PATH
 * MiB: the live total (default 64); THREADS: allocating threads, each
 * doing a share of every site (default 1). Under basemalloc the dump is
 * bm_ctl("prof.dump"); under jemalloc (MALLOC_CONF=prof:true) it is
 * mallctl("prof.dump"), both looked up with dlsym.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { NSITES = 7 };
static const char *const names[NSITES] = { "site_huge", "site_large",
	"site_medium", "site_small", "site_tiny", "site_rare", "site_churn" };
static const double share[NSITES] = { 0.30, 0.25, 0.15, 0.17, 0.12, 0.01, 0 };

typedef struct {
	size_t target[NSITES];       /* bytes this thread keeps per site */
	size_t bytes[NSITES], count[NSITES];
	void **keep;
	size_t nkeep, capkeep;
	unsigned long rng;
} work_t;

static unsigned long next_rand(work_t *w) {
	w->rng ^= w->rng << 13;
	w->rng ^= w->rng >> 7;
	w->rng ^= w->rng << 17;
	return w->rng;
}

__attribute__((noinline)) static void keep(work_t *w, void *p, size_t size,
    int site) {
	if (p == NULL) {
		perror("malloc");
		exit(1);
	}
	memset(p, site + 1, size < 4096 ? size : 4096);
	if (w->nkeep == w->capkeep) {
		w->capkeep = w->capkeep ? 2 * w->capkeep : 1024;
		w->keep = realloc(w->keep, w->capkeep * sizeof(void *));
	}
	w->keep[w->nkeep++] = p;
	w->bytes[site] += size;
	w->count[site]++;
}

/* One site each, so that each is its own innermost frame. */
#define SITE(fn, idx, sizer) \
__attribute__((noinline)) static void fn(work_t *w) { \
	while (w->bytes[idx] < w->target[idx]) { \
		size_t s = (sizer); \
		keep(w, malloc(s), s, idx); \
	} \
	__asm__ volatile("" ::: "memory"); \
}
SITE(site_huge, 0, ((size_t)2 << 20) + next_rand(w) % ((size_t)4 << 20))
SITE(site_large, 1, ((size_t)64 << 10) + next_rand(w) % ((size_t)192 << 10))
SITE(site_medium, 2, 4096)
SITE(site_small, 3, 100)
SITE(site_tiny, 4, 16)
SITE(site_rare, 5, 48)

__attribute__((noinline)) static void site_churn(work_t *w, size_t total) {
	for (size_t done = 0; done < total;) {
		size_t s = 16 + next_rand(w) % 8192;
		void *p = malloc(s);
		memset(p, 7, s < 64 ? s : 64);
		free(p);
		done += s;
	}
	__asm__ volatile("" ::: "memory");
}

static void *run(void *arg) {
	work_t *w = arg;
	/* Interleave the sites so none sits in one stretch of the heap. */
	size_t goal[NSITES];
	memcpy(goal, w->target, sizeof(goal));
	for (int round = 1; round <= 8; round++) {
		for (int i = 0; i < NSITES - 1; i++)
			w->target[i] = goal[i] / 8 * round;
		site_huge(w);
		site_large(w);
		site_medium(w);
		site_small(w);
		site_tiny(w);
		site_rare(w);
		site_churn(w, goal[0] / 8);
	}
	return NULL;
}

static int write_dump(const char *path) {
	int (*bm)(const char *, void *, size_t *, void *, size_t) =
	    (int (*)(const char *, void *, size_t *, void *, size_t))
	    dlsym(RTLD_DEFAULT, "bm_ctl");
	if (bm == NULL)
		bm = (int (*)(const char *, void *, size_t *, void *, size_t))
		    dlsym(RTLD_DEFAULT, "mallctl");
	if (bm == NULL) {
		fprintf(stderr, "neither bm_ctl nor mallctl: no profiler\n");
		return 1;
	}
	int err = bm("prof.dump", NULL, NULL, &path, sizeof(path));
	if (err != 0)
		fprintf(stderr, "prof.dump: error %d\n", err);
	return err != 0;
}

int main(int argc, char **argv) {
	size_t mib = 64;
	int threads = 1, opt;
	unsigned long seed = 88172645463325252ul;
	while ((opt = getopt(argc, argv, "m:t:s:")) != -1) {
		if (opt == 'm')
			mib = strtoul(optarg, NULL, 10);
		else if (opt == 't')
			threads = atoi(optarg);
		else if (opt == 's')
			seed = strtoul(optarg, NULL, 10) * 2654435761ul + 1;
	}
	if (optind >= argc || threads < 1 || threads > 64) {
		fprintf(stderr, "usage: prof_accuracy [-m MiB] [-t THREADS] [-s SEED] DUMP\n");
		return 2;
	}
	work_t *w = calloc((size_t)threads, sizeof(work_t));
	pthread_t tid[64];
	for (int t = 0; t < threads; t++) {
		for (int i = 0; i < NSITES; i++)
			w[t].target[i] = (size_t)((double)(mib << 20) * share[i] / threads);
		w[t].rng = seed + (unsigned long)t * 7919;
		pthread_create(&tid[t], NULL, run, &w[t]);
	}
	for (int t = 0; t < threads; t++)
		pthread_join(tid[t], NULL);
	if (write_dump(argv[optind]) != 0)
		return 1;
	for (int i = 0; i < NSITES; i++) {
		size_t b = 0, c = 0;
		for (int t = 0; t < threads; t++) {
			b += w[t].bytes[i];
			c += w[t].count[i];
		}
		printf("site %s %zu %zu\n", names[i], b, c);
	}
	printf("dump %s\n", argv[optind]);
	return 0;
}
