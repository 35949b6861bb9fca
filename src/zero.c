/*
 * zero: the PROT_NONE region of zero-size allocations and its bitmap (one
 * bit per unit, set while handed out). A search starts at the word where
 * the last one succeeded, so claims stay O(1) while the region is sparse.
 */
#include "zero.h"
#include "os.h"

#include <errno.h>

#define ZERO_UNITS (ZERO_SIZE / ZERO_UNIT)
#define ZERO_WORDS (ZERO_UNITS / 64)

uintptr_t zero_base;
static _Atomic uint64_t *zero_bits;
static _Atomic uint32_t zero_hint;

int zero_boot(void) {
	void *bits = os_map(ZERO_WORDS * sizeof(uint64_t));
	if (bits == NULL)
		return ENOMEM;
	void *region = os_reserve(ZERO_SIZE);
	if (region == NULL) {
		os_unmap(bits, ZERO_WORDS * sizeof(uint64_t));
		return ENOMEM;
	}
	zero_bits = bits;
	zero_base = (uintptr_t)region;
	return 0;
}

/* Claim a clear bit of word i; its unit, or NULL when the word is full. */
static void *zero_claim(uint32_t i) {
	uint64_t w = atomic_load_explicit(&zero_bits[i], memory_order_relaxed);
	while (w != UINT64_MAX) {
		uint64_t bit = (uint64_t)1 << __builtin_ctzll(~w);
		if (atomic_compare_exchange_weak_explicit(&zero_bits[i], &w,
		    w | bit, memory_order_relaxed, memory_order_relaxed)) {
			atomic_store_explicit(&zero_hint, i, memory_order_relaxed);
			return (void *)(zero_base + ((uintptr_t)i * 64 +
			    (uintptr_t)__builtin_ctzll(bit)) * ZERO_UNIT);
		}
	}
	return NULL;
}

void *zero_alloc(void) {
	if (zero_base == 0)
		return NULL;
	uint32_t start = atomic_load_explicit(&zero_hint, memory_order_relaxed);
	for (uint32_t k = 0; k < ZERO_WORDS; k++) {
		void *p = zero_claim((start + k) % ZERO_WORDS);
		if (p != NULL)
			return p;
	}
	return NULL;
}

int zero_free(const void *p) {
	uintptr_t off = (uintptr_t)p - zero_base;
	if (off % ZERO_UNIT != 0)
		return EINVAL;
	uintptr_t unit = off / ZERO_UNIT;
	uint64_t bit = (uint64_t)1 << (unit % 64);
	uint64_t old = atomic_fetch_and_explicit(&zero_bits[unit / 64], ~bit,
	    memory_order_relaxed);
	return (old & bit) ? 0 : EALREADY;
}

bool zero_live(const void *p) {
	uintptr_t off = (uintptr_t)p - zero_base;
	if (!zero_owns(p) || off % ZERO_UNIT != 0)
		return false;
	uintptr_t unit = off / ZERO_UNIT;
	return (atomic_load_explicit(&zero_bits[unit / 64],
	    memory_order_relaxed) >> (unit % 64)) & 1;
}
