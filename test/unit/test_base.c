/*
 * test_base: the base allocator with the default hooks (and a recording
 * table that forwards to them): alignment and zeroing, a million random
 * allocations that must never overlap, the block cascade, 1 GiB in few
 * blocks, best-fit reuse of an older block's tail, the stats invariants, odd
 * requests, and base_delete leaving nothing mapped.
 */
#include "base_util.h"

/* base: every power-of-two alignment 1..64 KiB, zeroed memory */
static int test_alignments(void) {
	base_t *b = base_new(1, NULL);
	CHECK(b != NULL);
	CHECK(base_ind_get(b) == 1 && base_hooks_get(b) == &hooks_default);
	CHECK(((uintptr_t)b & (CACHELINE - 1)) == 0);
	CHECK_STATS(b);
	static const size_t sizes[] = { 1, 15, 16, 17, 100, 4096, 5000 };
	for (size_t align = 1; align <= 65536; align <<= 1) {
		for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			unsigned char *p = base_alloc(b, sizes[i], align);
			CHECK(p != NULL && (uintptr_t)p % align == 0 &&
			    (uintptr_t)p % QUANTUM == 0, "size %zu align %zu -> %p",
			    sizes[i], align, (void *)p);
			if (p == NULL)
				continue;
			size_t usize = ALIGN_UP(sizes[i], MAX(align, QUANTUM));
			CHECK(nonzero_bytes(p, usize) == 0,
			    "size %zu align %zu: not zero", sizes[i], align);
			pattern_fill(p, usize);
			CHECK_STATS(b);
		}
	}
	base_delete(b);
	return CHECK_OK;
}

/* A request mix: mostly small and quantum-aligned, some large alignments. */
static void random_request(uint64_t *s, size_t *size, size_t *align) {
	unsigned r = (unsigned)(check_rand(s) % 100);
	size_t cap = r < 80 ? 64 : r < 98 ? 1024 : 8192;
	*size = 1 + (size_t)(check_rand(s) % cap);
	r = (unsigned)(check_rand(s) % 100);
	unsigned lg = r < 85 ? (unsigned)(check_rand(s) % 5) :
	    r < 99 ? 5 + (unsigned)(check_rand(s) % 6) :
	    11 + (unsigned)(check_rand(s) % 6);
	*align = (size_t)1 << lg;
}

/* n random allocations from b into recs, each checked as it arrives
 * (alignment, zeroed) and followed by a stats check; *sum gets the bytes
 * asked. */
static int random_fill(base_t *b, rec_t *recs, size_t n, size_t *sum_out) {
	uint64_t seed = 0x5eed1234abcdULL;
	size_t bad_align = 0, bad_zero = 0, bad_stats = 0, fails = 0, sum = 0;
	char why[256] = "";
	for (size_t i = 0; i < n; i++) {
		size_t size, align;
		random_request(&seed, &size, &align);
		unsigned char *p = base_alloc(b, size, align);
		if (p == NULL) {
			fails++;
			continue;
		}
		bad_align += (uintptr_t)p % align != 0;
		bad_zero += nonzero_bytes(p, size) != 0;
		pattern_fill(p, size);
		recs[i] = (rec_t){ p, size };
		sum += size;
		if (!stats_consistent(b, bad_stats ? NULL : why, sizeof(why)))
			bad_stats++;
	}
	CHECK(fails == 0, "%zu allocations failed", fails);
	CHECK(bad_align == 0, "%zu misaligned", bad_align);
	CHECK(bad_zero == 0, "%zu not zeroed", bad_zero);
	CHECK(bad_stats == 0, "%zu steps broke the stats: %s", bad_stats, why);
	*sum_out = sum;
	return CHECK_OK;
}

/* base: 1,000,000 random (size, alignment) never overlap */
static int test_random(void) {
	enum { N = 1000000 };
	base_t *b = base_new(2, NULL);
	rec_t *recs = calloc(N, sizeof(*recs));
	CHECK(b != NULL && recs != NULL);
	size_t sum = 0;
	CHECK_DO(random_fill(b, recs, N, &sum));
	CHECK_DO(records_verify(recs, N));
	base_stats_t st;
	base_stats_get(b, &st);
	CHECK(st.allocated >= sum);
	printf("  # %zu bytes requested, allocated %zu, resident %zu, "
	    "mapped %zu in %zu blocks\n", sum, st.allocated, st.resident,
	    st.mapped, st.blocks);
	free(recs);
	base_delete(b);
	return CHECK_OK;
}

/* Force a new block: nothing smaller than the newest block's size fits. */
static void *force_block(base_t *b) {
	size_t newest;
	base_block_sizes(b, &newest, 1);
	return base_alloc(b, newest, QUANTUM);
}

/* base: blocks HUGEPAGE-aligned, HUGEPAGE multiples, cascading */
static int test_cascade(void) {
	rec_hooks_t r;
	rec_hooks_init(&r);
	base_t *b = base_new(3, &r.h);
	CHECK(b != NULL && r.n == 1);
	tracker_t t;
	tracker_init(&t, b);
	for (int i = 0; i < 12; i++) {
		void *p = base_alloc(b, HUGEPAGE / 3, 64);
		tracker_note(&t, p);
		CHECK_STATS(b);
	}
	tracker_note(&t, force_block(b));
	size_t sizes[TRACK_MAX];
	size_t n = base_block_sizes(b, sizes, TRACK_MAX);
	CHECK(n == r.n && n == t.n && n >= 3 && t.skipped == 0);
	size_t bad = 0;
	for (size_t i = 0; i < r.n; i++) {
		bad += r.blk[i].addr % HUGEPAGE != 0;
		bad += r.blk[i].size % HUGEPAGE != 0;
		bad += r.blk[i].size != sizes[n - 1 - i];
		bad += r.blk[i].addr != t.blk[i].addr;
		if (i > 0) {
			size_t prev = r.blk[i - 1].size;
			size_t step = HUGEPAGE_CEILING(sz_pind2sz(sz_psz2ind(prev) + 1));
			bad += r.blk[i].size < step;
		}
	}
	CHECK(bad == 0, "%zu block properties wrong", bad);
	CHECK(r.blk[0].size == HUGEPAGE);
	CHECK(r.depth_bad == 0);
	CHECK_STATS(b);
	base_delete(b);
	return CHECK_OK;
}

/* base: 1 GiB of metadata fits in at most 24 blocks */
static int test_one_gib(void) {
	base_t *b = base_new(4, NULL);
	CHECK(b != NULL);
	size_t fails = 0;
	for (size_t done = 0; done < ((size_t)1 << 30); done += 1024)
		fails += base_alloc(b, 1024, QUANTUM) == NULL;
	base_stats_t st;
	base_stats_get(b, &st);
	CHECK(fails == 0);
	CHECK(st.blocks <= 24, "%zu blocks", st.blocks);
	CHECK(st.allocated >= ((size_t)1 << 30));
	size_t sizes[TRACK_MAX];
	size_t n = base_block_sizes(b, sizes, TRACK_MAX), bad = 0;
	for (size_t i = 1; i < n; i++)
		bad += sizes[i - 1] < sizes[i];  /* newest first */
	CHECK(bad == 0, "%zu blocks smaller than an older one", bad);
	CHECK_STATS(b);
	printf("  # 1 GiB in %zu blocks, mapped %zu MiB, newest %zu MiB\n",
	    st.blocks, st.mapped >> 20, sizes[0] >> 20);
	base_delete(b);
	return CHECK_OK;
}

/* base: after a block change, small requests use an older tail */
static int test_older_tail(void) {
	base_t *b = base_new(5, NULL);
	CHECK(b != NULL);
	tracker_t t;
	tracker_init(&t, b);
	const size_t MiB = (size_t)1 << 20;
	/* block 0 (2 MiB): about 1 MiB left */
	void *p = base_alloc(b, MiB, QUANTUM);
	tracker_note(&t, p);
	CHECK(t.n == 1 && tracker_contains(&t, 0, p, MiB));
	/* does not fit block 0's tail: block 1 (4 MiB), 2.75 MiB left */
	p = base_alloc(b, MiB + MiB / 4, QUANTUM);
	tracker_note(&t, p);
	CHECK(t.n == 2 && tracker_contains(&t, 1, p, MiB + MiB / 4));
	/* best fit: block 0's smaller tail */
	p = base_alloc(b, 64, QUANTUM);
	tracker_note(&t, p);
	CHECK(t.n == 2 && tracker_contains(&t, 0, p, 64),
	    "small request at %p not in block 0", p);
	/* only block 1's tail fits; 0.75 MiB stay there */
	p = base_alloc(b, 2 * MiB, QUANTUM);
	tracker_note(&t, p);
	CHECK(t.n == 2 && tracker_contains(&t, 1, p, 2 * MiB));
	/* now block 1's tail is the smaller one that fits */
	p = base_alloc(b, MiB / 2, 4096);
	tracker_note(&t, p);
	CHECK(t.n == 2 && tracker_contains(&t, 1, p, MiB / 2));
	/* block 1 has 0.25 MiB left: this one only fits block 0 */
	p = base_alloc(b, MiB / 2, QUANTUM);
	tracker_note(&t, p);
	CHECK(t.n == 2 && tracker_contains(&t, 0, p, MiB / 2));
	CHECK_STATS(b);
	size_t bad = 0;
	for (size_t i = 0; i < t.n; i++)
		bad += maps_covered(t.blk[i].addr, t.blk[i].addr + t.blk[i].size) !=
		    t.blk[i].size;
	CHECK(bad == 0, "%zu tracked blocks not mapped", bad);
	base_delete(b);
	return CHECK_OK;
}

/* base: best fit among tails of one size class */
static int test_same_class(void) {
	base_t *b = base_new(9, NULL);
	CHECK(b != NULL);
	const size_t KiB = 1024, MiB = KiB * KiB;
	tracker_t t;
	tracker_init(&t, b);
	/* tail 0: just under 1100 KiB */
	tracker_note(&t, base_alloc(b, 2 * MiB - 1100 * KiB, QUANTUM));
	/* block 1 (4 MiB), then its tail cut to just under 1150 KiB */
	tracker_note(&t, base_alloc(b, 1500 * KiB, QUANTUM));
	void *p = base_alloc(b, 4 * MiB - 1500 * KiB - 1150 * KiB, QUANTUM);
	tracker_note(&t, p);
	CHECK(t.n == 2 && tracker_contains(&t, 1, p, 1));
	/* Both tails hold 64 bytes; the smaller one (block 0) must win. */
	p = base_alloc(b, 64, QUANTUM);
	tracker_note(&t, p);
	CHECK(t.n == 2 && tracker_contains(&t, 0, p, 64), "64 B at %p", p);
	/* Only the larger one holds 1120 KiB. */
	p = base_alloc(b, 1120 * KiB, QUANTUM);
	tracker_note(&t, p);
	CHECK(t.n == 2 && tracker_contains(&t, 1, p, 1));
	CHECK_STATS(b);
	base_delete(b);
	return CHECK_OK;
}

/* base: odd requests (0 bytes, huge, bad alignment, > HUGEPAGE) */
static int test_odd_requests(void) {
	base_t *b = base_new(6, NULL);
	CHECK(b != NULL);
	void *a = base_alloc(b, 0, 0), *c = base_alloc(b, 0, 1);
	CHECK(a != NULL && c != NULL && a != c);
	CHECK(base_alloc(b, SIZE_MAX, QUANTUM) == NULL);
	CHECK(base_alloc(b, SIZE_MAX - HUGEPAGE, 64) == NULL);
	CHECK(base_alloc(b, 64, 48) == NULL);
	CHECK(base_alloc(b, 64, SIZE_MAX) == NULL);
	CHECK_STATS(b);
	for (size_t align = 2 * HUGEPAGE; align <= 4 * HUGEPAGE; align *= 2) {
		unsigned char *p = base_alloc(b, 100, align);
		CHECK(p != NULL && (uintptr_t)p % align == 0, "align %zu -> %p",
		    align, (void *)p);
		CHECK(p != NULL && nonzero_bytes(p, 100) == 0);
	}
	CHECK_STATS(b);
	base_delete(b);
	return CHECK_OK;
}

/* base: base_total_mapped sums live bases; b0 */
static int test_totals(void) {
	size_t before = base_total_mapped();
	base_t *x = base_new(7, NULL), *y = base_new(8, NULL);
	CHECK(x != NULL && y != NULL);
	force_block(y);
	base_stats_t sx, sy;
	base_stats_get(x, &sx);
	base_stats_get(y, &sy);
	CHECK(base_total_mapped() == before + sx.mapped + sy.mapped);
	base_delete(x);
	CHECK(base_total_mapped() == before + sy.mapped);
	base_delete(y);
	CHECK(base_total_mapped() == before);
	CHECK(base_b0() == NULL);
	CHECK(base_boot() == 0 && base_b0() != NULL);
	base_t *b0 = base_b0();
	CHECK(base_boot() == 0 && base_b0() == b0);
	CHECK(base_ind_get(b0) == 0 && base_hooks_get(b0) == &hooks_default);
	CHECK(base_alloc(b0, 100, 64) != NULL);
	CHECK_STATS(b0);
	return CHECK_OK;
}

/* base: base_delete leaves no block in /proc/self/maps */
static int test_delete(void) {
	tracker_t t[3];
	for (int k = 0; k < 3; k++) {
		base_t *b = base_new(10 + (unsigned)k, NULL);
		tracker_init(&t[k], b);
		CHECK(b != NULL);
		for (int i = 0; b != NULL && i < 2 + k; i++)
			tracker_note(&t[k], force_block(b));
	}
	size_t bad = 0;
	for (int k = 0; k < 3; k++) {
		CHECK(t[k].n == (size_t)(3 + k) && t[k].skipped == 0);
		for (size_t i = 0; i < t[k].n; i++)
			bad += maps_covered(t[k].blk[i].addr, t[k].blk[i].addr +
			    t[k].blk[i].size) != t[k].blk[i].size;
	}
	CHECK(bad == 0, "%zu blocks not mapped before delete", bad);
	bad = 0;
	for (int k = 0; k < 3; k++) {
		if (t[k].base != NULL)
			base_delete(t[k].base);
		for (size_t i = 0; i < t[k].n; i++)
			bad += maps_covered(t[k].blk[i].addr, t[k].blk[i].addr +
			    t[k].blk[i].size) != 0;
	}
	CHECK(bad == 0, "%zu blocks still mapped after delete", bad);
	return CHECK_OK;
}

static const struct check_s checks[] = {
	CHECK_ENTRY(test_alignments),
	CHECK_ENTRY(test_random),
	CHECK_ENTRY(test_cascade),
	CHECK_ENTRY(test_one_gib),
	CHECK_ENTRY(test_older_tail),
	CHECK_ENTRY(test_same_class),
	CHECK_ENTRY(test_odd_requests),
	CHECK_ENTRY(test_totals),
	CHECK_ENTRY(test_delete),
};

int main(int argc, char **argv) {
	boot_modules();
	return check_main(checks, sizeof(checks) / sizeof(checks[0]), argc,
	    argv);
}
