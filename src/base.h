/*
 * base: the metadata allocator (after jemalloc's base.c). A base serves
 * zeroed, never-freed memory from blocks it maps through its extent hooks.
 * Blocks are HUGEPAGE-aligned multiples of HUGEPAGE whose sizes climb one
 * page-size class per new block (a geometric cascade), so the number of
 * mappings stays logarithmic in the metadata size (when address space is
 * too short for that, a block is just the pages its request needs). Unused block tails sit in
 * per-size-class heaps and are reused best-fit. b0 (base_boot) serves the
 * rtree and global metadata; every arena owns its own base.
 * Lock: one mutex per base (rank BASE, b0 rank BASE_B0), dropped while a hook
 * maps a new block.
 */
#ifndef BM_BASE_H
#define BM_BASE_H

#include "common.h"
#include "hooks.h"

typedef struct base_s base_t;

typedef struct {
	size_t allocated;  /* bytes handed out (plus alignment gaps, headers) */
	size_t resident;   /* bytes of pages touched by allocations */
	size_t mapped;     /* sum of block sizes */
	size_t n_thp;      /* bytes of blocks advised MADV_HUGEPAGE */
	size_t blocks;     /* number of blocks */
} base_stats_t;

/* Create b0 with the default hooks. 0 on success. */
int base_boot(void);
/* The boot base (NULL before base_boot). */
base_t *base_b0(void);
/* A new base for arena index ind with hooks h (NULL = default); NULL on
 * failure. */
base_t *base_new(unsigned ind, bm_extent_hooks_t *h);
/* Unmap every block through the cascade dalloc, decommit, purge_forced,
 * purge_lazy (first success wins), then clear the huge-page advice. */
void base_delete(base_t *base);
/* Zeroed memory of at least size bytes (rounded up to alignment, a power of
 * two; at least QUANTUM); NULL when no block can be mapped. */
void *base_alloc(base_t *base, size_t size, size_t alignment);
/* A consistent snapshot of the base's figures. */
void base_stats_get(base_t *base, base_stats_t *out);
/* Copy up to cap block sizes (newest first); returns the number of blocks. */
size_t base_block_sizes(base_t *base, size_t *out, size_t cap);
/* The base's arena index and hooks. */
unsigned base_ind_get(const base_t *base);
bm_extent_hooks_t *base_hooks_get(const base_t *base);
/* Total bytes mapped by all bases (for stats). */
size_t base_total_mapped(void);

/* One block's figures, for the stats report. */
typedef struct {
	uintptr_t addr;    /* start of the mapping (its header) */
	size_t size;       /* bytes mapped */
	size_t used;       /* bytes from addr to the tail (header included) */
	bool huge;         /* advised MADV_HUGEPAGE */
} base_block_info_t;
/* Copy up to cap blocks' figures (newest first); returns the number of
 * blocks. The used figures add up to stats.allocated and their page
 * ceilings to stats.resident. */
size_t base_blocks_get(base_t *base, base_block_info_t *out, size_t cap);

#endif
