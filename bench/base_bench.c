/*
 * base_bench: the cost of the base allocator. Each run makes a fresh base
 * (default hooks, default options: metadata_thp auto), fills it with 1 GiB of
 * metadata in 64-byte base_alloc calls (the memory itself is not touched),
 * reads its stats and deletes it. Prints the figures of the last run and the
 * median time per base_alloc over 5 runs. Not run by any test suite.
 *
 * Build and run from the repository root (links the modules directly, like
 * test/unit):
 *   mkdir -p bench/build && cc -std=c11 -O2 -g -D_GNU_SOURCE -pthread -Isrc \
 *     bench/base_bench.c src/log.c src/conf.c src/os.c src/hooks.c \
 *     src/mutex.c src/sz.c src/base.c -o bench/build/base_bench
 *   bench/build/base_bench [metadata_thp:always ...]   (a BASEMALLOC_CONF string)
 */
#include "base.h"
#include "conf.h"
#include "os.h"
#include "sz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RUNS       5
#define CHUNK      ((size_t)64)
#define TOTAL      ((size_t)1 << 30)

static double now_ns(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* One run: ns per base_alloc; the stats of the base before it is deleted. */
static double run_once(base_stats_t *st) {
	base_t *b = base_new(1, NULL);
	if (b == NULL) {
		fprintf(stderr, "base_bench: base_new failed\n");
		exit(1);
	}
	size_t n = TOTAL / CHUNK, fails = 0;
	double t0 = now_ns();
	for (size_t i = 0; i < n; i++)
		fails += base_alloc(b, CHUNK, QUANTUM) == NULL;
	double t1 = now_ns();
	if (fails != 0) {
		fprintf(stderr, "base_bench: %zu allocations failed\n", fails);
		exit(1);
	}
	base_stats_get(b, st);
	base_delete(b);
	return (t1 - t0) / (double)n;
}

int main(int argc, char **argv) {
	os_boot();
	sz_boot();
	conf_reset();
	for (int i = 1; i < argc; i++)
		conf_parse(argv[i], strlen(argv[i]));
	double ns[RUNS];
	base_stats_t st;
	for (int r = 0; r < RUNS; r++)
		ns[r] = run_once(&st);
	qsort(ns, RUNS, sizeof(ns[0]), cmp_double);
	printf("base_bench: 1 GiB in %zu-byte base_alloc calls, metadata_thp:%s, "
	    "system THP %s\n", CHUNK,
	    opt_metadata_thp == METADATA_THP_ALWAYS ? "always" :
	    opt_metadata_thp == METADATA_THP_AUTO ? "auto" : "disabled",
	    os_thp_mode_name(os_thp_mode()));
	printf("blocks      %zu\n", st.blocks);
	printf("allocated   %zu (%.1f MiB)\n", st.allocated,
	    (double)st.allocated / (1 << 20));
	printf("resident    %zu (%.1f MiB)\n", st.resident,
	    (double)st.resident / (1 << 20));
	printf("mapped      %zu (%.1f MiB)\n", st.mapped,
	    (double)st.mapped / (1 << 20));
	printf("n_thp       %zu (%.1f MiB)\n", st.n_thp,
	    (double)st.n_thp / (1 << 20));
	printf("ns/alloc    %.2f median of %d (min %.2f, max %.2f)\n",
	    ns[RUNS / 2], RUNS, ns[0], ns[RUNS - 1]);
	return 0;
}
