/*
 * test_arena: an arena used the way alloc uses it, from the test's threads.
 * Small blocks come from the bins (the fast path is slab_alloc on the
 * current slab, the slow path arena_malloc_small_slow) and the figures the
 * owner reads are exact; the figures another thread reads are what the
 * owner published when the class's slabs last changed (the same slabs;
 * refills and live no more than one slab's worth behind); a pooled arena reads exactly under its token
 * and is adopted again; frees from another thread are queued and counted
 * once collected; large and huge runs are counted, a freed huge mapping
 * kept as the spare.
 */
#include "check.h"
#include "arena.h"
#include "base.h"
#include "conf.h"
#include "os.h"
#include "rtree.h"
#include "secret.h"
#include "slab.h"
#include "sz.h"

#include <pthread.h>

#define KiB ((size_t)1024)
#define MiB (KiB * KiB)
#define NOBJ 5000

static void *objs[NOBJ];

/* A block of class ind from a, as alloc's fast and slow paths take it. */
static void *small(arena_t *a, unsigned ind) {
	void *p = slab_alloc(arena_cur(a, ind));
	return p != NULL ? p : arena_malloc_small_slow(a, ind);
}

/* The owner's free of p (arena_free_local_slow's contract: after a local
 * free that emptied a slab that is not current, or a full slab's). */
static size_t gate_frees, gate_wrong;

static void free_own(arena_t *a, void *p) {
	slab_t *s = rtree_lookup(p);
	slab_free_local(s, p);
	/* single-threaded: a full slab had all its blocks out */
	bool need = (s->state == SLAB_PARTIAL && slab_used(s) == 0) ||
	    (s->state == SLAB_FULL && s->nblocks - slab_used(s) ==
	    slab_full_frees(s, s->nblocks));
	gate_frees++;
	gate_wrong += need != (s->gate == 0);  /* what arena_free_local tests */
	if (need)
		arena_free_local_slow(a, s);
}

static int fill(arena_t *a, unsigned ind, size_t n) {
	for (size_t i = 0; i < n; i++) {
		objs[i] = small(a, ind);
		CHECK(objs[i] != NULL);
		memset(objs[i], 0x5c, sz_index2size(ind));
	}
	return CHECK_OK;
}

/* arena: the owner's figures are exact */
static int test_owner_exact(void) {
	unsigned ind = sz_size2index(48);
	arena_t *a = arena_acquire();
	arena_stats_t st;
	CHECK(a != NULL && arena_index(a) == 0 && arena_count() == 1);
	CHECK_DO(fill(a, ind, NOBJ));
	arena_stats_get(a, true, &st);
	const arena_bin_stats_t *b = &st.bins[ind];
	size_t nblocks = arena_bin_slab_size(ind) / 48;
	CHECK(st.exact && b->live == NOBJ, "live %lu after %d mallocs",
	    (unsigned long)b->live, NOBJ);
	CHECK(b->capacity == b->slabs * nblocks && b->slabs * nblocks >= NOBJ);
	CHECK(b->slabs <= NOBJ / nblocks + 2 && b->refills >= b->slabs);
	CHECK(st.pages.slab == b->slabs * arena_bin_slab_size(ind));
	for (size_t i = 0; i < NOBJ; i++)
		free_own(a, objs[i]);
	arena_stats_get(a, true, &st);
	CHECK(st.bins[ind].live == 0 && st.bins[ind].slabs <= 2,
	    "live %lu, %lu slabs after freeing all",
	    (unsigned long)st.bins[ind].live, (unsigned long)st.bins[ind].slabs);
	return CHECK_OK;
}

/* arena: other readers get the figures published when the slabs changed */
static int test_published(void) {
	unsigned ind = sz_size2index(160);
	arena_t *a = arena_acquire();
	arena_stats_t own, pub;
	CHECK(a != NULL);
	size_t nblocks = arena_bin_slab_size(ind) / 160;
	for (size_t n = 1; n < NOBJ; n = n * 3 + 1) {
		CHECK_DO(fill(a, ind, n));
		arena_stats_get(a, true, &own);
		arena_stats_get(a, false, &pub);
		const arena_bin_stats_t *o = &own.bins[ind], *p = &pub.bins[ind];
		CHECK(!pub.exact, "read the owner's bins while it holds the token");
		CHECK(p->slabs == o->slabs && p->refills <= o->refills &&
		    p->capacity == o->capacity, "slabs %lu/%lu refills %lu/%lu",
		    (unsigned long)p->slabs, (unsigned long)o->slabs,
		    (unsigned long)p->refills, (unsigned long)o->refills);
		CHECK(o->refills - p->refills < nblocks, "refills %lu behind",
		    (unsigned long)(o->refills - p->refills));
		CHECK(p->live <= o->live && o->live - p->live < nblocks,
		    "published live %lu, exact %lu (slab of %zu)",
		    (unsigned long)p->live, (unsigned long)o->live, nblocks);
		for (size_t i = 0; i < n; i++)
			free_own(a, objs[i]);
		arena_stats_get(a, false, &pub);
		arena_stats_get(a, true, &own);
		CHECK(pub.bins[ind].slabs == own.bins[ind].slabs);
	}
	return CHECK_OK;
}

/* arena: a pooled arena reads exactly and is adopted again */
static int test_pool(void) {
	unsigned ind = sz_size2index(64);
	arena_t *a = arena_acquire();
	arena_stats_t st;
	CHECK(a != NULL && arena_adopted(a) == 0);
	CHECK_DO(fill(a, ind, 1000));
	arena_release(a);
	CHECK(arena_count_abandoned() == 1);
	arena_stats_get(a, false, &st);
	CHECK(st.exact && st.bins[ind].live == 1000, "pooled: exact %d live %lu",
	    st.exact, (unsigned long)st.bins[ind].live);
	arena_t *b = arena_acquire();
	CHECK(b == a && arena_count() == 1 && arena_count_abandoned() == 0);
	CHECK(arena_adopted(a) == 1);
	arena_stats_get(a, false, &st);
	CHECK(st.adopted == 1 && !st.exact);
	return CHECK_OK;
}

static void *free_remote_all(void *arg) {
	(void)arg;
	for (size_t i = 0; i < NOBJ; i++)
		arena_free_remote(rtree_lookup(objs[i]), objs[i]);
	return NULL;
}

/* arena: frees from another thread are counted once the owner collects */
static int test_remote(void) {
	unsigned ind = sz_size2index(64);
	arena_t *a = arena_acquire();
	arena_stats_t st;
	pthread_t t;
	CHECK(a != NULL);
	CHECK_DO(fill(a, ind, NOBJ));
	CHECK(pthread_create(&t, NULL, free_remote_all, NULL) == 0);
	pthread_join(t, NULL);
	arena_stats_get(a, true, &st);
	CHECK(st.remote_frees == 0 && st.bins[ind].live == NOBJ,
	    "counted before the owner collected");
	CHECK_DO(fill(a, ind, NOBJ));
	arena_stats_get(a, true, &st);
	CHECK(st.remote_frees > 0 && st.remote_frees <= NOBJ,
	    "remote frees %lu", (unsigned long)st.remote_frees);
	CHECK(st.bins[ind].live <= 2 * NOBJ - st.remote_frees);
	return CHECK_OK;
}

/* arena: large and huge runs are counted */
static int test_large_huge(void) {
	arena_t *a = arena_acquire();
	arena_stats_t st;
	bool zeroed;
	CHECK(a != NULL);
	void *l = arena_malloc_large(a, sz_s2u(100 * KiB), PAGE, &zeroed);
	bool hzeroed;
	void *h = arena_malloc_huge(a, 40 * MiB, PAGE, &hzeroed);
	CHECK(l != NULL && h != NULL && hzeroed);
	arena_stats_get(a, true, &st);
	CHECK(st.pages.n_large == 1 && st.large_nmalloc == 1);
	CHECK(st.pages.active == sz_s2u(100 * KiB));
	CHECK(st.pages.n_huge == 1 && st.pages.huge == 40 * MiB);
	arena_free_run(rtree_lookup(l));
	arena_free_run(rtree_lookup(h));
	arena_stats_get(a, true, &st);
	CHECK(st.pages.n_large == 0 && st.large_nmalloc == 1);
	CHECK(st.pages.n_huge == 0 && st.pages.huge == 0 && st.pages.active == 0);
	CHECK(st.pages.spare == 40 * MiB, "the freed huge mapping is not the "
	    "spare (%zu bytes)", st.pages.spare);
	return CHECK_OK;
}

/* arena: a slab's gate reaches 0 on exactly the owner's frees that need
 * the arena (the last of a partial slab, the slab_full_frees-th of a full
 * one): fill
 * several slabs, free every other block (full slabs become partial), then
 * the rest (partial slabs empty) */
static int test_gate(void) {
	unsigned ind = sz_size2index(96);
	arena_t *a = arena_acquire();
	CHECK(a != NULL);
	CHECK_DO(fill(a, ind, NOBJ));
	for (size_t i = 0; i < NOBJ; i += 2)
		free_own(a, objs[i]);
	for (size_t i = 1; i < NOBJ; i += 2)
		free_own(a, objs[i]);
	CHECK(gate_frees == NOBJ, "%zu frees", gate_frees);
	CHECK(gate_wrong == 0, "%zu of %zu frees", gate_wrong, gate_frees);
	return CHECK_OK;
}

/* The current-slab slots: every request granule up to SZ_LOOKUP_MAX lies
 * in the slots of its own class, each class above has one slot of its own
 * after the granules, and no two classes share a slot. */
static int test_cur_slots(void) {
	unsigned bad_gran = 0, bad_big = 0, bad_overlap = 0;
	for (size_t g = 1; g < ARENA_NGRAN; g++) {
		unsigned ind = sz_size2index(g << LG_QUANTUM);
		bad_gran += g < arena_cur_first[ind] ||
		    g >= (size_t)arena_cur_first[ind] + arena_cur_count[ind];
	}
	static unsigned char owner[ARENA_NCUR];
	for (unsigned ind = 0; ind < SZ_NSMALL; ind++) {
		if (sz_index2size(ind) > SZ_LOOKUP_MAX)
			bad_big += arena_cur_count[ind] != 1 ||
			    arena_cur_first[ind] < ARENA_NGRAN ||
			    arena_cur_first[ind] >= ARENA_NCUR;
		for (unsigned i = 0; i < arena_cur_count[ind]; i++) {
			unsigned slot = arena_cur_first[ind] + i;
			if (slot >= ARENA_NCUR)
				continue;
			bad_overlap += owner[slot] != 0;
			owner[slot] = (unsigned char)(ind + 1);
		}
	}
	CHECK(bad_gran == 0, "%u granules outside their class's slots", bad_gran);
	CHECK(bad_big == 0, "%u classes above the table without a slot", bad_big);
	CHECK(bad_overlap == 0, "%u slots shared by two classes", bad_overlap);
	/* and a block of every class comes from, and is, that class */
	arena_t *a = arena_acquire();
	CHECK(a != NULL);
	unsigned bad_class = 0;
	for (unsigned ind = 0; ind < SZ_NSMALL; ind++) {
		void *p = small(a, ind);
		CHECK(p != NULL, "class %u", ind);
		slab_t *s = rtree_lookup(p);
		bad_class += s->ext.szind != ind ||
		    s->block_size != sz_index2size(ind);
		free_own(a, p);
	}
	CHECK(bad_class == 0, "%u classes served from another class's slab",
	    bad_class);
	arena_release(a);
	return CHECK_OK;
}

static const struct check_s checks[] = {
	CHECK_ENTRY(test_owner_exact),
	CHECK_ENTRY(test_published),
	CHECK_ENTRY(test_pool),
	CHECK_ENTRY(test_remote),
	CHECK_ENTRY(test_large_huge),
	CHECK_ENTRY(test_gate),
	CHECK_ENTRY(test_cur_slots),
};

int main(int argc, char **argv) {
	os_boot();
	sz_boot();
	conf_reset();
	secret_boot();
	if (base_boot() != 0 || arena_boot() != 0)
		return 1;
	return check_main(checks, sizeof(checks) / sizeof(checks[0]), argc,
	    argv);
}
