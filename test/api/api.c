/*
 * api.c: the public malloc semantics (issue 3), one check each, run under
 * LD_PRELOAD by test/api/run: alignment, zero sizes, NULL and zero-size
 * arguments, overflow and oversize requests (NULL + ENOMEM), the alignment
 * functions and their EINVAL cases, usable sizes, zeroed calloc memory,
 * realloc contents across size classes, free_sized, the __libc_* aliases,
 * malloc_trim. Threaded checks live in api_threads.c.
 */
#include "check.h"

#include <malloc.h>
#include <stdint.h>

#define KiB ((size_t)1024)
#define MiB ((size_t)1024 * 1024)

/* Sizes through volatile so that the compiler neither warns about nor folds
 * the impossible requests. */
static volatile size_t v_ptrdiff_max_plus1 = (size_t)PTRDIFF_MAX + 1;
static volatile size_t v_size_max = SIZE_MAX;
static volatile size_t v_two_pow_33 = (size_t)1 << 33;

static const size_t oversizes[] = {
	(size_t)PTRDIFF_MAX + 1, SIZE_MAX, SIZE_MAX - 15, SIZE_MAX - 4096,
	SIZE_MAX - MiB, (size_t)PTRDIFF_MAX + MiB,
};
#define N_OVERSIZES (sizeof(oversizes) / sizeof(oversizes[0]))

/* Sizes spanning small, large and huge classes for realloc/usable checks. */
static const size_t span_sizes[] = {
	1, 8, 15, 16, 17, 24, 48, 100, 255, 512, 1000, 2048, 4000, 4096, 5000,
	16 * KiB, 60 * KiB, 100 * KiB, 256 * KiB, 1 * MiB, 2 * MiB - 1,
	4 * MiB, 9 * MiB,
};
#define N_SPAN (sizeof(span_sizes) / sizeof(span_sizes[0]))

static size_t page_size(void)
{
	return (size_t)sysconf(_SC_PAGESIZE);
}

/* Under the preload, every libc allocation name resolves to the library. */
static int preload_active(void)
{
	static const char *names[] = {
		"malloc", "free", "calloc", "realloc", "reallocarray",
		"posix_memalign", "aligned_alloc", "memalign", "valloc",
		"pvalloc", "malloc_usable_size", "malloc_trim",
		"__libc_malloc", "__libc_free", "__libc_calloc",
		"__libc_realloc", "__libc_memalign", "__libc_valloc",
		"__libc_pvalloc", "free_sized", "free_aligned_sized",
	};
	if (!check_expect_preload())
		NOT_APPLICABLE("running under glibc (BM_LIB empty)");
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const char *owner = check_symbol_owner(names[i]);
		CHECK(strstr(owner, "libbasemalloc") != NULL,
		    "%s resolves to '%s'", names[i], owner);
	}
	return CHECK_OK;
}

static int align_16(void)
{
	void *ps[4096];
	size_t n = 0;
	for (size_t sz = 0; sz <= 5000; sz++, n++) {
		ps[n % 4096] = malloc(sz);
		CHECK(ps[n % 4096] != NULL, "malloc(%zu)", sz);
		CHECK(((uintptr_t)ps[n % 4096] & 15) == 0, "malloc(%zu) = %p", sz, ps[n % 4096]);
		if (sz % 3 == 0)
			free(ps[n % 4096]);
	}
	for (size_t i = 0; i < N_SPAN; i++) {
		void *p = malloc(span_sizes[i]);
		void *c = calloc(1, span_sizes[i]);
		void *r = realloc(NULL, span_sizes[i] + 1);
		CHECK(p && c && r, "size %zu", span_sizes[i]);
		CHECK(((uintptr_t)p & 15) == 0, "malloc(%zu) = %p", span_sizes[i], p);
		CHECK(((uintptr_t)c & 15) == 0, "calloc(%zu) = %p", span_sizes[i], c);
		CHECK(((uintptr_t)r & 15) == 0, "realloc(%zu) = %p", span_sizes[i], r);
		free(p);
		free(c);
		free(r);
	}
	return CHECK_OK;
}

static int cmp_ptr(const void *a, const void *b)
{
	uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
	return x < y ? -1 : x > y;
}

static int malloc_zero_unique(void)
{
	enum { N = 2000 };
	static void *ps[N];
	for (int i = 0; i < N; i++) {
		ps[i] = malloc(0);
		CHECK(ps[i] != NULL, "malloc(0) #%d", i);
	}
	qsort(ps, N, sizeof(ps[0]), cmp_ptr);
	for (int i = 1; i < N; i++)
		CHECK(ps[i] != ps[i - 1], "malloc(0) returned %p twice", ps[i]);
	for (int i = 0; i < N; i++)
		free(ps[i]);
	return CHECK_OK;
}

static int free_null(void)
{
	errno = 1234;
	for (int i = 0; i < 1000; i++)
		free(NULL);
	CHECK(errno == 1234, "errno changed to %d", errno);
	void *p = malloc(32);
	CHECK(p != NULL);
	free(p);
	return CHECK_OK;
}

static int realloc_null_is_malloc(void)
{
	for (size_t i = 0; i < N_SPAN; i++) {
		size_t n = span_sizes[i];
		unsigned char *p = realloc(NULL, n);
		CHECK(p != NULL, "realloc(NULL, %zu)", n);
		CHECK(malloc_usable_size(p) >= n, "usable %zu < %zu", malloc_usable_size(p), n);
		memset(p, 0x77, n);
		free(p);
	}
	void *z = realloc(NULL, 0);
	CHECK(z != NULL, "realloc(NULL, 0) must allocate like malloc(0)");
	free(z);
	return CHECK_OK;
}

/* realloc(p, 0) returns NULL and frees p: a loop that would leak hundreds of
 * MiB if it did not must leave RSS nearly where it was. */
static int realloc_zero_frees(void)
{
	static const size_t sizes[] = { 2000, 100 * KiB, 4 * MiB };
	static const int rounds[] = { 200000, 4000, 100 };
	for (int s = 0; s < 3; s++) {
		long before = check_rss_kib();
		for (int i = 0; i < rounds[s]; i++) {
			char *p = malloc(sizes[s]);
			CHECK(p != NULL);
			memset(p, 1, sizes[s]);
			void *q = realloc(p, 0);
			CHECK(q == NULL, "realloc(p, 0) of %zu bytes returned %p", sizes[s], q);
		}
		long after = check_rss_kib();
		CHECK(after - before < 64 * 1024,
		    "size %zu: RSS grew from %ld to %ld KiB", sizes[s], before, after);
	}
	return CHECK_OK;
}

static int calloc_overflow(void)
{
	static const size_t pairs[][2] = {
		{ SIZE_MAX / 2 + 1, 2 }, { 2, SIZE_MAX / 2 + 1 },
		{ (size_t)1 << 32, (size_t)1 << 32 }, { SIZE_MAX, SIZE_MAX },
		{ SIZE_MAX / 16 + 1, 16 }, { 3, SIZE_MAX / 3 + 1 },
	};
	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		errno = 0;
		void *p = calloc(pairs[i][0], pairs[i][1]);
		CHECK(p == NULL && errno == ENOMEM, "calloc(%#zx, %#zx) = %p errno %d",
		    pairs[i][0], pairs[i][1], p, errno);
	}
	return CHECK_OK;
}

static int reallocarray_overflow(void)
{
	errno = 0;
	void *p = reallocarray(NULL, v_size_max / 2 + 1, 2);
	CHECK(p == NULL && errno == ENOMEM, "reallocarray(NULL) = %p errno %d", p, errno);
	unsigned char *q = malloc(64);
	CHECK(q != NULL);
	check_fill(q, 64, 11);
	errno = 0;
	p = reallocarray(q, v_two_pow_33, v_two_pow_33);
	CHECK(p == NULL && errno == ENOMEM, "reallocarray(q) = %p errno %d", p, errno);
	CHECK(check_verify(q, 64, 11) < 0, "old block changed");
	p = reallocarray(q, 100, 10);
	CHECK(p != NULL, "reallocarray(q, 100, 10)");
	CHECK(check_verify(p, 64, 11) < 0, "contents lost");
	free(p);
	return CHECK_OK;
}

static int oversize_malloc_calloc_realloc(void)
{
	for (size_t i = 0; i < N_OVERSIZES; i++) {
		size_t n = oversizes[i];
		errno = 0;
		void *p = malloc(n);
		CHECK(p == NULL && errno == ENOMEM, "malloc(%#zx) = %p errno %d", n, p, errno);
		errno = 0;
		p = calloc(1, n);
		CHECK(p == NULL && errno == ENOMEM, "calloc(1, %#zx) = %p errno %d", n, p, errno);
		errno = 0;
		p = realloc(NULL, n);
		CHECK(p == NULL && errno == ENOMEM, "realloc(NULL, %#zx) = %p errno %d", n, p, errno);
	}
	return CHECK_OK;
}

static int oversize_aligned(void)
{
	for (size_t i = 0; i < N_OVERSIZES; i++) {
		size_t n = oversizes[i];
		for (size_t a = 16; a <= MiB; a <<= 4) {
			errno = 0;
			void *p = aligned_alloc(a, n);
			CHECK(p == NULL && errno == ENOMEM, "aligned_alloc(%zu, %#zx) = %p errno %d",
			    a, n, p, errno);
			errno = 0;
			p = memalign(a, n);
			CHECK(p == NULL && errno == ENOMEM, "memalign(%zu, %#zx) = %p errno %d",
			    a, n, p, errno);
			void *m = (void *)0x1234;
			int rc = posix_memalign(&m, a, n);
			CHECK(rc == ENOMEM, "posix_memalign(%zu, %#zx) returned %d", a, n, rc);
			CHECK(m == (void *)0x1234, "*memptr changed to %p", m);
		}
		errno = 0;
		void *v = valloc(n);
		CHECK(v == NULL && errno == ENOMEM, "valloc(%#zx) = %p errno %d", n, v, errno);
	}
	return CHECK_OK;
}

static int realloc_fail_keeps_block(void)
{
	static const size_t sizes[] = { 100, 100 * KiB, 4 * MiB };
	for (int i = 0; i < 3; i++) {
		size_t n = sizes[i];
		unsigned char *p = malloc(n);
		CHECK(p != NULL);
		check_fill(p, n, 100 + i);
		errno = 0;
		void *q = realloc(p, v_ptrdiff_max_plus1);
		CHECK(q == NULL && errno == ENOMEM, "realloc(%zu -> huge) = %p errno %d", n, q, errno);
		errno = 0;
		q = realloc(p, v_size_max);
		CHECK(q == NULL && errno == ENOMEM, "realloc(%zu -> SIZE_MAX) = %p errno %d", n, q, errno);
		CHECK(check_verify(p, n, 100 + i) < 0, "block of %zu changed", n);
		q = realloc(p, n * 2);
		CHECK(q != NULL && check_verify(q, n, 100 + i) < 0, "grow after failure");
		free(q);
	}
	return CHECK_OK;
}

static int posix_memalign_einval(void)
{
	static const size_t bad[] = {
		0, 1, 2, 4, 3, 12, 24, 40, 48, 96, 1000, 4095, 4097, MiB + 8,
		(size_t)PTRDIFF_MAX, SIZE_MAX,
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		void *m = (void *)0x5678;
		int rc = posix_memalign(&m, bad[i], 64);
		CHECK(rc == EINVAL, "posix_memalign(alignment %zu) returned %d", bad[i], rc);
		CHECK(m == (void *)0x5678, "alignment %zu: *memptr changed to %p", bad[i], m);
	}
	return CHECK_OK;
}

static const size_t align_sizes[] = { 1, 24, 1000, 100 * KiB, 4 * MiB };
#define N_ALIGN_SIZES (sizeof(align_sizes) / sizeof(align_sizes[0]))

static int check_aligned_block(const char *fn, void *p, size_t a, size_t n)
{
	CHECK(p != NULL, "%s(%zu, %zu) failed", fn, a, n);
	CHECK(((uintptr_t)p & (a - 1)) == 0, "%s(%zu, %zu) = %p", fn, a, n, p);
	CHECK(((uintptr_t)p & 15) == 0, "%s(%zu, %zu) = %p not 16-aligned", fn, a, n, p);
	CHECK(malloc_usable_size(p) >= n, "%s: usable %zu < %zu", fn, malloc_usable_size(p), n);
	memset(p, 0x3c, n);
	return CHECK_OK;
}

static int posix_memalign_valid(void)
{
	for (size_t a = sizeof(void *); a <= MiB; a <<= 1)
		for (size_t i = 0; i < N_ALIGN_SIZES; i++) {
			void *p = NULL;
			int rc = posix_memalign(&p, a, align_sizes[i]);
			CHECK(rc == 0, "posix_memalign(%zu, %zu) returned %d", a, align_sizes[i], rc);
			if (check_aligned_block("posix_memalign", p, a, align_sizes[i]) != CHECK_OK)
				return CHECK_FAILED;
			free(p);
		}
	return CHECK_OK;
}

static int memalign_all_alignments(void)
{
	for (size_t a = 1; a <= MiB; a <<= 1)
		for (size_t i = 0; i < N_ALIGN_SIZES; i++) {
			void *p = memalign(a, align_sizes[i]);
			void *q = memalign(a, align_sizes[i]);
			if (check_aligned_block("memalign", p, a, align_sizes[i]) != CHECK_OK ||
			    check_aligned_block("memalign", q, a, align_sizes[i]) != CHECK_OK)
				return CHECK_FAILED;
			CHECK(p != q);
			free(p);
			free(q);
		}
	return CHECK_OK;
}

static int aligned_alloc_all_alignments(void)
{
	for (size_t a = 1; a <= MiB; a <<= 1)
		for (size_t i = 0; i < N_ALIGN_SIZES; i++) {
			void *p = aligned_alloc(a, align_sizes[i]);
			if (check_aligned_block("aligned_alloc", p, a, align_sizes[i]) != CHECK_OK)
				return CHECK_FAILED;
			free(p);
		}
	return CHECK_OK;
}

/* C17 (DR 460) and glibc >= 2.38: an alignment that is not a power of two
 * fails with EINVAL. glibc 2.36, the system one here, rounds it up instead
 * (its aligned_alloc is memalign), so under glibc this is not applicable. */
static int aligned_alloc_bad_alignment(void)
{
	static const size_t bad[] = { 0, 3, 24, 48, 100, 4095, MiB + 1, SIZE_MAX };
	if (!check_expect_preload())
		NOT_APPLICABLE("glibc 2.36 rounds a non-power-of-two alignment up");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errno = 0;
		void *p = aligned_alloc(bad[i], 96);
		CHECK(p == NULL && errno == EINVAL, "aligned_alloc(%zu, 96) = %p errno %d",
		    bad[i], p, errno);
	}
	return CHECK_OK;
}

/* memalign (glibc): a non-power-of-two alignment is rounded up to the next
 * power of two. */
static int memalign_rounds_alignment(void)
{
	static const size_t bad[] = { 3, 24, 48, 100, 3000, 5000 };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t a = 1;
		while (a < bad[i])
			a <<= 1;
		void *p = memalign(bad[i], 200);
		if (check_aligned_block("memalign", p, a, 200) != CHECK_OK)
			return CHECK_FAILED;
		free(p);
	}
	return CHECK_OK;
}

static int valloc_page_aligned(void)
{
	size_t pg = page_size();
	for (size_t i = 0; i < N_SPAN; i++) {
		void *p = valloc(span_sizes[i]);
		if (check_aligned_block("valloc", p, pg, span_sizes[i]) != CHECK_OK)
			return CHECK_FAILED;
		free(p);
	}
	return CHECK_OK;
}

static int pvalloc_rounds_to_page(void)
{
	size_t pg = page_size();
	static const size_t sizes[] = { 1, 100, 4095, 4096, 4097, 10000, 100 * KiB + 1, 4 * MiB - 1 };
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t rounded = (sizes[i] + pg - 1) & ~(pg - 1);
		void *p = pvalloc(sizes[i]);
		if (check_aligned_block("pvalloc", p, pg, rounded) != CHECK_OK)
			return CHECK_FAILED;
		free(p);
	}
	return CHECK_OK;
}

static int pvalloc_overflow(void)
{
	static const size_t sizes[] = { SIZE_MAX, SIZE_MAX - 1, SIZE_MAX - 4095, (size_t)PTRDIFF_MAX + 1 };
	for (size_t i = 0; i < 4; i++) {
		errno = 0;
		void *p = pvalloc(sizes[i]);
		CHECK(p == NULL && errno == ENOMEM, "pvalloc(%#zx) = %p errno %d", sizes[i], p, errno);
	}
	return CHECK_OK;
}

/* Fill every block over its whole usable size, then check no block's bytes
 * were overwritten by another's: usable size is really usable. */
static int usable_size_writable(void)
{
	enum { N = 3000 };
	static unsigned char *ps[N];
	static size_t us[N];
	uint64_t rng = check_seed();
	for (int i = 0; i < N; i++) {
		size_t n = (i % 50 == 0) ? 1 + check_rand(&rng) % (300 * KiB) :
		    check_rand(&rng) % 3000;
		if (i < (int)N_SPAN)
			n = span_sizes[i];
		ps[i] = malloc(n);
		CHECK(ps[i] != NULL, "malloc(%zu)", n);
		us[i] = malloc_usable_size(ps[i]);
		CHECK(us[i] >= n, "malloc_usable_size = %zu < %zu", us[i], n);
		check_fill(ps[i], us[i], (uint64_t)i);
	}
	for (int i = 0; i < N; i++) {
		long bad = check_verify(ps[i], us[i], (uint64_t)i);
		CHECK(bad < 0, "block %d (%p, usable %zu) overwritten at offset %ld",
		    i, (void *)ps[i], us[i], bad);
		free(ps[i]);
	}
	return CHECK_OK;
}

static int usable_size_null(void)
{
	CHECK(malloc_usable_size(NULL) == 0);
	return CHECK_OK;
}

static int calloc_zero_sizes(const size_t *sizes, size_t n)
{
	void *keep[64];
	for (size_t i = 0; i < n; i++) {
		unsigned char *p = calloc(1, sizes[i]);
		CHECK(p != NULL, "calloc(1, %zu)", sizes[i]);
		long bad = check_all_bytes(p, sizes[i], 0);
		CHECK(bad < 0, "calloc(1, %zu): byte %ld not zero", sizes[i], bad);
		keep[i % 64] = p;
		p = calloc(sizes[i] / 8 + 1, 8);
		CHECK(p != NULL, "calloc(%zu, 8)", sizes[i] / 8 + 1);
		bad = check_all_bytes(p, (sizes[i] / 8 + 1) * 8, 0);
		CHECK(bad < 0, "calloc(%zu, 8): byte %ld not zero", sizes[i] / 8 + 1, bad);
		free(p);
		if (i % 64 == 63)
			for (int k = 0; k < 64; k++)
				free(keep[k]);
	}
	for (size_t k = 0; k < n % 64; k++)
		free(keep[k]);
	return CHECK_OK;
}

static int calloc_zero_small(void)
{
	size_t sizes[512];
	for (size_t i = 0; i < 512; i++)
		sizes[i] = 1 + i * 7;
	return calloc_zero_sizes(sizes, 512);
}

static int calloc_zero_large(void)
{
	static const size_t sizes[] = { 5000, 16 * KiB, 60 * KiB, 100 * KiB, 256 * KiB, 1 * MiB };
	return calloc_zero_sizes(sizes, sizeof(sizes) / sizeof(sizes[0]));
}

static int calloc_zero_huge(void)
{
	static const size_t sizes[] = { 2 * MiB, 4 * MiB, 4 * MiB + 1, 16 * MiB, 64 * MiB };
	return calloc_zero_sizes(sizes, sizeof(sizes) / sizeof(sizes[0]));
}

/* The memory calloc returns after it was dirtied and freed is zero again. */
static int calloc_zero_after_dirty(void)
{
	static const size_t sizes[] = {
		16, 24, 100, 1000, 3000, 16 * KiB, 100 * KiB, 1 * MiB, 4 * MiB, 32 * MiB,
	};
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		for (size_t round = 0; round < 2 + 64 * MiB / sizes[i] && round < 30; round++) {
			size_t n = sizes[i];
			unsigned char *p = malloc(n);
			CHECK(p != NULL);
			memset(p, 0xff, malloc_usable_size(p));
			free(p);
			unsigned char *q = calloc(n, 1);
			CHECK(q != NULL);
			long bad = check_all_bytes(q, n, 0);
			CHECK(bad < 0, "size %zu round %zu: byte %ld is %#x (reused %s)", n, round,
			    bad, q[bad], p == q ? "same block" : "other block");
			memset(q, 0xff, n);
			free(q);
		}
	return CHECK_OK;
}

static int realloc_transitions(void)
{
	for (size_t i = 0; i < N_SPAN; i++)
		for (size_t j = 0; j < N_SPAN; j++) {
			size_t a = span_sizes[i], b = span_sizes[j];
			uint64_t tag = i * 100 + j;
			unsigned char *p = malloc(a);
			CHECK(p != NULL);
			check_fill(p, a, tag);
			unsigned char *q = realloc(p, b);
			CHECK(q != NULL, "realloc(%zu -> %zu)", a, b);
			long bad = check_verify(q, a < b ? a : b, tag);
			CHECK(bad < 0, "realloc(%zu -> %zu): byte %ld lost", a, b, bad);
			CHECK(malloc_usable_size(q) >= b);
			memset(q, 0x11, b);
			free(q);
		}
	/* A chain of small steps through all the classes and back. */
	size_t n = 1;
	unsigned char *p = malloc(n);
	CHECK(p != NULL);
	check_fill(p, n, 7);
	while (n < 6 * MiB) {
		size_t m = n + n / 3 + 1;
		p = realloc(p, m);
		CHECK(p != NULL, "realloc(%zu -> %zu)", n, m);
		CHECK(check_verify(p, n, 7) < 0, "growing %zu -> %zu", n, m);
		check_fill(p, m, 7);
		n = m;
	}
	while (n > 1) {
		size_t m = n / 3 + (n < 3);
		p = realloc(p, m);
		CHECK(p != NULL, "realloc(%zu -> %zu)", n, m);
		CHECK(check_verify(p, m, 7) < 0, "shrinking %zu -> %zu", n, m);
		n = m;
	}
	free(p);
	return CHECK_OK;
}

typedef void (*free_sized_fn)(void *, size_t);
typedef void (*free_aligned_sized_fn)(void *, size_t, size_t);

/* free_sized really frees: a loop that would leak hundreds of MiB does not
 * grow RSS. */
static int free_sized_works(void)
{
	free_sized_fn fs = (free_sized_fn)dlsym(RTLD_DEFAULT, "free_sized");
	if (fs == NULL && !check_expect_preload())
		NOT_APPLICABLE("glibc 2.36 has no free_sized");
	CHECK(fs != NULL, "free_sized does not resolve");
	fs(NULL, 0);
	for (size_t i = 0; i < N_SPAN; i++) {
		void *p = malloc(span_sizes[i]);
		CHECK(p != NULL);
		memset(p, 2, span_sizes[i]);
		fs(p, span_sizes[i]);
	}
	long before = check_rss_kib();
	for (int i = 0; i < 200000; i++) {
		void *p = malloc(2000);
		CHECK(p != NULL);
		memset(p, 3, 2000);
		fs(p, 2000);
	}
	long after = check_rss_kib();
	CHECK(after - before < 64 * 1024, "RSS grew from %ld to %ld KiB", before, after);
	return CHECK_OK;
}

static int free_aligned_sized_works(void)
{
	free_aligned_sized_fn fas =
	    (free_aligned_sized_fn)dlsym(RTLD_DEFAULT, "free_aligned_sized");
	if (fas == NULL && !check_expect_preload())
		NOT_APPLICABLE("glibc 2.36 has no free_aligned_sized");
	CHECK(fas != NULL, "free_aligned_sized does not resolve");
	fas(NULL, 64, 0);
	for (size_t a = 1; a <= MiB; a <<= 1)
		for (size_t i = 0; i < N_ALIGN_SIZES; i++) {
			void *p = aligned_alloc(a, align_sizes[i]);
			CHECK(p != NULL);
			memset(p, 4, align_sizes[i]);
			fas(p, a, align_sizes[i]);
		}
	long before = check_rss_kib();
	for (int i = 0; i < 200000; i++) {
		void *p = aligned_alloc(64, 2048);
		CHECK(p != NULL);
		memset(p, 5, 2048);
		fas(p, 64, 2048);
	}
	long after = check_rss_kib();
	CHECK(after - before < 64 * 1024, "RSS grew from %ld to %ld KiB", before, after);
	return CHECK_OK;
}

static void *resolve(const char *name)
{
	void *f = dlsym(RTLD_DEFAULT, name);
	if (f == NULL)
		printf("  # %s does not resolve\n", name);
	return f;
}

static int libc_aliases(void)
{
	void *(*l_malloc)(size_t) = (void *(*)(size_t))resolve("__libc_malloc");
	void (*l_free)(void *) = (void (*)(void *))resolve("__libc_free");
	void *(*l_calloc)(size_t, size_t) = (void *(*)(size_t, size_t))resolve("__libc_calloc");
	void *(*l_realloc)(void *, size_t) = (void *(*)(void *, size_t))resolve("__libc_realloc");
	void *(*l_memalign)(size_t, size_t) = (void *(*)(size_t, size_t))resolve("__libc_memalign");
	void *(*l_valloc)(size_t) = (void *(*)(size_t))resolve("__libc_valloc");
	void *(*l_pvalloc)(size_t) = (void *(*)(size_t))resolve("__libc_pvalloc");
	CHECK(l_malloc && l_free && l_calloc && l_realloc && l_memalign && l_valloc && l_pvalloc);
	size_t pg = page_size();
	unsigned char *p = l_malloc(100);
	CHECK(p != NULL);
	check_fill(p, 100, 1);
	p = l_realloc(p, 100000);
	CHECK(p != NULL && check_verify(p, 100, 1) < 0, "__libc_realloc lost contents");
	free(p);
	p = malloc(200);
	CHECK(p != NULL);
	l_free(p);
	p = l_calloc(1000, 10);
	CHECK(p != NULL && check_all_bytes(p, 10000, 0) < 0, "__libc_calloc not zeroed");
	l_free(p);
	p = l_memalign(4096, 100);
	CHECK(p != NULL && ((uintptr_t)p & 4095) == 0, "__libc_memalign = %p", (void *)p);
	l_free(p);
	p = l_valloc(100);
	CHECK(p != NULL && ((uintptr_t)p & (pg - 1)) == 0, "__libc_valloc = %p", (void *)p);
	free(p);
	p = l_pvalloc(100);
	CHECK(p != NULL && ((uintptr_t)p & (pg - 1)) == 0, "__libc_pvalloc = %p", (void *)p);
	CHECK(malloc_usable_size(p) >= pg, "__libc_pvalloc usable %zu", malloc_usable_size(p));
	l_free(p);
	return CHECK_OK;
}

/* glibc does not export __posix_memalign; the library does. */
static int posix_memalign_alias(void)
{
	int (*pm)(void **, size_t, size_t) =
	    (int (*)(void **, size_t, size_t))dlsym(RTLD_DEFAULT, "__posix_memalign");
	if (pm == NULL && !check_expect_preload())
		NOT_APPLICABLE("glibc does not export __posix_memalign");
	CHECK(pm != NULL, "__posix_memalign does not resolve");
	void *p = NULL;
	CHECK(pm(&p, 256, 1000) == 0 && p != NULL && ((uintptr_t)p & 255) == 0, "p = %p", p);
	memset(p, 6, 1000);
	free(p);
	p = (void *)0x99;
	CHECK(pm(&p, 24, 10) == EINVAL && p == (void *)0x99);
	return CHECK_OK;
}

static int malloc_trim_returns(void)
{
	enum { N = 20000 };
	static void *ps[N];
	for (int i = 0; i < N; i++) {
		ps[i] = malloc(1 + i % 3000);
		CHECK(ps[i] != NULL);
		memset(ps[i], 7, 1 + i % 3000);
	}
	for (int i = 0; i < N; i += 2)
		free(ps[i]);
	int r = malloc_trim(0);
	CHECK(r == 0 || r == 1, "malloc_trim(0) returned %d", r);
	for (int i = 1; i < N; i += 2) {
		CHECK(check_all_bytes(ps[i], 1 + i % 3000, 7) < 0, "block %d changed by trim", i);
		free(ps[i]);
	}
	r = malloc_trim(0);
	CHECK(r == 0 || r == 1, "malloc_trim(0) returned %d", r);
	void *p = malloc(100);
	CHECK(p != NULL);
	free(p);
	return CHECK_OK;
}

static const struct check_s checks[] = {
	CHECK_ENTRY(preload_active),
	CHECK_ENTRY(align_16),
	CHECK_ENTRY(malloc_zero_unique),
	CHECK_ENTRY(free_null),
	CHECK_ENTRY(realloc_null_is_malloc),
	CHECK_ENTRY(realloc_zero_frees),
	CHECK_ENTRY(calloc_overflow),
	CHECK_ENTRY(reallocarray_overflow),
	CHECK_ENTRY(oversize_malloc_calloc_realloc),
	CHECK_ENTRY(oversize_aligned),
	CHECK_ENTRY(realloc_fail_keeps_block),
	CHECK_ENTRY(posix_memalign_einval),
	CHECK_ENTRY(posix_memalign_valid),
	CHECK_ENTRY(memalign_all_alignments),
	CHECK_ENTRY(aligned_alloc_all_alignments),
	CHECK_ENTRY(aligned_alloc_bad_alignment),
	CHECK_ENTRY(memalign_rounds_alignment),
	CHECK_ENTRY(valloc_page_aligned),
	CHECK_ENTRY(pvalloc_rounds_to_page),
	CHECK_ENTRY(pvalloc_overflow),
	CHECK_ENTRY(usable_size_writable),
	CHECK_ENTRY(usable_size_null),
	CHECK_ENTRY(calloc_zero_small),
	CHECK_ENTRY(calloc_zero_large),
	CHECK_ENTRY(calloc_zero_huge),
	CHECK_ENTRY(calloc_zero_after_dirty),
	CHECK_ENTRY(realloc_transitions),
	CHECK_ENTRY(free_sized_works),
	CHECK_ENTRY(free_aligned_sized_works),
	CHECK_ENTRY(libc_aliases),
	CHECK_ENTRY(posix_memalign_alias),
	CHECK_ENTRY(malloc_trim_returns),
};

int main(int argc, char **argv)
{
	printf("# api: seed %#llx\n", (unsigned long long)check_seed());
	return check_main(checks, sizeof(checks) / sizeof(checks[0]), argc, argv);
}
