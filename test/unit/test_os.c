/*
 * test_os: aligned mappings, zeroed memory, purge_forced reading back zero,
 * commit/decommit, and the kernel-call counters.
 */
#include "test.h"
#include "os.h"

static void test_boot(void) {
	test_begin("os: boot facts");
	CHECK(os_boot() == 0);
	CHECK(os_ncpus() >= 1);
	CHECK(os_thp_mode() <= OS_THP_UNKNOWN);
	CHECK(strcmp(os_thp_mode_name(OS_THP_MADVISE), "madvise") == 0);
	uint64_t a = os_now_ns(), b = os_now_ns();
	CHECK(b >= a);
	test_end();
}

static void test_map_aligned(void) {
	test_begin("os: map_aligned honours alignments PAGE..64 MiB");
	for (size_t align = PAGE; align <= ((size_t)64 << 20); align <<= 1) {
		size_t sizes[] = { PAGE, 3 * PAGE, align, align + PAGE };
		for (unsigned i = 0; i < 4; i++) {
			unsigned char *p = os_map_aligned(sizes[i], align);
			CHECKF(p != NULL && (uintptr_t)p % align == 0,
			    "size %zu align %zu -> %p", sizes[i], align,
			    (void *)p);
			if (p == NULL)
				continue;
			CHECK(p[0] == 0 && p[sizes[i] - 1] == 0);
			p[0] = 1;
			p[sizes[i] - 1] = 1;
			CHECK(os_unmap(p, sizes[i]) == 0);
		}
	}
	test_end();
}

static void test_purge(void) {
	test_begin("os: purge_forced zeroes, commit/decommit keep the range");
	size_t size = 64 * PAGE;
	unsigned char *p = os_map(size);
	REQUIRE(p != NULL);
	memset(p, 0xab, size);
	CHECK(os_purge_forced(p + PAGE, 8 * PAGE) == 0);
	size_t nonzero = 0;
	for (size_t i = PAGE; i < 9 * PAGE; i++)
		nonzero += p[i] != 0;
	CHECKF(nonzero == 0, "%zu bytes not zero after purge_forced", nonzero);
	CHECK(p[0] == 0xab && p[9 * PAGE] == 0xab);
	CHECK(os_purge_lazy(p + 16 * PAGE, 4 * PAGE) == 0);
	CHECK(os_decommit(p + 32 * PAGE, 4 * PAGE) == 0);
	CHECK(os_commit(p + 32 * PAGE, 4 * PAGE) == 0);
	p[32 * PAGE] = 7;
	CHECK(p[32 * PAGE] == 7);
	CHECK(os_huge(p, size) == 0 || os_thp_mode() == OS_THP_UNKNOWN);
	CHECK(os_nohuge(p, size) == 0 || os_thp_mode() == OS_THP_UNKNOWN);
	CHECK(os_unmap(p, size) == 0);
	test_end();
}

static void test_counters(void) {
	test_begin("os: counters count kernel calls");
	os_stats_t a, b;
	os_stats_get(&a);
	void *p = os_map(4 * PAGE);
	CHECK(p != NULL);
	os_purge_forced(p, PAGE);
	os_unmap(p, 4 * PAGE);
	os_stats_get(&b);
	CHECK(b.n_mmap == a.n_mmap + 1);
	CHECK(b.n_munmap == a.n_munmap + 1);
	CHECK(b.n_madvise == a.n_madvise + 1);
	CHECK(b.bytes_mapped - a.bytes_mapped == 4 * PAGE);
	test_end();
}

static void test_remap(void) {
	test_begin("os: remap grows and keeps contents");
	unsigned char *p = os_map(2 * PAGE);
	CHECK(p != NULL);
	if (p != NULL) {
		p[PAGE + 5] = 99;
		unsigned char *q = os_remap(p, 2 * PAGE, 16 * PAGE);
		CHECK(q != NULL && q[PAGE + 5] == 99 && q[15 * PAGE] == 0);
		os_unmap(q != NULL ? q : p, q != NULL ? 16 * PAGE : 2 * PAGE);
	}
	test_end();
}

int main(void) {
	test_boot();
	test_map_aligned();
	test_purge();
	test_counters();
	test_remap();
	return test_finish();
}
