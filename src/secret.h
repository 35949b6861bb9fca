/*
 * secret: the process's secret, 16 bytes from the kernel (getrandom through
 * os) that nothing else shares (glibc takes its pointer guard and stack
 * canary from AT_RANDOM; we never read those bytes), and a keyed mix of it
 * (SipHash-2-4). Every value basemalloc writes into user memory is derived
 * through the mix, so reading such values tells nothing about the secret,
 * about other derived values, or about glibc's.
 * Written once by secret_boot (single-threaded bootstrap); read-only after.
 */
#ifndef BM_SECRET_H
#define BM_SECRET_H

#include "common.h"

/* Read the secret from the kernel; without random bytes (no getrandom and
 * no /dev/urandom) fall back to the clock and addresses, and warn. */
void secret_boot(void);
/* SipHash-2-4 of the 16 bytes (a, b) under the secret: a pseudo-random
 * function that cannot be inverted or predicted without the secret. */
uint64_t secret_mix(uint64_t a, uint64_t b);
/* SipHash-2-4 of len bytes at msg under the key (k0, k1), as the paper
 * defines it (little-endian words); secret_mix is this under the secret. */
uint64_t secret_siphash(uint64_t k0, uint64_t k1, const void *msg, size_t len);

/* Next number of a splitmix64 generator (state: any seed; not secret by
 * itself, so seed it from secret_mix). */
BM_INLINE uint64_t secret_rng_next(uint64_t *state) {
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

#endif
