/*
 * test_stackwalk: the profiler's lowest pieces, linked directly: os's raw file
 * calls and /proc/self/maps lookup, the three stack walkers (frame pointers,
 * libgcc's unwinder, and unwind's tables walker, checked against libgcc's
 * frame for frame) and symbol lookup.
 * The test program is "basemalloc's own code" here (stackwalk_boot finds the
 * mapping that holds unwind.c, i.e. this binary), so its frames are left
 * out and the first recorded frame is libc's caller of main.
 */
#include "check.h"
#include "maps.h"
#include "os.h"
#include "symbol.h"
#include "stackwalk.h"

#include <errno.h>
#include <unistd.h>

static char self_path[256];

static bool in_module(uintptr_t addr, const char *part) {
	maps_entry_t m;
	return maps_find(addr, &m) == 0 && m.executable &&
	    strstr(m.path, part) != NULL;
}

/* os: raw file calls; maps: the mapping of an address */
static int test_files(void) {
	maps_entry_t m;
	CHECK(maps_find((uintptr_t)&test_files, &m) == 0);
	CHECK(m.executable && m.readable && strcmp(m.path, self_path) == 0,
	    "%s vs %s", m.path, self_path);
	int local = 0;
	CHECK(maps_find((uintptr_t)&local, &m) == 0 && m.readable &&
	    !m.executable);
	CHECK(maps_find(4096, &m) == ENOENT);
	int fd;
	CHECK(os_open_read("/nonexistent/x", &fd) == ENOENT);
	char path[] = "/tmp/bm-test-unwind-XXXXXX";
	int tmp = mkstemp(path);
	CHECK(tmp >= 0);
	close(tmp);
	CHECK(os_open_trunc(path, &fd) == 0);
	CHECK(os_write(fd, "hello, file", 11) == 0);
	os_close(fd);
	char buf[32] = "";
	CHECK(os_open_read(path, &fd) == 0);
	CHECK(os_read(fd, buf, sizeof(buf)) == 11 && memcmp(buf,
	    "hello, file", 11) == 0);
	CHECK(os_read(fd, buf, sizeof(buf)) == 0);
	os_close(fd);
	size_t size = 0;
	const char *img = os_file_map(path, &size);
	CHECK(img != NULL && size == 11 && img[0] == 'h');
	if (img != NULL)
		os_file_unmap((void *)img, size);
	unlink(path);
	return CHECK_OK;
}

__attribute__((noinline)) static size_t walk3(uintptr_t *f, size_t max) {
	size_t n = stackwalk_get(f, max);
	__asm__ volatile("" ::: "memory");
	return n;
}
__attribute__((noinline)) static size_t walk2(uintptr_t *f, size_t max) {
	size_t n = walk3(f, max);
	__asm__ volatile("" ::: "memory");
	return n;
}
__attribute__((noinline)) static size_t walk1(uintptr_t *f, size_t max) {
	size_t n = walk2(f, max);
	__asm__ volatile("" ::: "memory");
	return n;
}

/* Every frame is a return address in an executable mapping. */
static bool frames_executable(const uintptr_t *f, size_t n) {
	for (size_t i = 0; i < n; i++)
		if (!in_module(f[i] - 1, ""))
			return false;
	return true;
}

/* A stack like a program's without frame pointers: f[] gets the walk
 * made 8 + depth frames down, each frame holding a different amount. */
__attribute__((noinline)) static size_t walk_deep(uintptr_t *f, size_t max,
    unsigned depth) {
	volatile char pad[40 * (depth % 5) + 8];
	pad[0] = (char)depth;
	size_t n = depth == 0 ? walk1(f, max) : walk_deep(f, max, depth - 1);
	__asm__ volatile("" ::: "memory");
	return n + (size_t)(pad[0] - (char)depth);
}

/* stackwalk: frame pointers, the tables walker, libgcc's DWARF unwinder */
static int test_walkers(void) {
	uintptr_t f[STACKWALK_DEPTH_MAX], g[STACKWALK_DEPTH_MAX];
	CHECK(stackwalk_boot() == 0);
	CHECK(stackwalk_mode() == STACKWALK_TABLES, "unwind works here");
	CHECK(stackwalk_use(STACKWALK_FP) == 0 && !stackwalk_dwarf());
	size_t n = walk1(f, STACKWALK_DEPTH_MAX);
	CHECK(n <= STACKWALK_DEPTH_MAX && frames_executable(f, n), "%zu", n);
#ifdef __SANITIZE_ADDRESS__
	/* Built with frame pointers: the chain reaches main's caller. */
	CHECK(n >= 1 && in_module(f[0] - 1, "libc.so"), "%zu frames", n);
#endif
	CHECK(walk1(f, 0) == 0);
	CHECK(stackwalk_load_dwarf() == 0 && stackwalk_mode() ==
	    STACKWALK_LIBGCC);
	n = walk1(f, STACKWALK_DEPTH_MAX);
	CHECK(n >= 2 && n < STACKWALK_DEPTH_MAX && frames_executable(f, n) &&
	    in_module(f[0] - 1, "libc.so"), "%zu frames", n);
	CHECK(walk1(f, 1) == 1);
	/* The tables walker finds what libgcc finds, frame for frame, twice
	 * (the second time from its rule cache), and cuts at max. This
	 * binary's frames are "basemalloc's" (left out), so what is compared
	 * is libc's and _start's, reached through 8 + depth frames of it. */
	for (unsigned depth = 0; depth < 20; depth += 7) {
		CHECK(stackwalk_use(STACKWALK_LIBGCC) == 0);
		n = walk_deep(f, STACKWALK_DEPTH_MAX, depth);
		for (int pass = 0; pass < 2; pass++) {
			CHECK(stackwalk_use(STACKWALK_TABLES) == 0);
			size_t m = walk_deep(g, STACKWALK_DEPTH_MAX, depth);
			CHECK(m == n && memcmp(f, g, n * sizeof(f[0])) == 0,
			    "depth %u: %zu frames, libgcc %zu", depth, m, n);
		}
		CHECK(n >= 2 && in_module(f[0] - 1, "libc.so"), "%zu", n);
	}
	CHECK(walk_deep(g, 3, 9) == 3);
	return CHECK_OK;
}

__attribute__((noinline)) int test_symbol_target(int x);
__attribute__((noinline)) int test_symbol_target(int x) {
	return x * 3 + 1;
}

/* symbol: this binary's functions, libc's, anonymous memory */
static int test_symbols(void) {
	symbol_t s;
	CHECK(test_symbol_target(1) == 4);
	CHECK(symbol_lookup((uintptr_t)&test_symbol_target + 2, &s) == 0);
	CHECK(strcmp(s.name, "test_symbol_target") == 0 && s.name_off == 2 &&
	    strcmp(s.module, self_path) == 0, "%s+%lu in %s", s.name,
	    (unsigned long)s.name_off, s.module);
	CHECK(symbol_lookup((uintptr_t)&getpid, &s) == 0);
	CHECK(strstr(s.name, "getpid") != NULL && s.name_off == 0 &&
	    strstr(s.module, "libc.so") != NULL, "%s in %s", s.name, s.module);
	void *anon = os_map(PAGE);
	CHECK(anon != NULL && symbol_lookup((uintptr_t)anon, &s) == 0 &&
	    s.module[0] == '\0' && s.name[0] == '\0');
	os_unmap(anon, PAGE);
	CHECK(symbol_lookup(4096, &s) == ENOENT && s.module[0] == '\0');
	return CHECK_OK;
}

static const struct check_s checks[] = {
	CHECK_ENTRY(test_files),
	CHECK_ENTRY(test_walkers),
	CHECK_ENTRY(test_symbols),
};

int main(int argc, char **argv) {
	ssize_t n = readlink("/proc/self/exe", self_path, sizeof(self_path) - 1);
	self_path[n > 0 ? n : 0] = '\0';
	return check_main(checks, sizeof(checks) / sizeof(checks[0]), argc,
	    argv);
}
