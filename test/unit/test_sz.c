/*
 * test_sz: size classes and page-size classes. Checks round trips, order,
 * and that every size maps to the smallest class that holds it.
 */
#include "test.h"
#include "sz.h"

static void test_classes(void) {
	test_begin("sz: class table shape");
	CHECK(sz_index2size(0) == QUANTUM);
	CHECK(sz_index2size(SZ_NSMALL - 1) == SZ_SMALL_MAX);
	CHECK(sz_index2size(SZ_NCLASSES - 1) == SZ_LARGE_MAX);
	unsigned bad_order = 0, bad_quantum = 0, bad_density = 0;
	for (unsigned i = 1; i < SZ_NCLASSES; i++) {
		size_t a = sz_index2size(i - 1), b = sz_index2size(i);
		bad_order += b <= a;
		bad_quantum += b % QUANTUM != 0;
		/* four classes per doubling: a step never exceeds a quarter
		 * of the class below the doubling (or the quantum) */
		bad_density += b - a > MAX(QUANTUM, a / 4);
	}
	CHECKF(bad_order == 0, "%u classes out of order", bad_order);
	CHECKF(bad_quantum == 0, "%u classes not quantum multiples", bad_quantum);
	CHECKF(bad_density == 0, "%u steps wider than a quarter", bad_density);
	test_end();
}

static void test_round_trips(void) {
	test_begin("sz: index2size / size2index round trips");
	unsigned bad = 0;
	for (unsigned i = 0; i < SZ_NCLASSES; i++) {
		bad += sz_size2index(sz_index2size(i)) != i;
		bad += sz_size2index_compute(sz_index2size(i)) != i;
	}
	CHECKF(bad == 0, "%u classes do not round trip", bad);
	test_end();
}

static void test_every_size(void) {
	test_begin("sz: every size 1..SZ_LARGE_MAX maps to the smallest class >= it");
	unsigned bad_fit = 0, bad_min = 0, bad_mono = 0, bad_table = 0;
	unsigned prev = 0;
	for (size_t s = 1; s <= SZ_LARGE_MAX; s++) {
		unsigned i = sz_size2index(s);
		bad_fit += i >= SZ_NCLASSES || sz_index2size(i) < s;
		bad_min += i > 0 && sz_index2size(i - 1) >= s;
		bad_mono += i < prev;
		bad_table += i != sz_size2index_compute(s);
		prev = i;
	}
	CHECKF(bad_fit == 0, "%u sizes in a class too small", bad_fit);
	CHECKF(bad_min == 0, "%u sizes not in the smallest class", bad_min);
	CHECKF(bad_mono == 0, "%u places where the index decreases", bad_mono);
	CHECKF(bad_table == 0, "%u table/compute disagreements", bad_table);
	CHECK(sz_size2index(0) == 0);
	CHECK(sz_s2u(1) == QUANTUM);
	CHECK(sz_s2u(SZ_LARGE_MAX) == SZ_LARGE_MAX);
	CHECK(sz_s2u(SZ_LARGE_MAX + 1) == SZ_LARGE_MAX + PAGE);
	CHECK(sz_s2u(SIZE_MAX) == 0);
	test_end();
}

static void test_page_classes(void) {
	test_begin("sz: page-size classes");
	unsigned bad = 0, bad_order = 0, bad_min = 0;
	for (unsigned p = 0; p < 120; p++) {
		size_t sz = sz_pind2sz(p);
		bad += sz % PAGE != 0 || sz_psz2ind(sz) != p || sz_psz2u(sz) != sz;
		bad_order += p > 0 && sz <= sz_pind2sz(p - 1);
	}
	for (size_t pages = 1; pages <= 1 << 16; pages++) {
		size_t psz = pages << LG_PAGE;
		unsigned p = sz_psz2ind(psz);
		bad_min += sz_pind2sz(p) < psz || (p > 0 && sz_pind2sz(p - 1) >= psz);
	}
	CHECKF(bad == 0, "%u page classes do not round trip", bad);
	CHECKF(bad_order == 0, "%u page classes out of order", bad_order);
	CHECKF(bad_min == 0, "%u page sizes not in the smallest class", bad_min);
	CHECK(sz_pind2sz(0) == PAGE);
	CHECK(sz_psz2u(HUGEPAGE) == HUGEPAGE);
	test_end();
}

int main(void) {
	sz_boot();
	test_classes();
	test_round_trips();
	test_every_size();
	test_page_classes();
	return test_finish();
}
