/*
 * test_sz: size classes and page-size classes. Checks round trips, order,
 * and that every size maps to the smallest class that holds it.
 */
#include "check.h"
#include "sz.h"

/* sz: class table shape */
static int test_classes(void) {
	CHECK(sz_index2size(0) == QUANTUM);
	CHECK(sz_index2size(SZ_NSMALL - 1) == SZ_SMALL_MAX);
	CHECK(sz_index2size(SZ_NCLASSES - 1) == SZ_LARGE_MAX);
	unsigned bad_order = 0, bad_quantum = 0, bad_density = 0;
	for (unsigned i = 1; i < SZ_NCLASSES; i++) {
		size_t a = sz_index2size(i - 1), b = sz_index2size(i);
		bad_order += b <= a;
		bad_quantum += b % QUANTUM != 0;
		/* four classes per doubling (eight from 4 to 16 KiB): a step
		 * never exceeds a quarter of the class below the doubling
		 * (or the quantum) */
		bad_density += b - a > MAX(QUANTUM, a / 4);
	}
	CHECK(bad_order == 0, "%u classes out of order", bad_order);
	CHECK(bad_quantum == 0, "%u classes not quantum multiples", bad_quantum);
	CHECK(bad_density == 0, "%u steps wider than a quarter", bad_density);
	return CHECK_OK;
}

/* sz: index2size / size2index round trips */
static int test_round_trips(void) {
	unsigned bad = 0;
	for (unsigned i = 0; i < SZ_NCLASSES; i++) {
		bad += sz_size2index(sz_index2size(i)) != i;
		bad += sz_size2index_compute(sz_index2size(i)) != i;
	}
	CHECK(bad == 0, "%u classes do not round trip", bad);
	return CHECK_OK;
}

/* sz: every size 1..SZ_LARGE_MAX maps to the smallest class >= it */
static int test_every_size(void) {
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
	CHECK(bad_fit == 0, "%u sizes in a class too small", bad_fit);
	CHECK(bad_min == 0, "%u sizes not in the smallest class", bad_min);
	CHECK(bad_mono == 0, "%u places where the index decreases", bad_mono);
	CHECK(bad_table == 0, "%u table/compute disagreements", bad_table);
	CHECK(sz_size2index(0) == 0);
	CHECK(sz_s2u(1) == QUANTUM);
	CHECK(sz_s2u(SZ_LARGE_MAX) == SZ_LARGE_MAX);
	CHECK(sz_s2u(SZ_LARGE_MAX + 1) == SZ_LARGE_MAX + PAGE);
	CHECK(sz_s2u(SIZE_MAX) == 0);
	return CHECK_OK;
}

/* sz: page-size classes */
static int test_page_classes(void) {
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
	CHECK(bad == 0, "%u page classes do not round trip", bad);
	CHECK(bad_order == 0, "%u page classes out of order", bad_order);
	CHECK(bad_min == 0, "%u page sizes not in the smallest class", bad_min);
	CHECK(sz_pind2sz(0) == PAGE);
	CHECK(sz_psz2u(HUGEPAGE) == HUGEPAGE);
	return CHECK_OK;
}

static const struct check_s checks[] = {
	CHECK_ENTRY(test_classes),
	CHECK_ENTRY(test_round_trips),
	CHECK_ENTRY(test_every_size),
	CHECK_ENTRY(test_page_classes),
};

int main(int argc, char **argv) {
	sz_boot();
	return check_main(checks, sizeof(checks) / sizeof(checks[0]), argc,
	    argv);
}
