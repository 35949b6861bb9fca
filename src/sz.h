/*
 * sz: size classes. A 16-byte quantum, then four classes per doubling:
 * 16, 32, ..., 128, 160, 192, 224, 256, 320, ..., eight per doubling
 * from 4 to 16 KiB (4608, 5120, ...). Classes up to SZ_SMALL_MAX
 * live in slabs; classes up to SZ_LARGE_MAX are page runs; anything larger is
 * huge (its own mapping, page granular). Also the page-size classes (four per
 * doubling of pages) that the base's block cascade walks. Tables are filled
 * by sz_boot (single-threaded bootstrap) and read-only afterwards.
 */
#ifndef BM_SZ_H
#define BM_SZ_H

#include "common.h"

#define SZ_LG_GROUP      2                  /* 4 classes per doubling */
#define SZ_SMALL_MAX     ((size_t)16384)
#define SZ_LARGE_MAX     ((size_t)1 << 20)  /* last size class */
#define SZ_HUGE_MIN      ((size_t)32 << 20) /* own mapping from here */
#define SZ_ZERO_PURGE_MIN ((size_t)256 << 10) /* calloc purges, not memsets */
#define SZ_NSMALL        44
#define SZ_NCLASSES      68                 /* small + large */
#define SZ_LOOKUP_MAX    ((size_t)4096)     /* sizes answered by table */
#define SZ_NPSIZES       ((64 - LG_PAGE) << SZ_LG_GROUP)

extern uint8_t sz_lookup[(SZ_LOOKUP_MAX >> LG_QUANTUM) + 1];
extern size_t sz_class_size[SZ_NCLASSES];

/* Fill the tables. */
void sz_boot(void);
/* Class index for 0 < size <= SZ_LARGE_MAX, computed (no table). */
unsigned sz_size2index_compute(size_t size);

/* Class index for size <= SZ_LARGE_MAX (size 0 maps to the first class). */
BM_INLINE unsigned sz_size2index(size_t size) {
	if (LIKELY(size <= SZ_LOOKUP_MAX))
		return sz_lookup[(size + QUANTUM - 1) >> LG_QUANTUM];
	return sz_size2index_compute(size);
}

/* Bytes of class ind. */
BM_INLINE size_t sz_index2size(unsigned ind) {
	return sz_class_size[ind];
}

/* Usable size for a request: its class, or pages past the classes (page
 * runs up to SZ_HUGE_MIN, own mappings beyond). 0 on overflow. */
size_t sz_s2u(size_t size);
/* Page-size classes: index of the smallest class >= psz; its size; and the
 * class-rounded size. psz is a multiple of PAGE. */
unsigned sz_psz2ind(size_t psz);
size_t sz_pind2sz(unsigned pind);
size_t sz_psz2u(size_t psz);

#endif
