/*
 * test_extent: an arena's page runs on their own (a pages_t over a base;
 * the modules pages, purge, extent and huge). Runs come aligned, registered
 * in the rtree as their kind says (a slab on every page, a large run on its
 * first) and counted; freed neighbours coalesce back into one run that
 * serves a request of their joint size; freed bytes are dirty until a
 * forced purge, which counts them as purged; a merged run's dirty span is
 * the hull of its parts, a run is placed over a free run's dirty span and
 * a split cuts the span exactly; a big freed run's span is what the
 * program touched (the hull of its resident pages, or their largest
 * stretch when sparse, the rest purged at once, swapped-out pages too); a
 * large run grows into a free neighbour and shrinks in place; huge
 * mappings are counted, resized and their process-wide peaks kept; a freed
 * huge mapping is kept as the spare (its tail purged) and reused when it
 * fits; a collapsed heap or a left thread purges, and a guess proven wrong
 * is not repeated; with more arenas than CPUs each may keep its share of
 * dirty_max; the free runs of a chunk go back to the kernel with
 * pages_unmap_free.
 * Purging by time is held back (dirty_decay_ms -1, a large dirty_max) so
 * that the dirty figures are the test's to read.
 */
#include "check.h"
#include "base.h"
#include "conf.h"
#include "extent.h"
#include "huge.h"
#include "os.h"
#include "pages.h"
#include "purge.h"
#include "rtree.h"
#include "sz.h"

#include <sys/mman.h>

#define KiB ((size_t)1024)
#define MiB (KiB * KiB)

static int owner_tag;   /* the "arena" the runs belong to */

static int pages_new(pages_t *p) {
	base_t *b = base_new(1, NULL);
	CHECK(b != NULL);
	memset(p, 0, sizeof(*p));
	CHECK(pages_init(p, b, &owner_tag) == 0);
	return CHECK_OK;
}

static pages_stats_t stats_of(pages_t *p) {
	pages_stats_t s;
	pages_stats_get(p, &s);
	return s;
}

/* extent: runs are aligned, registered by kind and counted */
static int test_alloc(void) {
	pages_t p;
	bool zeroed;
	CHECK_DO(pages_new(&p));
	extent_t *l = extent_run_alloc(&p, NULL, 64 * KiB, 64 * KiB,
	    EXTENT_LARGE, &zeroed);
	CHECK(l != NULL && l->addr % (64 * KiB) == 0 && l->size == 64 * KiB);
	CHECK(zeroed && l->kind == EXTENT_LARGE && l->owner == &owner_tag);
	CHECK(rtree_lookup((void *)l->addr) == l);
	CHECK(rtree_lookup((void *)(l->addr + PAGE)) == NULL);
	static extent_t slab_desc;
	extent_t *s = extent_run_alloc(&p, &slab_desc, 16 * PAGE, PAGE,
	    EXTENT_SLAB, &zeroed);
	CHECK(s == &slab_desc && s->kind == EXTENT_SLAB);
	size_t bad = 0;
	for (size_t off = 0; off < s->size; off += PAGE)
		bad += rtree_lookup((void *)(s->addr + off)) != s;
	CHECK(bad == 0, "%zu slab pages not mapped to the slab", bad);
	pages_stats_t st = stats_of(&p);
	CHECK(st.active == 64 * KiB + 16 * PAGE && st.slab == 16 * PAGE);
	CHECK(st.n_large == 1 && st.mapped == PAGES_CHUNK && st.dirty == 0);
	extent_run_free(&p, l, true);
	extent_run_free(&p, s, false);
	st = stats_of(&p);
	CHECK(st.active == 0 && st.slab == 0 && st.n_large == 0);
	CHECK(rtree_lookup((void *)(s->addr + PAGE)) == NULL);
	return CHECK_OK;
}

/* extent: freed neighbours coalesce into one run; dirty until purged */
static int test_coalesce_purge(void) {
	pages_t p;
	bool zeroed;
	CHECK_DO(pages_new(&p));
	extent_t *r[3];
	for (int i = 0; i < 3; i++) {
		r[i] = extent_run_alloc(&p, NULL, 8 * PAGE, PAGE, EXTENT_LARGE,
		    &zeroed);
		CHECK(r[i] != NULL);
		memset((void *)r[i]->addr, 0xab, 8 * PAGE);
	}
	CHECK(r[1]->addr == r[0]->addr + 8 * PAGE &&
	    r[2]->addr == r[1]->addr + 8 * PAGE, "runs not carved in a row");
	uintptr_t start = r[0]->addr;
	extent_run_free(&p, r[1], true);
	extent_run_free(&p, r[0], true);
	extent_run_free(&p, r[2], true);
	pages_stats_t st = stats_of(&p);
	CHECK(st.dirty == 24 * PAGE, "dirty %zu after freeing 24 pages",
	    st.dirty);
	extent_t *whole = extent_run_alloc(&p, NULL, 24 * PAGE, PAGE,
	    EXTENT_LARGE, &zeroed);
	CHECK(whole != NULL && whole->addr == start, "the three runs did not "
	    "coalesce: %p, not %p", (void *)(whole ? whole->addr : 0),
	    (void *)start);
	CHECK(!zeroed, "a reused dirty run reads as zero");
	extent_run_free(&p, whole, true);
	uint64_t purged0 = stats_of(&p).purged, runs0 = stats_of(&p).purge_runs;
	purge_pages(&p, true);
	st = stats_of(&p);
	CHECK(st.dirty == 0 && st.purged == purged0 + 24 * PAGE);
	CHECK(st.purge_runs == runs0 + 1);
	CHECK(((unsigned char *)start)[0] == 0, "purged pages do not read 0");
	return CHECK_OK;
}

/* extent: a large run grows into its free neighbour and shrinks in place */
static int test_grow_shrink(void) {
	pages_t p;
	bool zeroed;
	CHECK_DO(pages_new(&p));
	extent_t *a = extent_run_alloc(&p, NULL, 4 * PAGE, PAGE, EXTENT_LARGE,
	    &zeroed);
	extent_t *b = extent_run_alloc(&p, NULL, 4 * PAGE, PAGE, EXTENT_LARGE,
	    &zeroed);
	CHECK(a != NULL && b != NULL && b->addr == a->addr + 4 * PAGE);
	CHECK(extent_run_grow(&p, a, 6 * PAGE) == ENOMEM, "grew over a live run");
	extent_run_free(&p, b, true);
	uintptr_t at = a->addr;
	CHECK(extent_run_grow(&p, a, 6 * PAGE) == 0 && a->addr == at &&
	    a->size == 6 * PAGE);
	CHECK(stats_of(&p).active == 6 * PAGE);
	extent_run_shrink(&p, a, 2 * PAGE);
	CHECK(a->size == 2 * PAGE && stats_of(&p).active == 2 * PAGE);
	extent_t *c = extent_run_alloc(&p, NULL, 4 * PAGE, PAGE, EXTENT_LARGE,
	    &zeroed);
	CHECK(c != NULL && c->addr == at + 2 * PAGE, "the shrunk tail is not "
	    "reused first");
	extent_run_free(&p, a, true);
	extent_run_free(&p, c, true);
	CHECK(pages_unmap_free(&p) == PAGES_CHUNK);
	pages_stats_t st = stats_of(&p);
	CHECK(st.mapped == 0 && st.dirty == 0);
	CHECK(rtree_lookup((void *)at) == NULL);
	return CHECK_OK;
}

/* extent: huge mappings are counted, resized, and their peaks kept */
static int test_huge(void) {
	pages_t p;
	CHECK_DO(pages_new(&p));
	huge_stats_t h0, h1;
	huge_stats_get(&h0);
	bool zx, zy;
	extent_t *x = huge_alloc(&p, 40 * MiB, PAGE, &zx);
	extent_t *y = huge_alloc(&p, 50 * MiB, 4 * MiB, &zy);
	CHECK(x != NULL && y != NULL && y->addr % (4 * MiB) == 0);
	CHECK(zx && zy, "a new huge mapping does not read as zero");
	CHECK(x->kind == EXTENT_HUGE && rtree_lookup((void *)x->addr) == x);
	pages_stats_t st = stats_of(&p);
	CHECK(st.n_huge == 2 && st.huge == 90 * MiB);
	CHECK(huge_resize(&p, x, 80 * MiB) == 0 && x->size == 80 * MiB);
	CHECK(rtree_lookup((void *)x->addr) == x);
	huge_stats_get(&h1);
	CHECK(h1.count == h0.count + 2 && h1.bytes == h0.bytes + 130 * MiB);
	CHECK(h1.count_peak >= h0.count + 2 && h1.bytes_peak >= 130 * MiB);
	uintptr_t xa = x->addr;
	huge_free(&p, x);
	huge_free(&p, y);
	huge_stats_get(&h1);
	st = stats_of(&p);
	CHECK(st.n_huge == 0 && st.huge == 0 && rtree_lookup((void *)xa) == NULL);
	CHECK(st.spare == 80 * MiB && st.mapped == 80 * MiB, "spare %zu, "
	    "mapped %zu: the larger freed mapping is not the spare",
	    st.spare, st.mapped);
	CHECK(h1.count == h0.count && h1.bytes == h0.bytes);
	CHECK(h1.count_peak >= 2 && h1.bytes_peak >= 130 * MiB,
	    "peaks %lu / %lu fell after the frees",
	    (unsigned long)h1.count_peak, (unsigned long)h1.bytes_peak);
	return CHECK_OK;
}

/* A large run of size bytes from p (page-aligned), its pages written. */
static extent_t *large_written(pages_t *p, size_t size, bool *zeroed) {
	extent_t *e = extent_run_alloc(p, NULL, size, PAGE, EXTENT_LARGE,
	    zeroed);
	if (e != NULL)
		memset((void *)e->addr, 0xab, size);
	return e;
}

/* extent: a merged run's dirty span is the hull of its parts (an upper
 * bound), a run is placed over a free run's dirty span (a dirty run of a
 * bigger class is taken before a clean one of the exact class) and the
 * split cuts the span exactly */
static int test_dirty_span(void) {
	pages_t p;
	bool z;
	extent_t *r[3];
	CHECK_DO(pages_new(&p));
	for (int i = 0; i < 3; i++)
		CHECK((r[i] = large_written(&p, 8 * PAGE, &z)) != NULL && z);
	uintptr_t a0 = r[0]->addr, a1 = r[1]->addr, a2 = r[2]->addr;
	CHECK(a1 == a0 + 8 * PAGE && a2 == a1 + 8 * PAGE);
	extent_run_free(&p, r[1], true);
	purge_pages(&p, true);
	extent_run_free(&p, r[0], true);
	CHECK(stats_of(&p).dirty == 8 * PAGE);
	extent_run_free(&p, r[2], true);
	CHECK(stats_of(&p).dirty == 24 * PAGE, "dirty %zu: not the hull of "
	    "the two dirty runs and the clean one between", stats_of(&p).dirty);
	uint64_t purged0 = stats_of(&p).purged;
	purge_pages(&p, true);
	CHECK(stats_of(&p).purged == purged0 + 24 * PAGE);

	for (int i = 0; i < 2; i++)
		CHECK((r[i] = large_written(&p, 8 * PAGE, &z)) != NULL && z &&
		    r[i]->addr == a0 + (size_t)i * 8 * PAGE);
	extent_run_free(&p, r[0], true);
	purge_pages(&p, true);
	extent_run_free(&p, r[1], true);
	CHECK(stats_of(&p).dirty == 8 * PAGE, "a dirty run merged with a "
	    "clean one: %zu dirty bytes", stats_of(&p).dirty);
	extent_t *a = extent_run_alloc(&p, NULL, 4 * PAGE, PAGE, EXTENT_LARGE,
	    &z);
	CHECK(a != NULL && a->addr == a1 && !z, "placed at %p, not over the "
	    "dirty pages at %p (zeroed %d)", (void *)(a ? a->addr : 0),
	    (void *)a1, z);
	CHECK(stats_of(&p).dirty == 4 * PAGE, "dirty %zu after taking 4 of 8 "
	    "dirty pages", stats_of(&p).dirty);
	/* the 4 dirty pages left, in a bigger run, win over the clean
	 * 8-page lead: only 4 pages are faulted in anew, not 8 */
	extent_t *b = extent_run_alloc(&p, NULL, 8 * PAGE, PAGE, EXTENT_LARGE,
	    &z);
	CHECK(b != NULL && b->addr == a1 + 4 * PAGE && !z, "placed at %p, "
	    "not over the dirty pages left at %p (zeroed %d)",
	    (void *)(b ? b->addr : 0), (void *)(a1 + 4 * PAGE), z);
	CHECK(stats_of(&p).dirty == 0, "dirty %zu", stats_of(&p).dirty);
	extent_t *c = extent_run_alloc(&p, NULL, 8 * PAGE, PAGE, EXTENT_LARGE,
	    &z);
	CHECK(c != NULL && c->addr == a0 && z, "the clean lead (%p) was not "
	    "reused as zeroed: %p", (void *)a0, (void *)(c ? c->addr : 0));
	return CHECK_OK;
}

/* Write the pages [first, first + n) of e. */
static void touch(const extent_t *e, size_t first, size_t n) {
	memset((void *)(e->addr + first * PAGE), 0xcd, n * PAGE);
}

/* extent: a big freed run's dirty span is what the program touched: the
 * hull of its resident pages, or their largest stretch when they are
 * sparse (the others purged at once) */
static int test_touched(void) {
	pages_t p;
	bool z;
	CHECK_DO(pages_new(&p));
	extent_t *e = extent_run_alloc(&p, NULL, 2 * MiB, PAGE, EXTENT_LARGE,
	    &z);
	CHECK(e != NULL && z);
	uintptr_t at = e->addr;
	CHECK(os_nohuge((void *)at, 2 * MiB) == 0);  /* pages stay pages */
	touch(e, 0, 16);
	touch(e, 20, 16);
	extent_run_free(&p, e, true);
	CHECK(stats_of(&p).dirty == 36 * PAGE, "dirty %zu: not the hull of "
	    "the 32 pages written", stats_of(&p).dirty);
	e = extent_run_alloc(&p, NULL, 2 * MiB, PAGE, EXTENT_LARGE, &z);
	CHECK(e != NULL && e->addr == at && !z);
	touch(e, 256, 32);      /* pages 0-35 are resident (32 of them) too */
	uint64_t purged0 = stats_of(&p).purged;
	extent_run_free(&p, e, true);
	pages_stats_t st = stats_of(&p);
	CHECK(st.dirty == 32 * PAGE, "dirty %zu: not the largest stretch of "
	    "sparse pages", st.dirty);
	CHECK(st.purged == purged0 + 32 * PAGE, "purged %lu, not the 32 "
	    "pages outside the stretch", (unsigned long)(st.purged - purged0));
	CHECK(*(unsigned char *)at == 0, "a page purged at free reads %#x",
	    *(unsigned char *)at);
	CHECK(*(unsigned char *)(at + 256 * PAGE) == 0xcd);
	return CHECK_OK;
}

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif

/* pages: a freed big run whose pages were swapped out (mincore calls them
 * not resident, yet they keep their bytes) is not taken to read as zero.
 * Needs swap: not applicable when the kernel keeps the pages resident. */
static int test_swapped(void) {
	pages_t p;
	bool z;
	CHECK_DO(pages_new(&p));
	extent_t *e = extent_run_alloc(&p, NULL, 2 * MiB, PAGE, EXTENT_LARGE,
	    &z);
	CHECK(e != NULL);
	uintptr_t at = e->addr;
	CHECK(os_nohuge((void *)at, 2 * MiB) == 0);
	memset((void *)at, 0x77, 2 * MiB);
	static unsigned char vec[2 * MiB / 4096];
	size_t n = 2 * MiB / PAGE, resident = 0;
	CHECK(n <= sizeof(vec));
	if (madvise((void *)at, 2 * MiB, MADV_PAGEOUT) != 0)
		NOT_APPLICABLE("no MADV_PAGEOUT");
	CHECK(mincore((void *)at, 2 * MiB, vec) == 0);
	for (size_t i = 0; i < n; i++)
		resident += vec[i] & 1;
	if (resident != 0)
		NOT_APPLICABLE("the kernel kept the pages resident (no swap)");
	extent_run_free(&p, e, true);
	e = extent_run_alloc(&p, NULL, 2 * MiB, PAGE, EXTENT_LARGE, &z);
	CHECK(e != NULL && e->addr == at);
	size_t nonzero = 0;
	for (size_t i = 0; z && i < 2 * MiB; i += PAGE)
		nonzero += *(unsigned char *)(at + i) != 0;
	CHECK(nonzero == 0, "%zu pages said to read as zero hold old bytes",
	    nonzero);
	return CHECK_OK;
}

/* huge: a freed huge mapping is kept as the spare (its tail purged) and
 * reused by a request it fits, at most twice as large; a forced purge
 * unmaps it */
static int test_spare(void) {
	pages_t p;
	bool z;
	CHECK_DO(pages_new(&p));
	extent_t *x = huge_alloc(&p, 40 * MiB, PAGE, &z);
	CHECK(x != NULL && z);
	uintptr_t xa = x->addr;
	memset((void *)xa, 0x5a, 40 * MiB);
	huge_free(&p, x);
	pages_stats_t st = stats_of(&p);
	CHECK(st.spare == 40 * MiB && st.mapped == 40 * MiB && st.huge == 0);
	size_t n = (40 * MiB - HUGE_SPARE_KEEP) / PAGE, resident = 0;
	static unsigned char vec[40 * MiB / 4096];
	CHECK(n <= sizeof(vec));
	CHECK(os_resident_pages((void *)(xa + HUGE_SPARE_KEEP), n, vec) == 0);
	for (size_t i = 0; i < n; i++)
		resident += vec[i] & 1;
	CHECK(resident == 0, "%zu pages of the spare's tail still resident",
	    resident);
	extent_t *y = huge_alloc(&p, 30 * MiB, PAGE, &z);
	CHECK(y != NULL && y->addr == xa && !z && y->size == 40 * MiB,
	    "the spare was not reused for 30 MiB");
	CHECK(stats_of(&p).spare == 0 && stats_of(&p).huge == 40 * MiB);
	huge_free(&p, y);
	extent_t *s = huge_alloc(&p, 16 * MiB, PAGE, &z);
	CHECK(s != NULL && s->addr != xa && z,
	    "the 40 MiB spare served 16 MiB");
	huge_free(&p, s);
	CHECK(stats_of(&p).spare == 40 * MiB, "a smaller mapping replaced the "
	    "spare");
	purge_pages(&p, true);
	st = stats_of(&p);
	CHECK(st.spare == 0 && st.mapped == 0, "spare %zu mapped %zu after a "
	    "forced purge", st.spare, st.mapped);
	return CHECK_OK;
}

#define RUN (512 * KiB)   /* under the size asking the kernel (1 MiB) */

/* Allocate n runs of RUN bytes into r, written. */
static int runs_alloc(pages_t *p, extent_t **r, int n) {
	bool z;
	for (int i = 0; i < n; i++)
		CHECK((r[i] = large_written(p, RUN, &z)) != NULL);
	return CHECK_OK;
}

/* Free the n runs of r in order. */
static void runs_free(pages_t *p, extent_t **r, int n) {
	for (int i = 0; i < n; i++)
		extent_run_free(p, r[i], true);
}

/* purge: a collapsed heap (active under an eighth of its peak and a
 * quarter of dirty_max) keeps an eighth of dirty_max; when the heap comes
 * back at once (half the peak within the decay time) the guess was wrong
 * and a collapse within the hold that follows keeps its pages (the decay
 * time is infinite here: so is the hold) */
static int test_collapse(void) {
	pages_t p;
	extent_t *r[16];
	CHECK_DO(pages_new(&p));
	opt_dirty_max = 1 * MiB;   /* this check's child only */
	CHECK_DO(runs_alloc(&p, r, 16));
	runs_free(&p, r, 15);
	CHECK(stats_of(&p).dirty == 15 * RUN, "purged before the collapse");
	runs_free(&p, r + 15, 1);
	pages_stats_t st = stats_of(&p);
	CHECK(st.dirty <= opt_dirty_max / 8 && st.purged >= 16 * RUN -
	    opt_dirty_max / 8, "dirty %zu purged %lu after the heap collapsed",
	    st.dirty, (unsigned long)st.purged);
	CHECK_DO(runs_alloc(&p, r, 8));
	runs_free(&p, r, 8);
	pages_stats_t st2 = stats_of(&p);
	CHECK(st2.dirty == 8 * RUN && st2.purged == st.purged, "dirty %zu, "
	    "purged %lu more: the wrong guess was made again", st2.dirty,
	    (unsigned long)(st2.purged - st.purged));
	return CHECK_OK;
}

/* purge: with more arenas than CPUs, dirty_max is shared: an arena among
 * 4 x ncpus may keep a quarter of what dirty_max lets one keep alone */
static int test_dirty_share(void) {
	static pages_t others[64];
	unsigned cpus = os_ncpus(), n = 4 * cpus;
	CHECK(n <= 64);
	opt_dirty_max = 64 * MiB;   /* this check's child only */
	CHECK(pages_registered() > cpus || purge_dirty_floor() == opt_dirty_max);
	for (unsigned i = pages_registered(); i < n; i++)
		CHECK_DO(pages_new(&others[i]));
	CHECK(pages_registered() == n, "%u arenas", pages_registered());
	size_t share = purge_dirty_floor();
	CHECK(share == opt_dirty_max / n * cpus, "%zu bytes may stay dirty in "
	    "each of %u arenas on %u CPUs (dirty_max %zu)", share, n, cpus,
	    opt_dirty_max);
	return CHECK_OK;
}

/* purge: the thread left: its arena purges everything; when the heap is
 * back at once the guess was wrong and the next exit within the hold keeps
 * its pages */
static int test_left(void) {
	pages_t p;
	extent_t *r[8];
	CHECK_DO(pages_new(&p));
	CHECK_DO(runs_alloc(&p, r, 8));
	runs_free(&p, r, 8);
	CHECK(stats_of(&p).dirty == 8 * RUN);
	purge_left(&p);
	CHECK(stats_of(&p).dirty == 0, "dirty %zu after the thread left",
	    stats_of(&p).dirty);
	CHECK_DO(runs_alloc(&p, r, 4));
	runs_free(&p, r, 4);
	purge_left(&p);
	CHECK(stats_of(&p).dirty == 4 * RUN, "dirty %zu: the wrong guess was "
	    "made again", stats_of(&p).dirty);
	return CHECK_OK;
}

static const struct check_s checks[] = {
	CHECK_ENTRY(test_alloc),
	CHECK_ENTRY(test_coalesce_purge),
	CHECK_ENTRY(test_grow_shrink),
	CHECK_ENTRY(test_dirty_span),
	CHECK_ENTRY(test_touched),
	CHECK_ENTRY(test_swapped),
	CHECK_ENTRY(test_huge),
	CHECK_ENTRY(test_spare),
	CHECK_ENTRY(test_collapse),
	CHECK_ENTRY(test_left),
	CHECK_ENTRY(test_dirty_share),
};

int main(int argc, char **argv) {
	os_boot();
	sz_boot();
	conf_reset();
	opt_dirty_decay_ms = -1;
	opt_dirty_max = (size_t)1 << 40;
	if (base_boot() != 0)
		return 1;
	return check_main(checks, sizeof(checks) / sizeof(checks[0]), argc,
	    argv);
}
