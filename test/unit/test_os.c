/*
 * test_os: aligned mappings, zeroed memory, purge_forced reading back zero,
 * commit/decommit, guard pages, and the kernel-call counters.
 */
#include "check.h"
#include "os.h"

#include <sched.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

/* os: boot facts */
static int test_boot(void) {
	CHECK(os_boot() == 0);
	CHECK(os_ncpus() >= 1);
	cpu_set_t set;   /* the raw call counts what libc's wrapper does */
	CHECK(sched_getaffinity(0, sizeof(set), &set) == 0 &&
	    os_ncpus() == (unsigned)CPU_COUNT(&set), "%u cpus", os_ncpus());
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

/* The process's mappings: lines of /proc/self/maps (-1 when unreadable). */
static int maps_lines(void) {
	FILE *f = fopen("/proc/self/maps", "r");
	if (f == NULL)
		return -1;
	int n = 0, c;
	while ((c = getc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

/* Whether touching p (a read, then a write) kills a forked child (with
 * the default action: ASan's handler would make it an exit). */
static bool touch_faults(volatile unsigned char *p) {
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		signal(SIGSEGV, SIG_DFL);
		signal(SIGBUS, SIG_DFL);
		p[0] = (unsigned char)(p[0] + 1);
		_exit(0);
	}
	int st;
	return pid > 0 && waitpid(pid, &st, 0) == pid && WIFSIGNALED(st) &&
	    (WTERMSIG(st) == SIGSEGV || WTERMSIG(st) == SIGBUS);
}

/* Whether the kernel makes guard markers (MADV_GUARD_INSTALL, 102). */
static bool kernel_has_guard_markers(void) {
	void *p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	bool has = p != MAP_FAILED && madvise(p, PAGE, 102) == 0;
	if (p != MAP_FAILED)
		munmap(p, PAGE);
	return has;
}

/* os: a guard page faults, here and in a fork child; with the kernel's
 * guard markers it adds no mapping and survives purge_forced; unguard
 * makes it a zero (or kept) read-write page again */
static int test_guard(void) {
	unsigned char *p = os_map(3 * PAGE);
	CHECK(p != NULL);
	memset(p, 0xab, 3 * PAGE);
	bool markers = kernel_has_guard_markers();
	maps_lines();   /* stdio's own buffer is mapped now */
	int before = maps_lines();
	CHECK(os_guard(p + PAGE, PAGE) == 0);
	int guarded = maps_lines();
	CHECK(!markers || guarded == before,
	    "%d mappings before the guard, %d after", before, guarded);
	CHECK(touch_faults(p + PAGE));
	CHECK(!touch_faults(p) && !touch_faults(p + 2 * PAGE));
	CHECK(os_purge_forced(p, 3 * PAGE) == 0);
	CHECK(touch_faults(p + PAGE), "purge_forced lifted the guard");
	CHECK(os_unguard(p + PAGE, PAGE) == 0);
	CHECK(!touch_faults(p + PAGE));
	CHECK(p[PAGE] == 0);
	p[PAGE] = 1;
	CHECK(maps_lines() == before, "%d mappings after unguard, %d before",
	    maps_lines(), before);
	CHECK(os_unguard(p, 3 * PAGE) == 0);   /* no guard there */
	CHECK(p[PAGE] == 1 && p[0] == 0);
	CHECK(os_unmap(p, 3 * PAGE) == 0);
	if (!markers)
		printf("  # the kernel has no MADV_GUARD_INSTALL: mprotect\n");
	return CHECK_OK;
}

/* os: where the kernel refuses a guard marker (a locked mapping), the
 * guard is made with mprotect, and unguard lifts it */
static int test_guard_locked(void) {
	unsigned char *p = os_map(3 * PAGE);
	CHECK(p != NULL);
	unsigned char *q = os_map(3 * PAGE);
	CHECK(q != NULL);
	CHECK(os_guard(q + PAGE, PAGE) == 0);  /* the first: markers if any */
	/* the system call itself: ASan's mlock does nothing */
	if (syscall(SYS_mlock, p, 3 * PAGE) != 0)
		NOT_APPLICABLE("mlock refused (RLIMIT_MEMLOCK)");
	p[PAGE] = 5;
	CHECK(os_guard(p + PAGE, PAGE) == 0);
	CHECK(touch_faults(p + PAGE));
	CHECK(touch_faults(q + PAGE));
	CHECK(os_unguard(p + PAGE, PAGE) == 0);
	CHECK(os_unguard(q + PAGE, PAGE) == 0);
	CHECK(!touch_faults(p + PAGE) && !touch_faults(q + PAGE));
	CHECK(p[PAGE] == 5, "mprotect keeps the contents: %d", p[PAGE]);
	p[PAGE] = 6;
	q[PAGE] = 6;
	syscall(SYS_munlock, p, 3 * PAGE);
	CHECK(os_unmap(p, 3 * PAGE) == 0 && os_unmap(q, 3 * PAGE) == 0);
	return CHECK_OK;
}

static const struct check_s checks[] = {
	CHECK_ENTRY(test_boot),
	CHECK_ENTRY(test_map_aligned),
	CHECK_ENTRY(test_purge),
	CHECK_ENTRY(test_counters),
	CHECK_ENTRY(test_remap),
	CHECK_ENTRY(test_guard),
	CHECK_ENTRY(test_guard_locked),
};

int main(int argc, char **argv) {
	os_boot();
	return check_main(checks, sizeof(checks) / sizeof(checks[0]), argc,
	    argv);
}
