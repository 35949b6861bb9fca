/*
 * zero: the hardened build's zero-size allocations. Each gets a distinct
 * 16-byte unit of one PROT_NONE reservation, so any access through it
 * faults; a bitmap (a mapping of its own) marks the units handed out, so
 * that freeing one twice, or freeing an address inside the reservation that
 * is not a unit handed out, is reported. When the reservation is full (or
 * could not be made) zero-size requests are ordinary small blocks.
 * Lock-free: units are claimed and released with atomic bit operations;
 * zero_base is written once at bootstrap.
 */
#ifndef BM_ZERO_H
#define BM_ZERO_H

#include "common.h"

#define ZERO_SIZE ((size_t)64 << 20)   /* the reservation */
#define ZERO_UNIT ((size_t)16)

extern uintptr_t zero_base;

/* Reserve the region and map its bitmap. 0, or ENOMEM (zero-size requests
 * are then ordinary allocations). */
int zero_boot(void);
/* A unit no live zero-size allocation has, or NULL. */
void *zero_alloc(void);
/* Release the unit at p (zero_owns(p)): 0; EINVAL when p is not the start
 * of a unit; EALREADY when the unit is not handed out (a double free). */
int zero_free(const void *p);
/* True when p is the start of a unit handed out. */
bool zero_live(const void *p);

/* True when p lies inside the reservation. */
BM_INLINE bool zero_owns(const void *p) {
	return zero_base != 0 && (uintptr_t)p - zero_base < ZERO_SIZE;
}

#endif
