/*
 * hostile.c: pointers basemalloc never handed out, beyond test/bad's set.
 * argv[1] is CALL_TARGET: CALL is free, realloc or usable
 * (malloc_usable_size); TARGET is where the pointer comes from:
 *   literal   a string literal (read-only data: any write faults)
 *   libc      libc's own static data (the stdout FILE object)
 *   errno     the thread's errno (libc's TLS)
 *   glibc     a block from glibc's malloc (dlopen'ed libc.so.6)
 *   mimalloc  a block from mimalloc (dlopen'ed, if installed)
 *   mmap      the middle of an mmap'ed region
 *   high      a non-canonical address (0xffff800000001000)
 *   low       an unmapped low address (0x10000)
 *   freerun   the first page of a large block already freed
 *   hugemid   a page inside a live huge block
 * It prints "ADDR 0x..." then makes the call. test/reliability/run expects
 * an abort after a report naming the call and the address; with
 * BASEMALLOC_CONF=abort_on_invalid:false the call must return (free:
 * nothing; realloc: NULL; usable: 0) without writing anything: the memory
 * around the pointer is compared with a snapshot, and "CANARY OK" printed.
 * usable on memory where basemalloc has no run (every target but freerun)
 * must return 0 without a report, whatever abort_on_invalid says.
 */
#include "rel.h"

#include <sys/mman.h>

static unsigned char snap[16384];  /* >= every target's len */

static void *launder(void *p)
{
	__asm__ volatile("" : "+r"(p));
	return p;
}

struct target_s {
	void *p;          /* the hostile pointer */
	unsigned char *lo; /* the range compared before / after (may be NULL) */
	size_t len;
};

static int target_glibc(struct target_s *t, const char *lib, const char *fn)
{
	void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
	void *(*other_malloc)(size_t) = h != NULL ?
	    (void *(*)(size_t))dlsym(h, fn) : NULL;
	if (other_malloc == NULL)
		return 77;
	unsigned char *b = other_malloc(1000);
	if (b == NULL)
		return 1;
	memset(b, 0x6b, 1000);
	t->p = b;
	t->lo = b - 16;  /* its allocator's header too */
	t->len = 1016 + 16;
	return 0;
}

static int target_make(const char *name, struct target_s *t)
{
	static const char literal[] = "a string literal in read-only data";
	memset(t, 0, sizeof(*t));
	if (strcmp(name, "literal") == 0) {
		t->p = (void *)literal;
		t->lo = (unsigned char *)literal;
		t->len = sizeof(literal);
	} else if (strcmp(name, "libc") == 0) {
		t->p = stdout;
		t->lo = (unsigned char *)stdout;
		t->len = sizeof(FILE);
	} else if (strcmp(name, "errno") == 0) {
		errno = 0x5eed;
		t->p = &errno;
		t->lo = (unsigned char *)&errno - 64;
		t->len = 128;
	} else if (strcmp(name, "glibc") == 0) {
		return target_glibc(t, "libc.so.6", "malloc");
	} else if (strcmp(name, "mimalloc") == 0) {
		return target_glibc(t, "libmimalloc.so.2", "mi_malloc");
	} else if (strcmp(name, "mmap") == 0) {
		unsigned char *m = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (m == MAP_FAILED)
			return 1;
		check_fill(m, 3 * 4096, 31);
		t->p = m + 4096 + 16;
		t->lo = m;
		t->len = 3 * 4096;
	} else if (strcmp(name, "high") == 0) {
		t->p = (void *)(uintptr_t)0xffff800000001000ULL;
	} else if (strcmp(name, "low") == 0) {
		t->p = (void *)(uintptr_t)0x10000;
	} else if (strcmp(name, "freerun") == 0) {
		unsigned char *keep = malloc(100000), *b = malloc(100000);
		if (keep == NULL || b == NULL)
			return 1;
		check_fill(keep, 100000, 32);
		free(b);
		t->p = b;  /* its pages may be purged: compare the neighbour */
		t->lo = keep;
		t->len = 8192;
	} else if (strcmp(name, "hugemid") == 0) {
		unsigned char *b = malloc(40 << 20);
		if (b == NULL)
			return 1;
		check_fill(b, 3 * 4096, 33);
		t->p = b + 4096;
		t->lo = b;
		t->len = 3 * 4096;
	} else {
		return 2;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct target_s t;
	char call[16];
	const char *us = argc > 1 ? strchr(argv[1], '_') : NULL;
	if (us == NULL || (size_t)(us - argv[1]) >= sizeof(call)) {
		fprintf(stderr, "usage: hostile CALL_TARGET\n");
		return 2;
	}
	memcpy(call, argv[1], (size_t)(us - argv[1]));
	call[us - argv[1]] = '\0';
	int r = target_make(us + 1, &t);
	if (r == 77) {
		printf("N/A %s: its allocator is not installed\n", us + 1);
		return 77;
	}
	if (r != 0)
		return r;
	if (t.lo != NULL)
		memcpy(snap, t.lo, t.len);
	dprintf(1, "ADDR %p\n", t.p);
	int saved_errno = errno;
	if (strcmp(call, "free") == 0) {
		free(launder(t.p));
	} else if (strcmp(call, "realloc") == 0) {
		void *q = realloc(launder(t.p), 64);
		if (q != NULL) {
			printf("CANARY BAD: realloc returned %p\n", q);
			return 1;
		}
	} else if (strcmp(call, "usable") == 0) {
		size_t n = malloc_usable_size(launder(t.p));
		if (n != 0) {
			printf("CANARY BAD: malloc_usable_size returned %zu\n", n);
			return 1;
		}
	} else {
		return 2;
	}
	if (strcmp(us + 1, "errno") == 0)
		errno = saved_errno;  /* realloc may set errno; compare the rest */
	if (t.lo != NULL && memcmp(snap, t.lo, t.len) != 0) {
		size_t i = 0;
		while (snap[i] == t.lo[i])
			i++;
		printf("CANARY BAD: byte %zu of the %zu around the pointer changed\n",
		    i, t.len);
		return 1;
	}
	void *p[64];
	for (int i = 0; i < 64; i++) {
		p[i] = malloc((size_t)i * 100 + 1);
		if (p[i] == NULL)
			return 1;
		rel_fill(p[i], (size_t)i * 100 + 1, (uint64_t)i);
	}
	for (int i = 0; i < 64; i++) {
		if (rel_verify(p[i], (size_t)i * 100 + 1, (uint64_t)i))
			return 1;
		free(p[i]);
	}
	printf("CANARY OK\n");
	return 0;
}
