/*
 * base: the metadata allocator. A base maps blocks through its extent hooks
 * and bump-allocates zeroed, never-freed memory from them.
 *
 * Blocks: each starts with a base_block_t header; the bytes after the last
 * allocation (the block's tail) are the only free space in it. Sizes climb
 * one page-size class per new block (rounded up to a HUGEPAGE multiple, or
 * larger when a request needs it), so n blocks cover a geometric amount of
 * metadata. Every block is HUGEPAGE-aligned, but for one mapped when address
 * space ran short: just the pages its request needs, page-aligned; and in a
 * process started under a limit on its address space or data (ulimit -v,
 * -d) the steps are page-size classes, page-aligned. The
 * base_t itself is the first allocation of its first block, so the oldest
 * block is unmapped last.
 *
 * Reuse: every non-empty tail sits in one of BASE_NCLASSES sorted lists,
 * indexed by the floor size class of its length (four classes per doubling)
 * and sorted by (length, address); base_alloc takes the smallest tail that
 * can hold the request at its alignment (best fit), else maps a new block.
 *
 * Huge pages (opt_metadata_thp), with the default hooks only and only when the
 * system THP mode is "madvise" (in "always" and "never" advice changes
 * nothing): disabled never advises; always advises every block; auto switches
 * a base once it owns BASE_AUTO_THP_BLOCKS blocks (b0: BASE_AUTO_THP_BLOCKS_B0)
 * and then advises all its blocks, old and new.
 *
 * Stats, per base: allocated = bytes bumped past (headers, gaps, objects);
 * resident = page ceiling of each block's bump position; mapped = sum of block
 * sizes; so allocated <= resident <= mapped always.
 *
 * Locks: one mutex per base (rank BASE; b0 BASE_B0) guards the block list, the
 * tail lists and the stats. It is dropped while the hooks map a new block (a
 * user's hook may allocate) and taken again to insert it. Two threads growing
 * a base at once may map two blocks of the same class; both are used.
 */
#include "base.h"
#include "conf.h"
#include "log.h"
#include "mutex.h"
#include "os.h"
#include "sz.h"

#include <errno.h>
#include <string.h>

/*
 * metadata_thp:auto thresholds, counted in blocks of one base (as jemalloc
 * does): an arena's base switches on its 2nd block, i.e. once its metadata has
 * outgrown the first 2 MiB block; b0, which holds the rtree and is shared by
 * every thread, waits for its 5th block (past 2+4+6+8 = 20 MiB), so that small
 * processes keep small pages for metadata.
 */
#define BASE_AUTO_THP_BLOCKS    2
#define BASE_AUTO_THP_BLOCKS_B0 5

/* Floor classes of tail lengths: 4 per doubling over 64-bit sizes. */
#define BASE_NCLASSES 256
#define BASE_MAP_WORDS (BASE_NCLASSES / 64)
/* Largest request and alignment accepted (keeps the size arithmetic exact). */
#define BASE_REQUEST_MAX ((size_t)1 << 62)

typedef struct base_block_s base_block_t;
struct base_block_s {
	size_t size;               /* bytes of the whole mapping */
	base_block_t *next;        /* next older block of the same base */
	uintptr_t tail;            /* first unused byte */
	size_t tail_size;          /* unused bytes from tail to the block's end */
	base_block_t *avail_next;  /* next tail in the same class list */
	bool huge;                 /* advised MADV_HUGEPAGE */
	bool zeroed;               /* the hooks returned zeroed memory */
};

#define BASE_HEADER_SIZE ALIGN_UP(sizeof(base_block_t), QUANTUM)

struct base_s {
	mutex_t mtx;
	unsigned ind;
	bm_extent_hooks_t *hooks;
	bool is_b0;
	bool thp_switched;         /* metadata_thp:auto has switched this base */
	unsigned pind_last;        /* page-size class of the newest step */
	base_block_t *blocks;      /* newest first */
	base_stats_t stats;
	uint64_t avail_map[BASE_MAP_WORDS]; /* bit c: avail[c] is non-empty */
	base_block_t *avail[BASE_NCLASSES];
};

static base_t *base_boot_base;
static _Atomic size_t base_mapped_total;

/* Largest class c with class_size(c) <= size, for size >= 4. */
static unsigned base_class_floor(size_t size) {
	unsigned lg = bm_lg_floor(size);
	return (lg << 2) | (unsigned)((size >> (lg - 2)) & 3);
}

static void base_avail_insert(base_t *base, base_block_t *b) {
	unsigned c = base_class_floor(b->tail_size);
	base_block_t **pp = &base->avail[c];
	while (*pp != NULL && ((*pp)->tail_size < b->tail_size ||
	    ((*pp)->tail_size == b->tail_size && (*pp)->tail < b->tail)))
		pp = &(*pp)->avail_next;
	b->avail_next = *pp;
	*pp = b;
	base->avail_map[c >> 6] |= (uint64_t)1 << (c & 63);
}

/* Smallest non-empty class >= c, or BASE_NCLASSES. */
static unsigned base_avail_next_class(const base_t *base, unsigned c) {
	while (c < BASE_NCLASSES) {
		uint64_t w = base->avail_map[c >> 6] >> (c & 63);
		if (w != 0)
			return c + (unsigned)__builtin_ctzll(w);
		c = (c | 63) + 1;
	}
	return BASE_NCLASSES;
}

/* Unlink and return the smallest tail holding usize bytes at alignment. */
static base_block_t *base_avail_take(base_t *base, size_t usize,
    size_t alignment) {
	unsigned c = base_avail_next_class(base, base_class_floor(usize));
	for (; c < BASE_NCLASSES; c = base_avail_next_class(base, c + 1)) {
		for (base_block_t **pp = &base->avail[c]; *pp; pp = &(*pp)->avail_next) {
			base_block_t *b = *pp;
			size_t gap = ALIGN_UP(b->tail, alignment) - b->tail;
			if (b->tail_size < gap || b->tail_size - gap < usize)
				continue;
			*pp = b->avail_next;
			if (base->avail[c] == NULL)
				base->avail_map[c >> 6] &= ~((uint64_t)1 << (c & 63));
			return b;
		}
	}
	return NULL;
}

/* Carve usize bytes at alignment from b's tail (which must hold them), update
 * the stats and file the rest of the tail. */
static void *base_bump_locked(base_t *base, base_block_t *b, size_t usize,
    size_t alignment) {
	uintptr_t old = b->tail;
	uintptr_t ret = ALIGN_UP(old, alignment);
	uintptr_t end = ret + usize;
	BM_ASSERT(end - old <= b->tail_size);
	b->tail = end;
	b->tail_size -= end - old;
	base->stats.allocated += end - old;
	base->stats.resident += PAGE_CEILING(end) - PAGE_CEILING(old);
	if (b->tail_size != 0)
		base_avail_insert(base, b);
	return (void *)ret;
}

static bool base_thp_madvise(bm_extent_hooks_t *h) {
	return opt_metadata_thp != METADATA_THP_DISABLED &&
	    os_thp_mode() == OS_THP_MADVISE && h == &hooks_default;
}

static void base_block_advise(base_t *base, base_block_t *b) {
	if (b->huge || os_huge(b, b->size) != 0)
		return;
	b->huge = true;
	base->stats.n_thp += b->size;
}

/* Apply metadata_thp to a base that has just gained block b. */
static void base_thp_apply_locked(base_t *base, base_block_t *b) {
	if (!base_thp_madvise(base->hooks))
		return;
	if (opt_metadata_thp == METADATA_THP_ALWAYS || base->thp_switched) {
		base_block_advise(base, b);
		return;
	}
	size_t threshold = base->is_b0 ? BASE_AUTO_THP_BLOCKS_B0 :
	    BASE_AUTO_THP_BLOCKS;
	if (base->stats.blocks < threshold)
		return;
	base->thp_switched = true;
	for (base_block_t *o = base->blocks; o != NULL; o = o->next)
		base_block_advise(base, o);
}

/* Unmap through the cascade dalloc, decommit, purge_forced, purge_lazy; the
 * first success ends it. Advice is cleared only from memory still mapped (an
 * unmapped range may already belong to another mapping). */
static void base_block_unmap(bm_extent_hooks_t *h, unsigned ind, void *addr,
    size_t size, bool huge) {
	if (hooks_dalloc(h, addr, size, true, ind) == 0)
		return;
	if (hooks_decommit(h, addr, size, ind) != 0 &&
	    hooks_purge_forced(h, addr, size, ind) != 0 &&
	    hooks_purge_lazy(h, addr, size, ind) != 0)
		log_warn("base: no hook released block %p (%zu bytes)", addr,
		    size);
	if (huge)
		os_nohuge(addr, size);
}

/* Bytes of a block (aligned to granule, a multiple of it) needed to serve
 * usize at alignment after a header. */
static size_t base_block_need(size_t usize, size_t alignment, size_t granule) {
	size_t gap = alignment <= granule ?
	    ALIGN_UP(BASE_HEADER_SIZE, alignment) - BASE_HEADER_SIZE : alignment;
	return ALIGN_UP(BASE_HEADER_SIZE + gap + usize, granule);
}

/* The cascade's next block size after class pind_last, a multiple of
 * granule. */
static size_t base_block_step(unsigned pind_last, size_t granule) {
	unsigned pind = pind_last + 1 < SZ_NPSIZES ? pind_last + 1 : pind_last;
	size_t sz = sz_pind2sz(pind);
	return sz > BASE_REQUEST_MAX ? 0 : ALIGN_UP(sz, granule);
}

/* One attempt at a block of size bytes aligned to align. */
static void *base_block_try(bm_extent_hooks_t *h, unsigned ind, size_t size,
    size_t align, bool *zero, bool *commit) {
	*zero = *commit = true;
	return hooks_alloc(h, size, align, zero, commit, ind);
}

/* Map a block able to serve usize at alignment, its size the larger of the
 * cascade's next step and the need; falls back to the need alone if the step
 * cannot be mapped, and then, when address space is short (ENOMEM: a
 * HUGEPAGE block, or the over-mapping that aligns one, does not fit), to
 * just the pages the need takes, page-aligned. In a process started under
 * an address-space or data limit every step is in pages, page-aligned (two
 * HUGEPAGE blocks holding 80 KiB would take 4 MiB of a few MiB allowed). No
 * lock held. NULL on failure. */
static base_block_t *base_block_map(bm_extent_hooks_t *h, unsigned ind,
    unsigned pind_last, size_t usize, size_t alignment) {
	size_t align = os_space_limited() ? PAGE : HUGEPAGE;
	size_t need = base_block_need(usize, alignment, align);
	size_t size = MAX(need, base_block_step(pind_last, align));
	bool zero, commit;
	void *addr = base_block_try(h, ind, size, align, &zero, &commit);
	if (addr == NULL && size > need) {
		size = need;
		addr = base_block_try(h, ind, size, align, &zero, &commit);
	}
	if (addr == NULL && errno == ENOMEM) {
		align = PAGE;
		size = base_block_need(usize, alignment, align);
		addr = base_block_try(h, ind, size, align, &zero, &commit);
	}
	if (addr == NULL)
		return NULL;
	if (((uintptr_t)addr & (align - 1)) != 0 ||
	    (!commit && hooks_commit(h, addr, size, ind) != 0)) {
		base_block_unmap(h, ind, addr, size, false);
		return NULL;
	}
	base_block_t *b = addr;
	b->size = size;
	b->next = NULL;
	b->tail = (uintptr_t)b + BASE_HEADER_SIZE;
	b->tail_size = size - BASE_HEADER_SIZE;
	b->avail_next = NULL;
	b->huge = false;
	b->zeroed = zero;
	return b;
}

/* Account a freshly mapped block b and link it as the newest. */
static void base_block_link_locked(base_t *base, base_block_t *b) {
	unsigned pind = sz_psz2ind(b->size);
	base->pind_last = MAX(base->pind_last, pind);
	b->next = base->blocks;
	base->blocks = b;
	base->stats.blocks++;
	base->stats.mapped += b->size;
	base->stats.allocated += BASE_HEADER_SIZE;
	base->stats.resident += PAGE_CEILING(b->tail) - (uintptr_t)b;
	atomic_fetch_add_explicit(&base_mapped_total, b->size,
	    memory_order_relaxed);
	base_thp_apply_locked(base, b);
}

/* Debug builds: the base's figures agree with its blocks (mutex held).
 * The blocks' sizes add up to mapped and their count to blocks; each is
 * page-aligned (HUGEPAGE-aligned but when address space was short) with
 * its tail inside it, ending at its end; every listed
 * tail is non-empty and in the list of its size class, whose bit is set;
 * and allocated <= resident <= mapped. */
static void base_check_locked(const base_t *base) {
	if (!config_debug)
		return;
	size_t mapped = 0, blocks = 0;
	for (const base_block_t *b = base->blocks; b != NULL; b = b->next) {
		uintptr_t start = (uintptr_t)b;
		BM_ASSERT(start % PAGE == 0 && b->size % PAGE == 0);
		BM_ASSERT(b->tail >= start + BASE_HEADER_SIZE);
		BM_ASSERT(b->tail + b->tail_size == start + b->size);
		mapped += b->size;
		blocks++;
	}
	BM_ASSERT(mapped == base->stats.mapped && blocks == base->stats.blocks);
	for (unsigned c = 0; c < BASE_NCLASSES; c++) {
		bool set = (base->avail_map[c / 64] >> (c % 64)) & 1;
		BM_ASSERT(set == (base->avail[c] != NULL));
		for (const base_block_t *b = base->avail[c]; b != NULL;
		    b = b->avail_next)
			BM_ASSERT(b->tail_size != 0 &&
			    base_class_floor(b->tail_size) == c);
	}
	BM_ASSERT(base->stats.allocated <= base->stats.resident);
	BM_ASSERT(base->stats.resident <= base->stats.mapped);
}

/* Grow the base by one block holding usize at alignment; serve the request
 * from it. Called and returns with the mutex held (dropped meanwhile). */
static void *base_alloc_grow_locked(base_t *base, size_t usize,
    size_t alignment, bool *zeroed) {
	unsigned pind_last = base->pind_last;
	mutex_unlock(&base->mtx);
	base_block_t *b = base_block_map(base->hooks, base->ind, pind_last, usize,
	    alignment);
	mutex_lock(&base->mtx);
	if (b == NULL)
		return NULL;
	base_block_link_locked(base, b);
	*zeroed = b->zeroed;
	void *ret = base_bump_locked(base, b, usize, alignment);
	base_check_locked(base);
	return ret;
}

void *base_alloc(base_t *base, size_t size, size_t alignment) {
	alignment = MAX(alignment, QUANTUM);
	if (!IS_POW2(alignment) || alignment > BASE_REQUEST_MAX ||
	    size > BASE_REQUEST_MAX)
		return NULL;
	size_t usize = ALIGN_UP(MAX(size, (size_t)1), alignment);
	bool zeroed = true;
	void *ret;
	mutex_lock(&base->mtx);
	base_block_t *b = base_avail_take(base, usize, alignment);
	if (b != NULL) {
		zeroed = b->zeroed;
		ret = base_bump_locked(base, b, usize, alignment);
	} else {
		ret = base_alloc_grow_locked(base, usize, alignment, &zeroed);
	}
	mutex_unlock(&base->mtx);
	if (ret != NULL && !zeroed)
		memset(ret, 0, usize);
	return ret;
}

/* Build a base whose struct lives in its own first block. */
static base_t *base_create(unsigned ind, bm_extent_hooks_t *h, bool is_b0) {
	if (h == NULL)
		h = &hooks_default;
	size_t bsize = ALIGN_UP(sizeof(base_t), CACHELINE);
	base_block_t *b = base_block_map(h, ind, 0, bsize, CACHELINE);
	if (b == NULL)
		return NULL;
	uintptr_t addr = ALIGN_UP(b->tail, CACHELINE);
	base_t *base = (base_t *)addr;
	if (!b->zeroed)
		memset(base, 0, bsize);
	if (mutex_init(&base->mtx, "base",
	    is_b0 ? MUTEX_RANK_BASE_B0 : MUTEX_RANK_BASE) != 0) {
		base_block_unmap(h, ind, b, b->size, false);
		return NULL;
	}
	base->ind = ind;
	base->hooks = h;
	base->is_b0 = is_b0;
	mutex_lock(&base->mtx);
	base_block_link_locked(base, b);
	void *self = base_bump_locked(base, b, bsize, CACHELINE);
	mutex_unlock(&base->mtx);
	BM_ASSERT(self == base);
	(void)self;
	return base;
}

base_t *base_new(unsigned ind, bm_extent_hooks_t *h) {
	return base_create(ind, h, false);
}

int base_boot(void) {
	if (base_boot_base != NULL)
		return 0;
	base_boot_base = base_create(0, &hooks_default, true);
	return base_boot_base == NULL ? ENOMEM : 0;
}

base_t *base_b0(void) {
	return base_boot_base;
}

void base_delete(base_t *base) {
	bm_extent_hooks_t *h = base->hooks;
	unsigned ind = base->ind;
	base_block_t *b = base->blocks;
	if (base == base_boot_base)
		base_boot_base = NULL;
	atomic_fetch_sub_explicit(&base_mapped_total, base->stats.mapped,
	    memory_order_relaxed);
	/* The mutex lives in the oldest block: unregister it first. */
	mutex_destroy(&base->mtx);
	while (b != NULL) {
		base_block_t *next = b->next;
		base_block_unmap(h, ind, b, b->size, b->huge);
		b = next;
	}
}

void base_stats_get(base_t *base, base_stats_t *out) {
	mutex_lock(&base->mtx);
	*out = base->stats;
	mutex_unlock(&base->mtx);
}

size_t base_block_sizes(base_t *base, size_t *out, size_t cap) {
	size_t n = 0;
	mutex_lock(&base->mtx);
	for (base_block_t *b = base->blocks; b != NULL; b = b->next, n++) {
		if (n < cap)
			out[n] = b->size;
	}
	mutex_unlock(&base->mtx);
	return n;
}

unsigned base_ind_get(const base_t *base) {
	return base->ind;
}

bm_extent_hooks_t *base_hooks_get(const base_t *base) {
	return base->hooks;
}

size_t base_total_mapped(void) {
	return atomic_load_explicit(&base_mapped_total, memory_order_relaxed);
}

size_t base_blocks_get(base_t *base, base_block_info_t *out, size_t cap) {
	size_t n = 0;
	mutex_lock(&base->mtx);
	for (base_block_t *b = base->blocks; b != NULL; b = b->next, n++) {
		if (n >= cap)
			continue;
		out[n].addr = (uintptr_t)b;
		out[n].size = b->size;
		out[n].used = b->tail - (uintptr_t)b;
		out[n].huge = b->huge;
	}
	mutex_unlock(&base->mtx);
	return n;
}
