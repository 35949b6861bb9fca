/*
 * icount_loop.c: the loop bench/icount counts under callgrind, the small
 * fast paths of malloc and free in steady state.
 *   icount_loop mixed N   64 live blocks of 16..128 B; each iteration frees
 *                         one (a slot from a fixed xorshift sequence) and
 *                         mallocs another of a size from the same sequence
 *   icount_loop same N    the same with every block of 64 B, so each malloc
 *                         gets the size class of the free before it
 * The loop runs N times in icount_warm (caches, slabs and thread caches
 * filled) and N times more in icount_measure, which is the function
 * bench/icount gives to callgrind's --toggle-collect. Every call goes
 * through icount_malloc and icount_free, which call malloc and free through
 * the GOT (built with -fno-plt and -fno-optimize-sibling-calls): the
 * inclusive cost of their one call is the allocator's entry point, whatever
 * it is named. Prints "MODE N CHECKSUM". Not a test: it asserts nothing.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { LIVE = 64, SAME_SIZE = 64, MIN_SIZE = 16, MAX_SIZE = 128 };

static void *live[LIVE];
static uint64_t checksum;
static int same_size;

__attribute__((noinline)) void *icount_malloc(size_t n) {
	void *p = malloc(n);
	__asm__ volatile("" : : "r"(p) : "memory");
	return p;
}

__attribute__((noinline)) void icount_free(void *p) {
	free(p);
	__asm__ volatile("" : : : "memory");
}

/* The fixed sequence: xorshift64 from a constant seed, restarted by each
 * phase, so the warm-up and the measured loop make the same calls. */
static uint64_t rng;
static uint64_t rng_next(void) {
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

__attribute__((noinline)) static void loop_run(long n) {
	rng = 88172645463325252ull;
	for (long i = 0; i < n; i++) {
		uint64_t r = rng_next();
		unsigned k = (unsigned)(r % LIVE);
		size_t size = same_size ? SAME_SIZE :
			MIN_SIZE + (size_t)((r >> 8) % (MAX_SIZE - MIN_SIZE + 1));
		icount_free(live[k]);
		live[k] = icount_malloc(size);
		*(unsigned char *)live[k] = (unsigned char)i;
		checksum += size;
	}
}

__attribute__((noinline)) void icount_warm(long n) {
	loop_run(n);
}

__attribute__((noinline)) void icount_measure(long n) {
	loop_run(n);
}

int main(int argc, char **argv) {
	if (argc != 3 || (strcmp(argv[1], "mixed") != 0 && strcmp(argv[1], "same") != 0)) {
		fprintf(stderr, "usage: icount_loop mixed|same N\n");
		return 2;
	}
	same_size = strcmp(argv[1], "same") == 0;
	long n = atol(argv[2]);
	for (unsigned k = 0; k < LIVE; k++) {
		live[k] = malloc(same_size ? SAME_SIZE : MIN_SIZE + k);
		if (live[k] == NULL)
			return 1;
	}
	icount_warm(n);
	icount_measure(n);
	for (unsigned k = 0; k < LIVE; k++)
		free(live[k]);
	printf("%s %ld %llu\n", argv[1], n, (unsigned long long)checksum);
	return 0;
}
