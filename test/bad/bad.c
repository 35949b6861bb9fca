/*
 * bad.c: one misuse of the allocator per mode (argv[1]), run by test/bad/run
 * under LD_PRELOAD. Before the bad call it prints "ADDR 0x..." (the pointer it
 * passes) on stdout. By default basemalloc must report the call and abort;
 * with BASEMALLOC_CONF=abort_on_invalid:false it returns, and the program
 * then checks that the memory around the bad pointer (canaries) is unchanged
 * and that the heap still works, printing "CANARY OK" and exiting 0.
 * usable_stack and usable_global are the exception: malloc_usable_size of
 * memory basemalloc has no run in is 0, unreported, with either setting.
 */
#include "check.h"

#include <malloc.h>
#include <sys/mman.h>

#define KiB ((size_t)1024)

static char global_buf[8192];

/* Hide where a pointer comes from, so the compiler neither warns about nor
 * optimises the deliberate misuse. */
static void *launder(void *p)
{
	__asm__ volatile("" : "+r"(p));
	return p;
}

static void say_addr(const void *p)
{
	dprintf(1, "ADDR %p\n", p);
}

static int canary_ok(const void *p, size_t n, uint64_t tag, const char *what)
{
	long bad = check_verify(p, n, tag);
	if (bad >= 0) {
		printf("CANARY BAD: %s changed at offset %ld\n", what, bad);
		return 0;
	}
	return 1;
}

/* After a misuse the heap must still hand out distinct, usable blocks. */
static int heap_still_works(size_t n)
{
	enum { N = 64 };
	unsigned char *ps[N];
	for (int i = 0; i < N; i++) {
		ps[i] = malloc(n);
		if (ps[i] == NULL) {
			printf("CANARY BAD: malloc(%zu) failed after the misuse\n", n);
			return 0;
		}
		check_fill(ps[i], n, 500 + (uint64_t)i);
	}
	for (int i = 0; i < N; i++) {
		if (!canary_ok(ps[i], n, 500 + (uint64_t)i, "a block allocated after the misuse"))
			return 0;
		free(ps[i]);
	}
	return 1;
}

/* Double free of a block of size n between two neighbours. */
static int mode_double_free(size_t n)
{
	unsigned char *a = malloc(n), *p = malloc(n), *b = malloc(n);
	check_fill(a, n, 1);
	check_fill(b, n, 2);
	free(p);
	say_addr(p);
	free(launder(p));
	return canary_ok(a, n, 1, "left neighbour") && canary_ok(b, n, 2, "right neighbour") &&
	    heap_still_works(n) && canary_ok(a, n, 1, "left neighbour") &&
	    canary_ok(b, n, 2, "right neighbour");
}

static int mode_free_stack(void)
{
	unsigned char buf[512];
	check_fill(buf, sizeof(buf), 3);
	say_addr(buf + 128);
	free(launder(buf + 128));
	return canary_ok(buf, sizeof(buf), 3, "stack buffer") && heap_still_works(64);
}

static int mode_free_global(void)
{
	check_fill(global_buf, sizeof(global_buf), 4);
	say_addr(global_buf + 4096);
	free(launder(global_buf + 4096));
	return canary_ok(global_buf, sizeof(global_buf), 4, "global buffer") &&
	    heap_still_works(64);
}

static int mode_free_mmap(void)
{
	size_t n = 64 * KiB;
	unsigned char *m = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return 0;
	check_fill(m, n, 5);
	say_addr(m);
	free(launder(m));
	return canary_ok(m, n, 5, "mmap region") && heap_still_works(64);
}

/* Free of p + off inside a live block of size n; the block stays usable. */
static int mode_free_interior(size_t n, size_t off)
{
	unsigned char *p = malloc(n);
	check_fill(p, n, 6);
	say_addr(p + off);
	free(launder(p + off));
	if (!canary_ok(p, n, 6, "the block"))
		return 0;
	free(p);
	return heap_still_works(n);
}

static int mode_realloc_stack(void)
{
	unsigned char buf[512];
	check_fill(buf, sizeof(buf), 7);
	say_addr(buf + 64);
	void *r = realloc(launder(buf + 64), 100);
	printf("realloc returned %p\n", r);
	return canary_ok(buf, sizeof(buf), 7, "stack buffer") && heap_still_works(100);
}

static int mode_realloc_interior(void)
{
	unsigned char *p = malloc(64);
	check_fill(p, 64, 8);
	say_addr(p + 16);
	void *r = realloc(launder(p + 16), 200);
	printf("realloc returned %p\n", r);
	if (!canary_ok(p, 64, 8, "the block"))
		return 0;
	free(p);
	return heap_still_works(64);
}

static int mode_realloc_freed(void)
{
	size_t n = 100 * KiB;
	unsigned char *a = malloc(n), *p = malloc(n);
	check_fill(a, n, 9);
	free(p);
	say_addr(p);
	void *r = realloc(launder(p), 2 * n);
	printf("realloc returned %p\n", r);
	return canary_ok(a, n, 9, "neighbour") && heap_still_works(n);
}

static int mode_usable_stack(void)
{
	unsigned char buf[512];
	check_fill(buf, sizeof(buf), 10);
	say_addr(buf + 32);
	size_t u = malloc_usable_size(launder(buf + 32));
	printf("malloc_usable_size returned %zu\n", u);
	return canary_ok(buf, sizeof(buf), 10, "stack buffer") && heap_still_works(64);
}

static int mode_usable_global(void)
{
	check_fill(global_buf, sizeof(global_buf), 11);
	say_addr(global_buf + 256);
	size_t u = malloc_usable_size(launder(global_buf + 256));
	printf("malloc_usable_size returned %zu\n", u);
	return canary_ok(global_buf, sizeof(global_buf), 11, "global buffer") &&
	    heap_still_works(64);
}

/* malloc_usable_size of p + 16 inside a live small block. */
static int mode_usable_interior(void)
{
	unsigned char *p = malloc(64);
	check_fill(p, 64, 12);
	say_addr(p + 16);
	size_t u = malloc_usable_size(launder(p + 16));
	printf("malloc_usable_size returned %zu\n", u);
	if (!canary_ok(p, 64, 12, "the block"))
		return 0;
	free(p);
	return heap_still_works(64);
}

/* glibc's tst-tcfree4: a string one byte too long for its 24-byte block
 * puts its NUL past the end (where glibc keeps the next chunk's size), and
 * a 0x118-byte block freed before is freed again. The second free must
 * still be reported as a double free. */
static int mode_double_free_overrun(void)
{
	char *s = malloc(24);
	unsigned char *p = malloc(0x118);
	free(p);
	memset(launder(s), 'B', 24);
	((char *)launder(s))[24] = '\0';
	say_addr(p);
	free(launder(p));
	free(s);
	return heap_still_works(0x118);
}

/* glibc's tst-safe-linking (its malloc_consolidate case): the program
 * writes over the first bytes of freed 32-byte blocks, then asks for a
 * large block and never allocates 32 bytes again. The large request must
 * report the corrupted free list, as glibc's consolidation of its fastbins
 * does. */
static int mode_list_corrupt(void)
{
	unsigned char *keep = malloc(64);
	check_fill(keep, 64, 13);
	void *a = calloc(1, 32), *b = calloc(1, 32), *c = calloc(1, 32);
	free(a);
	free(b);
	free(c);
	memset(launder(c), 0x41, 32);
	say_addr(c);
	void *big = malloc(256 * KiB);
	printf("malloc returned %p\n", big);
	free(big);
	return canary_ok(keep, 64, 13, "neighbour") && heap_still_works(64);
}

int main(int argc, char **argv)
{
	const char *m = argc > 1 ? argv[1] : "";
	int ok;
	setvbuf(stdout, NULL, _IONBF, 0);
	/* Warm up so the allocator is initialised before the misuse. */
	free(malloc(1));
	if (strcmp(m, "double_free_small") == 0)
		ok = mode_double_free(64);
	else if (strcmp(m, "double_free_large") == 0)
		ok = mode_double_free(100 * KiB);
	else if (strcmp(m, "double_free_huge") == 0)
		ok = mode_double_free(4096 * KiB);
	else if (strcmp(m, "free_stack") == 0)
		ok = mode_free_stack();
	else if (strcmp(m, "free_global") == 0)
		ok = mode_free_global();
	else if (strcmp(m, "free_mmap") == 0)
		ok = mode_free_mmap();
	else if (strcmp(m, "free_interior_small") == 0)
		ok = mode_free_interior(64, 16);
	else if (strcmp(m, "free_interior_large") == 0)
		ok = mode_free_interior(100 * KiB, 4096);
	else if (strcmp(m, "realloc_stack") == 0)
		ok = mode_realloc_stack();
	else if (strcmp(m, "realloc_interior") == 0)
		ok = mode_realloc_interior();
	else if (strcmp(m, "realloc_freed") == 0)
		ok = mode_realloc_freed();
	else if (strcmp(m, "usable_stack") == 0)
		ok = mode_usable_stack();
	else if (strcmp(m, "usable_global") == 0)
		ok = mode_usable_global();
	else if (strcmp(m, "usable_interior") == 0)
		ok = mode_usable_interior();
	else if (strcmp(m, "double_free_overrun") == 0)
		ok = mode_double_free_overrun();
	else if (strcmp(m, "list_corrupt") == 0)
		ok = mode_list_corrupt();
	else {
		printf("unknown mode '%s'\n", m);
		return 2;
	}
	if (!ok)
		return 1;
	printf("CANARY OK\n");
	return 0;
}
