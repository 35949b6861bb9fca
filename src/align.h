/*
 * align: the aligned allocation calls. bm_memalign, bm_aligned_alloc,
 * bm_posix_memalign, bm_valloc and bm_pvalloc are declared in
 * include/basemalloc.h; preload/ forwards the libc names to them.
 */
#ifndef BM_ALIGN_H
#define BM_ALIGN_H

#include "common.h"
#include "../include/basemalloc.h"

#endif
