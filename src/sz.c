/*
 * sz: size-class tables. Class sizes: multiples of QUANTUM up to 128, then
 * four classes per doubling (size = base + k * base/4, k = 1..4) up to
 * SZ_LARGE_MAX, eight per doubling between 4 and 16 KiB. Page-size classes
 * follow the same shape in units of pages: 1..4 pages, then four per doubling. Tables are written by sz_boot only.
 */
#include "sz.h"
#include "log.h"

uint8_t sz_lookup[(SZ_LOOKUP_MAX >> LG_QUANTUM) + 1];
size_t sz_class_size[SZ_NCLASSES];

#define SZ_LINEAR_MAX ((size_t)128)   /* classes below are QUANTUM apart */
#define SZ_NLINEAR    (SZ_LINEAR_MAX >> LG_QUANTUM)

/* Classes in (SZ_FINE_LO, SZ_FINE_HI] are eight per doubling (4608, 5120,
 * ..., 16384): a 4-per-doubling step there (1-2 KiB) wastes up to a fifth
 * of each block on the mid-size requests of real programs. */
#define SZ_FINE_LO    ((size_t)4096)
#define SZ_FINE_HI    ((size_t)16384)
#define SZ_NCOARSE_LO 20              /* classes in (128, 4096] */
#define SZ_NFINE      16              /* classes in (4096, 16384] */

/* Size of class ind, from the formula. */
static size_t sz_class_compute(unsigned ind) {
	if (ind < SZ_NLINEAR)
		return ((size_t)ind + 1) << LG_QUANTUM;
	unsigned i = ind - SZ_NLINEAR, lg_group = SZ_LG_GROUP;
	size_t lo = SZ_LINEAR_MAX;
	if (i >= SZ_NCOARSE_LO + SZ_NFINE) {
		i -= SZ_NCOARSE_LO + SZ_NFINE;
		lo = SZ_FINE_HI;
	} else if (i >= SZ_NCOARSE_LO) {
		i -= SZ_NCOARSE_LO;
		lo = SZ_FINE_LO;
		lg_group = SZ_LG_GROUP + 1;
	}
	unsigned g = i >> lg_group;                        /* doubling */
	unsigned k = (i & ((1u << lg_group) - 1)) + 1;     /* step */
	size_t base = lo << g;
	return base + k * (base >> lg_group);
}

unsigned sz_size2index_compute(size_t size) {
	if (size <= SZ_LINEAR_MAX)
		return size == 0 ? 0 : (unsigned)((size - 1) >> LG_QUANTUM);
	unsigned lg = bm_lg_ceil(size);           /* size <= 2^lg */
	size_t base = (size_t)1 << (lg - 1);      /* group (base, 2*base] */
	unsigned first, lg_group = SZ_LG_GROUP, g;
	if (base < SZ_FINE_LO) {
		first = SZ_NLINEAR;
		g = lg - 1 - 7;                   /* log2(base / 128) */
	} else if (base < SZ_FINE_HI) {
		first = SZ_NLINEAR + SZ_NCOARSE_LO;
		lg_group = SZ_LG_GROUP + 1;
		g = lg - 1 - 12;                  /* log2(base / 4096) */
	} else {
		first = SZ_NLINEAR + SZ_NCOARSE_LO + SZ_NFINE;
		g = lg - 1 - 14;                  /* log2(base / 16384) */
	}
	size_t step = base >> lg_group;
	unsigned k = (unsigned)((size - base + step - 1) / step);
	return first + (g << lg_group) + k - 1;
}

void sz_boot(void) {
	for (unsigned i = 0; i < SZ_NCLASSES; i++)
		sz_class_size[i] = sz_class_compute(i);
	for (size_t q = 0; q <= (SZ_LOOKUP_MAX >> LG_QUANTUM); q++)
		sz_lookup[q] = (uint8_t)sz_size2index_compute(q << LG_QUANTUM);
	BM_ASSERT(sz_class_size[SZ_NSMALL - 1] == SZ_SMALL_MAX);
	BM_ASSERT(sz_class_size[SZ_NCLASSES - 1] == SZ_LARGE_MAX);
}

size_t sz_s2u(size_t size) {
	if (size <= SZ_LARGE_MAX)
		return sz_index2size(sz_size2index(size));
	size_t u = PAGE_CEILING(size);
	return u < size ? 0 : u;
}

/* Page-size classes, in pages: 1, 2, 3, 4, then 4 per doubling. */
unsigned sz_psz2ind(size_t psz) {
	size_t pages = (psz + PAGE - 1) >> LG_PAGE;
	if (pages <= 4)
		return pages == 0 ? 0 : (unsigned)(pages - 1);
	unsigned lg = bm_lg_ceil(pages);
	size_t base = (size_t)1 << (lg - 1);
	size_t step = base >> SZ_LG_GROUP;
	unsigned k = (unsigned)((pages - base + step - 1) / step);
	return 4 + ((lg - 3) << SZ_LG_GROUP) + k - 1;
}

size_t sz_pind2sz(unsigned pind) {
	if (pind < 4)
		return ((size_t)pind + 1) << LG_PAGE;
	unsigned g = (pind - 4) >> SZ_LG_GROUP;
	unsigned k = ((pind - 4) & 3) + 1;
	size_t base = (size_t)4 << g;
	return (base + k * (base >> SZ_LG_GROUP)) << LG_PAGE;
}

size_t sz_psz2u(size_t psz) {
	return sz_pind2sz(sz_psz2ind(psz));
}
