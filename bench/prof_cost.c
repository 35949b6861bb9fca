/*
 * prof_cost.c: what the heap profiler costs per call, in instructions, for
 * callgrind to count. Each workload is one function (work_*), so that
 *   valgrind --tool=callgrind --toggle-collect='work_*' \
 *     env LD_PRELOAD=./libbasemalloc.so BASEMALLOC_CONF=prof:true \
 *     bench/build/prof_cost fast 1000000
 * counts its instructions alone (`bench/prof cost --pairs` runs every
 * workload under basemalloc prof:false and prof:true and jemalloc with and
 * without its prof:true, and prints the instructions per pair).
 * Workloads (argument 1):
 *   fast    malloc(64) + free, the small fast paths
 *   calloc  calloc(1, 64) + free
 *   mixed   a window of 1024 live blocks of 16..4096 bytes, each replaced
 *   large   a window of 16 blocks of 16 KiB .. 256 KiB, each replaced
 * Prints "workload ops". Not a test: it asserts nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static volatile unsigned long sink;

__attribute__((noinline)) static void work_fast(long n) {
	for (long i = 0; i < n; i++) {
		void *p = malloc(64);
		sink += (unsigned long)p;
		free(p);
	}
}

__attribute__((noinline)) static void work_calloc(long n) {
	for (long i = 0; i < n; i++) {
		void *p = calloc(1, 64);
		sink += (unsigned long)p;
		free(p);
	}
}

static unsigned long rng = 88172645463325252ul;
static unsigned long next(void) {
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void window(long n, unsigned slots, size_t min, size_t max) {
	void *live[1024] = { 0 };
	for (long i = 0; i < n; i++) {
		unsigned k = (unsigned)(next() % slots);
		free(live[k]);
		live[k] = malloc(min + next() % (max - min + 1));
		sink += (unsigned long)live[k];
	}
	for (unsigned k = 0; k < slots; k++)
		free(live[k]);
}

__attribute__((noinline)) static void work_mixed(long n) {
	window(n, 1024, 16, 4096);
}

__attribute__((noinline)) static void work_large(long n) {
	window(n, 16, 16 << 10, 256 << 10);
}

int main(int argc, char **argv) {
	const char *w = argc > 1 ? argv[1] : "fast";
	long n = argc > 2 ? atol(argv[2]) : 1000000;
	if (strcmp(w, "fast") == 0)
		work_fast(n);
	else if (strcmp(w, "calloc") == 0)
		work_calloc(n);
	else if (strcmp(w, "mixed") == 0)
		work_mixed(n);
	else if (strcmp(w, "large") == 0)
		work_large(n);
	else
		return 2;
	printf("%s %ld\n", w, n);
	return 0;
}
