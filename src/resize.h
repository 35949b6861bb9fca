/*
 * resize: realloc's in-place half (see resize.c). No locks of its own.
 */
#ifndef BM_RESIZE_H
#define BM_RESIZE_H

#include "common.h"
#include "extent.h"
#include "slab.h"

/* Hardened builds: block p of s now holds size bytes: move its canary and
 * zero what a shrink cut off. */
void resize_small_tail(slab_t *s, void *p, size_t size);
/* Resize e's allocation p in place (huge: by mremap) to hold size bytes;
 * the new address, or NULL when it has to move by copying. */
void *resize_in_place(extent_t *e, void *p, size_t size);

#endif
