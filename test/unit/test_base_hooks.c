/*
 * test_base_hooks: a base on a user's extent hooks. The unmap cascade
 * (dalloc, decommit, purge_forced, purge_lazy) stops at the first success and
 * calls nothing after it; a hook that serves memory from the caller's region
 * makes the base map nothing itself; memory a hook returns unzeroed is zeroed
 * by base_alloc; a failing or misaligned alloc hook fails cleanly; a hook may
 * allocate from the same base while it runs (the base mutex is dropped);
 * when only page-aligned memory can be had (address space too short for a
 * HUGEPAGE block), blocks are just the pages each request needs.
 */
#include "base_util.h"

#include <errno.h>

enum { OP_DALLOC, OP_DECOMMIT, OP_PURGE_FORCED, OP_PURGE_LAZY, OP_N };

/* Counts calls per operation; result[op] is what that hook returns. */
typedef struct {
	bm_extent_hooks_t h;
	unsigned calls[OP_N];
	int result[OP_N];
	unsigned depth_bad;
	blk_t blk[TRACK_MAX];
	size_t n;
} cascade_t;

static void *cas_alloc(bm_extent_hooks_t *h, void *new_addr, size_t size,
    size_t alignment, bool *zero, bool *commit, unsigned ind) {
	cascade_t *c = (cascade_t *)h;
	(void)new_addr, (void)ind;
	void *p = os_map_aligned(size, alignment);
	*zero = *commit = true;
	if (p != NULL && c->n < TRACK_MAX)
		c->blk[c->n++] = (blk_t){ (uintptr_t)p, size };
	return p;
}

static int cas_note(bm_extent_hooks_t *h, int op) {
	cascade_t *c = (cascade_t *)h;
	c->calls[op]++;
	c->depth_bad += hooks_reentrancy() != 1;
	return c->result[op];
}

static int cas_dalloc(bm_extent_hooks_t *h, void *a, size_t s, bool cm,
    unsigned i) {
	(void)a, (void)s, (void)cm, (void)i;
	return cas_note(h, OP_DALLOC);
}

static int cas_decommit(bm_extent_hooks_t *h, void *a, size_t s, size_t o,
    size_t l, unsigned i) {
	(void)a, (void)s, (void)o, (void)l, (void)i;
	return cas_note(h, OP_DECOMMIT);
}

static int cas_purge_forced(bm_extent_hooks_t *h, void *a, size_t s, size_t o,
    size_t l, unsigned i) {
	(void)a, (void)s, (void)o, (void)l, (void)i;
	return cas_note(h, OP_PURGE_FORCED);
}

static int cas_purge_lazy(bm_extent_hooks_t *h, void *a, size_t s, size_t o,
    size_t l, unsigned i) {
	(void)a, (void)s, (void)o, (void)l, (void)i;
	return cas_note(h, OP_PURGE_LAZY);
}

/* Delete a 3-block base whose first `fail` cascade steps fail; every step
 * after the first success must not be called. */
static int run_cascade(int fail, bool null_members) {
	cascade_t c;
	memset(&c, 0, sizeof(c));
	c.h.alloc = cas_alloc;
	if (!null_members) {
		c.h.dalloc = cas_dalloc;
		c.h.decommit = cas_decommit;
		c.h.purge_forced = cas_purge_forced;
		c.h.purge_lazy = cas_purge_lazy;
	}
	for (int op = 0; op < OP_N; op++)
		c.result[op] = op < fail ? 1 : 0;
	base_t *b = base_new(40, &c.h);
	CHECK(b != NULL);
	base_alloc(b, HUGEPAGE, QUANTUM);
	base_alloc(b, 2 * HUGEPAGE, QUANTUM);
	CHECK(c.n == 3);
	base_delete(b);
	size_t bad = 0;
	for (int op = 0; op < OP_N; op++) {
		unsigned want = null_members || op > fail ? 0 : (unsigned)c.n;
		bad += c.calls[op] != want;
	}
	CHECK(bad == 0, "fail %d null %d: calls %u %u %u %u", fail,
	    null_members, c.calls[0], c.calls[1], c.calls[2], c.calls[3]);
	CHECK(c.depth_bad == 0 && hooks_reentrancy() == 0);
	for (size_t i = 0; i < c.n; i++)
		os_unmap((void *)c.blk[i].addr, c.blk[i].size);
	return CHECK_OK;
}

/* base hooks: the unmap cascade stops at the first success */
static int test_cascade(void) {
	for (int fail = 0; fail < OP_N; fail++)
		CHECK_DO(run_cascade(fail, false));
	CHECK_DO(run_cascade(OP_N, false)); /* nothing works: all four, once */
	CHECK_DO(run_cascade(0, true));     /* no members: nothing to call */
	return CHECK_OK;
}

/* A hook serving HUGEPAGE-aligned pieces of one caller-owned region. */
typedef struct {
	bm_extent_hooks_t h;
	uintptr_t start, next, end;
	unsigned allocs, dallocs, bad_dalloc;
	bool zeroed;          /* what the hook reports in *zero */
	bool misalign;        /* ignore the alignment asked for */
} region_t;

static void *reg_alloc(bm_extent_hooks_t *h, void *new_addr, size_t size,
    size_t alignment, bool *zero, bool *commit, unsigned ind) {
	region_t *r = (region_t *)h;
	(void)new_addr, (void)ind;
	uintptr_t p = r->misalign ? r->next : ALIGN_UP(r->next, alignment);
	if (p + size > r->end)
		return NULL;
	r->next = p + size;
	r->allocs++;
	*zero = r->zeroed;
	*commit = true;
	return (void *)p;
}

static int reg_dalloc(bm_extent_hooks_t *h, void *addr, size_t size,
    bool committed, unsigned ind) {
	region_t *r = (region_t *)h;
	(void)committed, (void)ind;
	r->dallocs++;
	r->bad_dalloc += (uintptr_t)addr < r->start ||
	    (uintptr_t)addr + size > r->end;
	return 0;
}

static void region_init(region_t *r, void *mem, size_t size, bool zeroed) {
	memset(r, 0, sizeof(*r));
	r->h.alloc = reg_alloc;
	r->h.dalloc = reg_dalloc;
	r->start = r->next = (uintptr_t)mem;
	r->end = r->start + size;
	r->zeroed = zeroed;
}

/* base hooks: memory from the caller's region, no mmap by base */
static int test_region(void) {
	size_t rsize = (size_t)64 << 20;
	void *mem = os_map_aligned(rsize, HUGEPAGE);
	CHECK(mem != NULL);
	region_t r;
	region_init(&r, mem, rsize, true);
	opt_metadata_thp = METADATA_THP_ALWAYS;
	os_stats_t before, after;
	os_stats_get(&before);
	base_t *b = base_new(41, &r.h);
	CHECK(b != NULL && base_hooks_get(b) == &r.h);
	size_t outside = 0, fails = 0;
	for (int i = 0; b != NULL && i < 2000; i++) {
		size_t size = 1 + (size_t)i * 7;
		unsigned char *p = base_alloc(b, size, 64);
		fails += p == NULL;
		outside += p != NULL && ((uintptr_t)p < r.start ||
		    (uintptr_t)p + size > r.end);
	}
	CHECK(fails == 0 && outside == 0);
	CHECK(r.allocs >= 3);
	if (b != NULL) {
		CHECK_STATS(b);
		base_delete(b);
	}
	os_stats_get(&after);
	CHECK(r.dallocs == r.allocs && r.bad_dalloc == 0);
	CHECK(after.n_mmap == before.n_mmap && after.n_munmap == before.n_munmap,
	    "mmap %llu -> %llu, munmap %llu -> %llu",
	    (unsigned long long)before.n_mmap, (unsigned long long)after.n_mmap,
	    (unsigned long long)before.n_munmap,
	    (unsigned long long)after.n_munmap);
	CHECK(after.n_madvise == before.n_madvise);
	opt_metadata_thp = METADATA_THP_AUTO;
	os_unmap(mem, rsize);
	return CHECK_OK;
}

/* base hooks: memory a hook returns dirty is zeroed */
static int test_unzeroed(void) {
	size_t rsize = (size_t)32 << 20;
	unsigned char *mem = os_map_aligned(rsize, HUGEPAGE);
	CHECK(mem != NULL);
	memset(mem, 0xa5, rsize);
	region_t r;
	region_init(&r, mem, rsize, false);
	base_t *b = base_new(42, &r.h);
	CHECK(b != NULL);
	size_t dirty = 0;
	for (int i = 0; b != NULL && i < 300; i++) {
		size_t size = 1 + (size_t)i * 97;
		unsigned char *p = base_alloc(b, size, 16);
		dirty += p == NULL || nonzero_bytes(p, size) != 0;
		if (p != NULL)
			memset(p, 0xa5, size);
	}
	CHECK(dirty == 0, "%zu allocations not zeroed", dirty);
	CHECK(r.allocs >= 2);
	if (b != NULL) {
		CHECK_STATS(b);
		base_delete(b);
	}
	os_unmap(mem, rsize);
	return CHECK_OK;
}

static void *fail_alloc(bm_extent_hooks_t *h, void *new_addr, size_t size,
    size_t alignment, bool *zero, bool *commit, unsigned ind) {
	(void)h, (void)new_addr, (void)size, (void)alignment, (void)zero;
	(void)commit, (void)ind;
	return NULL;
}

/* base hooks: failing or misaligned alloc hooks fail cleanly */
static int test_failures(void) {
	bm_extent_hooks_t none = { .alloc = fail_alloc };
	CHECK(base_new(43, &none) == NULL);
	bm_extent_hooks_t empty;
	memset(&empty, 0, sizeof(empty));
	CHECK(base_new(43, &empty) == NULL);
	/* A region that can hold only the first block. */
	size_t rsize = 3 * HUGEPAGE;
	void *mem = os_map_aligned(rsize, HUGEPAGE);
	region_t r;
	region_init(&r, mem, rsize, true);
	base_t *b = base_new(44, &r.h);
	CHECK(b != NULL);
	if (b != NULL) {
		base_stats_t s0, s1;
		base_stats_get(b, &s0);
		CHECK(base_alloc(b, 4 * HUGEPAGE, QUANTUM) == NULL);
		base_stats_get(b, &s1);
		CHECK(memcmp(&s0, &s1, sizeof(s0)) == 0);
		CHECK(base_alloc(b, 64, QUANTUM) != NULL);
		CHECK_STATS(b);
		base_delete(b);
	}
	/* Misaligned memory is refused and handed back through dalloc. */
	region_init(&r, (char *)mem + PAGE, rsize - PAGE, true);
	r.misalign = true;
	CHECK(base_new(45, &r.h) == NULL);
	CHECK(r.allocs >= 1 && r.dallocs == r.allocs && r.bad_dalloc == 0);
	os_unmap(mem, rsize);
	return CHECK_OK;
}

/* An alloc hook that itself allocates from the base being grown. */
typedef struct {
	bm_extent_hooks_t h;
	base_t *base;
	void *inner;
	unsigned calls;
} nested_t;

static void *nest_alloc(bm_extent_hooks_t *h, void *new_addr, size_t size,
    size_t alignment, bool *zero, bool *commit, unsigned ind) {
	nested_t *n = (nested_t *)h;
	n->calls++;
	if (n->base != NULL)
		n->inner = base_alloc(n->base, 64, QUANTUM);
	return hooks_default.alloc(&hooks_default, new_addr, size, alignment,
	    zero, commit, ind);
}

/* base hooks: a hook may allocate from the same base */
static int test_nested(void) {
	nested_t n;
	memset(&n, 0, sizeof(n));
	n.h.alloc = nest_alloc;
	n.h.dalloc = hooks_default.dalloc;
	base_t *b = base_new(46, &n.h);
	CHECK(b != NULL);
	n.base = b;
	void *p = base_alloc(b, 3 * HUGEPAGE, QUANTUM);
	CHECK(p != NULL && n.inner != NULL && n.calls == 2);
	CHECK((uintptr_t)n.inner + 64 <= (uintptr_t)p ||
	    (uintptr_t)p + 3 * HUGEPAGE <= (uintptr_t)n.inner);
	CHECK_STATS(b);
	base_delete(b);
	return CHECK_OK;
}

/* An alloc hook that can only give page-aligned memory, as when the address
 * space left cannot hold a HUGEPAGE block or the over-mapping that aligns
 * one. */
typedef struct {
	bm_extent_hooks_t h;
	unsigned refused, served;
	size_t bytes;
} pages_only_t;

static void *pages_only_alloc(bm_extent_hooks_t *h, void *new_addr,
    size_t size, size_t alignment, bool *zero, bool *commit, unsigned ind) {
	pages_only_t *t = (pages_only_t *)h;
	(void)new_addr, (void)ind;
	if (alignment > PAGE) {
		t->refused++;
		errno = ENOMEM;  /* as the default hooks fail then */
		return NULL;
	}
	t->served++;
	t->bytes += size;
	*zero = *commit = true;
	return os_map(size);
}

/* base hooks: only page-aligned memory: blocks of just the pages */
static int test_pages_only(void) {
	pages_only_t t;
	memset(&t, 0, sizeof(t));
	t.h.alloc = pages_only_alloc;
	t.h.dalloc = hooks_default.dalloc;
	base_t *b = base_new(47, &t.h);
	CHECK(b != NULL);
	CHECK(t.refused >= 1 && t.served == 1 && t.bytes < HUGEPAGE);
	size_t first = t.bytes;
	void *p = base_alloc(b, 100 * 1024, PAGE);
	CHECK(p != NULL && ((uintptr_t)p & (PAGE - 1)) == 0);
	memset(p, 0x5a, 100 * 1024);
	/* Its header's page, then the request's. */
	CHECK(t.served == 2 && t.bytes - first == PAGE + 100 * 1024,
	    "%u blocks, the second %zu bytes", t.served, t.bytes - first);
	CHECK(base_alloc(b, 64, QUANTUM) != NULL);
	/* The stats invariants but HUGEPAGE granularity. */
	base_stats_t st;
	base_stats_get(b, &st);
	CHECK(st.allocated <= st.resident && st.resident <= st.mapped &&
	    st.mapped == t.bytes && st.mapped % PAGE == 0 && st.blocks == 2,
	    "allocated %zu resident %zu mapped %zu blocks %zu", st.allocated,
	    st.resident, st.mapped, st.blocks);
	base_delete(b);
	return CHECK_OK;
}

static const struct check_s checks[] = {
	CHECK_ENTRY(test_cascade),
	CHECK_ENTRY(test_region),
	CHECK_ENTRY(test_unzeroed),
	CHECK_ENTRY(test_failures),
	CHECK_ENTRY(test_nested),
	CHECK_ENTRY(test_pages_only),
};

int main(int argc, char **argv) {
	boot_modules();
	return check_main(checks, sizeof(checks) / sizeof(checks[0]), argc,
	    argv);
}
