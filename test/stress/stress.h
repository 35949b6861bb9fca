/*
 * stress.h: what the stress programs share (header only): a random size
 * distribution, a random allocation through one of the six allocation calls,
 * pattern fill/verify that stays cheap on huge blocks, and a failure record
 * any thread can write (the first failure message is kept and printed).
 */
#ifndef BM_TEST_STRESS_H
#define BM_TEST_STRESS_H

#include "check.h"

#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>

#define KiB ((size_t)1024)
#define MiB ((size_t)1024 * 1024)

static atomic_int stress_failures;
static pthread_mutex_t stress_print_mu = PTHREAD_MUTEX_INITIALIZER;

/* Record a failure; the first few are printed. */
#define STRESS_FAIL(...) do { \
	if (atomic_fetch_add(&stress_failures, 1) < 5) { \
		pthread_mutex_lock(&stress_print_mu); \
		printf("  # %s:%d: ", __FILE__, __LINE__); \
		check_note(0, __VA_ARGS__); \
		pthread_mutex_unlock(&stress_print_mu); \
	} \
} while (0)

/* Mostly small, some large, rarely huge. */
static inline size_t stress_size(uint64_t *rng)
{
	uint64_t r = check_rand(rng), pick = r % 1000;
	r >>= 10;
	if (pick < 800)
		return r % 257;
	if (pick < 960)
		return r % (16 * KiB);
	if (pick < 999)
		return r % (512 * KiB);
	return r % (8 * MiB);
}

/* Blocks up to 64 KiB get the whole pattern; bigger ones the first and last
 * 4 KiB and the first 64 bytes of every page between. */
#define STRESS_FULL (64 * KiB)
static inline void stress_fill(unsigned char *p, size_t n, uint64_t tag)
{
	if (n <= STRESS_FULL) {
		check_fill(p, n, tag);
		return;
	}
	check_fill(p, 4096, tag);
	for (size_t off = 4096; off + 64 + 4096 <= n; off += 4096)
		check_fill(p + off, 64, tag ^ off);
	check_fill(p + n - 4096, 4096, ~tag);
}

/* 0 when the block still holds what stress_fill wrote for (n, tag). */
static inline int stress_verify(const unsigned char *p, size_t n, uint64_t tag)
{
	if (n <= STRESS_FULL)
		return check_verify(p, n, tag) >= 0;
	if (check_verify(p, 4096, tag) >= 0)
		return 1;
	for (size_t off = 4096; off + 64 + 4096 <= n; off += 4096)
		if (check_verify(p + off, 64, tag ^ off) >= 0)
			return 1;
	return check_verify(p + n - 4096, 4096, ~tag) >= 0;
}

/* Allocate n bytes through a randomly chosen call; checks the alignment it
 * asked for, and that calloc memory is zero. NULL only on failure (recorded). */
static inline unsigned char *stress_alloc(uint64_t *rng, size_t n)
{
	uint64_t r = check_rand(rng);
	size_t align = (size_t)16 << (r >> 8) % 9;
	void *p = NULL;
	switch (r % 8) {
	case 0: case 1: case 2:
		p = malloc(n);
		align = 16;
		break;
	case 3:
		p = calloc(1, n);
		if (p != NULL && n <= STRESS_FULL && check_all_bytes(p, n, 0) >= 0)
			STRESS_FAIL("calloc(1, %zu) = %p is not zeroed", n, p);
		align = 16;
		break;
	case 4:
		p = memalign(align, n);
		break;
	case 5:
		if (posix_memalign(&p, align, n) != 0)
			p = NULL;
		break;
	case 6:
		p = aligned_alloc(align, n);
		break;
	default:
		p = realloc(NULL, n);
		align = 16;
		break;
	}
	if (p == NULL)
		STRESS_FAIL("allocation of %zu bytes (call %d) failed", n, (int)(r % 8));
	else if (((uintptr_t)p & (align - 1)) != 0)
		STRESS_FAIL("allocation of %zu bytes aligned %zu returned %p", n, align, p);
	return p;
}

/* The main of a seeded stress program: prints its seed, runs the checks. */
static inline int stress_main(const char *name, const struct check_s *checks,
    size_t n, int argc, char **argv)
{
	printf("# %s: seed %#llx (set BM_TEST_SEED to change)\n", name,
	    (unsigned long long)check_seed());
	return check_main(checks, n, argc, argv);
}

#endif
