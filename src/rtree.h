/*
 * rtree: address -> page-run descriptor (extent_t). Two levels indexed by the
 * page number of a 48-bit address: a static root of 2^16 slots (bits 32-47),
 * then leaves of 2^20 entries (bits 12-31; 8 MiB of demand-zeroed address
 * space each, covering 4 GiB). Nothing needs a branch:
 * - a root slot holds its leaf's offset from a static all-zero leaf
 *   (`none`), so an absent leaf reads as that one;
 * - an entry holds its descriptor's offset from a static all-zero
 *   descriptor (`nothing`), so an address with no entry reads as that one,
 *   whose fields say "no block here" to every test of a descriptor (its
 *   size and block bound are 0).
 * A lookup is two dependent loads. Bits above 47 are ignored (a
 * non-canonical pointer reads the entry of its canonical alias, which the
 * callers' checks against the descriptor's address reject).
 * Lookups are lock-free (acquire loads, plain on x86); writers are the
 * owners of the runs they describe (each run is written by one arena under
 * its lock), and leaf installation is a compare-and-swap.
 * Entry invariants: a slab's pages all point at it; a large or huge run's
 * first page points at it and its other pages are empty; a free run's first
 * and last pages point at it.
 */
#ifndef BM_RTREE_H
#define BM_RTREE_H

#include "common.h"

#define RTREE_LG_VA     48
#define RTREE_LG_LEAF   20      /* page-number bits a leaf resolves */
#define RTREE_LG_ROOT   (RTREE_LG_VA - LG_PAGE - RTREE_LG_LEAF)
#define RTREE_LEAF_SPAN ((uintptr_t)1 << (LG_PAGE + RTREE_LG_LEAF))
#define RTREE_NOTHING   256     /* bytes of `nothing` (>= a descriptor) */

typedef _Atomic uintptr_t rtree_entry_t;

typedef struct {
	_Atomic intptr_t root[(size_t)1 << RTREE_LG_ROOT];
	rtree_entry_t none[(size_t)1 << RTREE_LG_LEAF];  /* never written */
	_Alignas(64) char nothing[RTREE_NOTHING];        /* never written */
} rtree_t;

/* sizeof(rtree_t), as an expression the assembler evaluates too. */
#define RTREE_STATIC_BYTES \
	(8 << RTREE_LG_ROOT) + (8 << RTREE_LG_LEAF) + RTREE_NOTHING

/* Defined in rtree.c in the read-only, zero-filled section `.bm_zero`,
 * which src/rtree.ld places in the library's read-only segment: its 8.5 MiB
 * are not the process's data (RLIMIT_DATA, VmData), so a process under a
 * small data limit can still load the library. rtree_boot makes the root
 * writable; `none` and `nothing` stay read-only, and a stray write faults. */
extern rtree_t rtree __attribute__((visibility("hidden")));

/* Make the root writable (before any leaf is installed). 0 or ENOMEM. */
int rtree_boot(void);

/* The descriptor for addr, or the all-zero `nothing`. */
BM_INLINE void *rtree_desc(const void *addr) {
	uintptr_t a = (uintptr_t)addr;
	intptr_t off = atomic_load_explicit(&rtree.root[(a >> (LG_PAGE +
	    RTREE_LG_LEAF)) & (((uintptr_t)1 << RTREE_LG_ROOT) - 1)],
	    memory_order_acquire);
	const rtree_entry_t *leaf = (const rtree_entry_t *)
	    ((uintptr_t)rtree.none + (uintptr_t)off);
	return (void *)((uintptr_t)rtree.nothing + atomic_load_explicit(
	    &leaf[(a >> LG_PAGE) & (((uintptr_t)1 << RTREE_LG_LEAF) - 1)],
	    memory_order_acquire));
}

/* rtree_desc for free's fast path, where instructions count: on x86-64
 * the two loads written out (gcc spends three more on the addressing; the
 * leaf index is the low 32 bits shifted, which needs no mask). */
_Static_assert(LG_PAGE + RTREE_LG_LEAF == 32, "the leaf index's bits");
BM_INLINE void *rtree_desc_fast(const void *addr) {
#if defined(__x86_64__)
	uintptr_t i, j, leaf, d;
	__asm__("mov %[a], %[i]\n\t"
	    "shr %[lgl], %[i]\n\t"
	    "and %[mr], %k[i]\n\t"
	    "lea rtree(%%rip), %[leaf]\n\t"
	    "add (%[leaf],%[i],8), %[leaf]\n\t"
	    "mov %k[a], %k[j]\n\t"     /* the low 32 bits: no mask */
	    "shr %[lgp], %k[j]\n\t"
	    "lea rtree+%c[nothing](%%rip), %[d]\n\t"
	    "add %c[none](%[leaf],%[j],8), %[d]"
	    : [i] "=&r"(i), [j] "=&r"(j), [leaf] "=&r"(leaf), [d] "=&r"(d)
	    : [a] "r"(addr),
	      [lgl] "i"(LG_PAGE + RTREE_LG_LEAF), [lgp] "i"(LG_PAGE),
	      [mr] "i"(((uintptr_t)1 << RTREE_LG_ROOT) - 1),
	      [none] "i"(offsetof(rtree_t, none)),
	      [nothing] "i"(offsetof(rtree_t, nothing))
	    : "cc", "memory");
	return (void *)d;
#else
	return rtree_desc(addr);
#endif
}

/* The descriptor for addr, or NULL. */
BM_INLINE void *rtree_lookup(const void *addr) {
	void *d = rtree_desc(addr);
	return d != (void *)rtree.nothing ? d : NULL;
}

/* Make sure the leaves for [addr, addr+size) exist. 0, or ENOMEM. */
int rtree_reserve(const void *addr, size_t size);
/* Set the entry of the page holding addr (its leaf must exist) to desc or
 * NULL. */
void rtree_set(const void *addr, void *desc);
/* Set every page of [addr, addr+size) to desc (leaves must exist). */
void rtree_set_range(const void *addr, size_t size, void *desc);
/* Bytes of address space mapped for leaves (stats). */
size_t rtree_mapped(void);

#endif
