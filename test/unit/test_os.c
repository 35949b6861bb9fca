/*
 * test_os: aligned mappings, zeroed memory, purge_forced reading back zero,
 * commit/decommit, and the kernel-call counters.
 */
#include "check.h"
#include "os.h"

/* os: boot facts */
static int test_boot(void) {
	CHECK(os_boot() == 0);
	CHECK(os_ncpus() >= 1);
	CHECK(os_thp_mode() <= OS_THP_UNKNOWN);
	CHECK(strcmp(os_thp_mode_name(OS_THP_MADVISE), "madvise") == 0);
	uint64_t a = os_now_ns(), b = os_now_ns();
	CHECK(b >= a);
	return CHECK_OK;
}

/* os: map_aligned honours alignments PAGE..64 MiB */
static int test_map_aligned(void) {
	for (size_t align = PAGE; align <= ((size_t)64 << 20); align <<= 1) {
		size_t sizes[] = { PAGE, 3 * PAGE, align, align + PAGE };
		for (unsigned i = 0; i < 4; i++) {
			unsigned char *p = os_map_aligned(sizes[i], align);
			CHECK(p != NULL && (uintptr_t)p % align == 0,
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
	return CHECK_OK;
}

/* os: purge_forced zeroes, commit/decommit keep the range */
static int test_purge(void) {
	size_t size = 64 * PAGE;
	unsigned char *p = os_map(size);
	CHECK(p != NULL);
	memset(p, 0xab, size);
	CHECK(os_purge_forced(p + PAGE, 8 * PAGE) == 0);
	size_t nonzero = 0;
	for (size_t i = PAGE; i < 9 * PAGE; i++)
		nonzero += p[i] != 0;
	CHECK(nonzero == 0, "%zu bytes not zero after purge_forced", nonzero);
	CHECK(p[0] == 0xab && p[9 * PAGE] == 0xab);
	CHECK(os_purge_lazy(p + 16 * PAGE, 4 * PAGE) == 0);
	CHECK(os_decommit(p + 32 * PAGE, 4 * PAGE) == 0);
	CHECK(os_commit(p + 32 * PAGE, 4 * PAGE) == 0);
	p[32 * PAGE] = 7;
	CHECK(p[32 * PAGE] == 7);
	CHECK(os_huge(p, size) == 0 || os_thp_mode() == OS_THP_UNKNOWN);
	CHECK(os_nohuge(p, size) == 0 || os_thp_mode() == OS_THP_UNKNOWN);
	CHECK(os_unmap(p, size) == 0);
	return CHECK_OK;
}

/* os: counters count kernel calls */
static int test_counters(void) {
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
	return CHECK_OK;
}

/* os: remap grows and keeps contents */
static int test_remap(void) {
	unsigned char *p = os_map(2 * PAGE);
	CHECK(p != NULL);
	if (p != NULL) {
		p[PAGE + 5] = 99;
		unsigned char *q = os_remap(p, 2 * PAGE, 16 * PAGE);
		CHECK(q != NULL && q[PAGE + 5] == 99 && q[15 * PAGE] == 0);
		os_unmap(q != NULL ? q : p, q != NULL ? 16 * PAGE : 2 * PAGE);
	}
	return CHECK_OK;
}

static const struct check_s checks[] = {
	CHECK_ENTRY(test_boot),
	CHECK_ENTRY(test_map_aligned),
	CHECK_ENTRY(test_purge),
	CHECK_ENTRY(test_counters),
	CHECK_ENTRY(test_remap),
};

int main(int argc, char **argv) {
	os_boot();
	return check_main(checks, sizeof(checks) / sizeof(checks[0]), argc,
	    argv);
}
