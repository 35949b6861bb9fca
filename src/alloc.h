/*
 * alloc: the public semantics on top of the arenas: errno and overflow
 * rules, alignment rules, realloc rules, invalid-pointer reports, and the
 * bootstrap on the first call. The bm_* functions it defines are declared in
 * include/basemalloc.h; preload/ forwards the libc names to them.
 */
#ifndef BM_ALLOC_H
#define BM_ALLOC_H

#include "common.h"
#include "../include/basemalloc.h"

/* Boot the allocator if needed. 0 when ready. */
int malloc_boot(void);
/* size bytes aligned to alignment (a power of two); NULL with errno
 * ENOMEM when there is no memory. */
void *malloc_aligned(size_t alignment, size_t size);
/* C++ sized delete (alignment 0 when none): free p, reporting a size it
 * cannot have been allocated with as "operator delete(): invalid size". */
void malloc_delete_sized(void *p, size_t size, size_t alignment);
/* Fork handlers (registered by malloc_boot's constructor). */
void malloc_prefork(void);
void malloc_postfork_parent(void);
void malloc_postfork_child(void);

#endif
