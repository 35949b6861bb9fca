/*
 * test_extent: an arena's page runs on their own (a pages_t over a base).
 * Runs come aligned, registered in the rtree as their kind says (a slab on
 * every page, a large run on its first) and counted; freed neighbours
 * coalesce back into one run that serves a request of their joint size;
 * freed bytes are dirty until a forced purge, which counts them as purged;
 * a large run grows into a free neighbour and shrinks in place; huge
 * mappings are counted, resized and their process-wide peaks kept; the
 * free runs of a chunk go back to the kernel with pages_unmap_free.
 * Purging by time is held back (dirty_decay_ms -1, a large dirty_max) so
 * that the dirty figures are the test's to read.
 */
#include "check.h"
#include "base.h"
#include "conf.h"
#include "extent.h"
#include "os.h"
#include "rtree.h"
#include "sz.h"

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
	extent_t *x = huge_alloc(&p, 40 * MiB, PAGE);
	extent_t *y = huge_alloc(&p, 50 * MiB, 4 * MiB);
	CHECK(x != NULL && y != NULL && y->addr % (4 * MiB) == 0);
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
	CHECK(h1.count == h0.count && h1.bytes == h0.bytes);
	CHECK(h1.count_peak >= 2 && h1.bytes_peak >= 130 * MiB,
	    "peaks %lu / %lu fell after the frees",
	    (unsigned long)h1.count_peak, (unsigned long)h1.bytes_peak);
	return CHECK_OK;
}

static const struct check_s checks[] = {
	CHECK_ENTRY(test_alloc),
	CHECK_ENTRY(test_coalesce_purge),
	CHECK_ENTRY(test_grow_shrink),
	CHECK_ENTRY(test_huge),
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
