/*
 * align: the aligned allocation calls (memalign, aligned_alloc,
 * posix_memalign, valloc, pvalloc): each one's rules for alignments that are
 * not powers of two and its errno or return code, on alloc's
 * malloc_aligned. No state, no locks.
 */
#include "align.h"

#include "alloc.h"

#include <errno.h>

void *bm_memalign(size_t alignment, size_t size) {
	if (alignment > SIZE_MAX / 2 + 1) {
		errno = EINVAL;
		return NULL;
	}
	if (!IS_POW2(alignment))
		alignment = alignment == 0 ? 1 : (size_t)1 << bm_lg_ceil(alignment);
	return malloc_aligned(alignment, size);
}

/* An alignment that is not a power of two is EINVAL, as C17 and glibc 2.38
 * say (glibc 2.36 treated aligned_alloc as memalign and rounded it up). */
void *bm_aligned_alloc(size_t alignment, size_t size) {
	if (!IS_POW2(alignment)) {
		errno = EINVAL;
		return NULL;
	}
	return malloc_aligned(alignment, size);
}

int bm_posix_memalign(void **memptr, size_t alignment, size_t size) {
	if (alignment < sizeof(void *) || !IS_POW2(alignment))
		return EINVAL;
	void *p = malloc_aligned(alignment, size);
	if (p == NULL)
		return ENOMEM;  /* errno is ENOMEM too, as glibc leaves it */
	*memptr = p;
	return 0;
}

void *bm_valloc(size_t size) {
	return malloc_aligned(PAGE, size);
}

void *bm_pvalloc(size_t size) {
	if (size > SIZE_MAX - 2 * PAGE) {
		errno = ENOMEM;  /* PAGE_CEILING would wrap */
		return NULL;
	}
	return malloc_aligned(PAGE, PAGE_CEILING(size));
}
