/*
 * common.h: included first by every module. Attributes, branch hints,
 * alignment helpers and the build-time configuration constants.
 * No state, no locks.
 */
#ifndef BM_COMMON_H
#define BM_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdatomic.h>

#define LIKELY(x)   __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)
/* ThreadSanitizer builds (gcc and clang say it differently). */
#if defined(__SANITIZE_THREAD__)
#define BM_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define BM_TSAN 1
#endif
#endif
#ifndef BM_TSAN
#define BM_TSAN 0
#endif

#define BM_INLINE   static inline __attribute__((always_inline))
#define BM_NOINLINE __attribute__((noinline))
#define BM_NORETURN __attribute__((noreturn))
#define BM_UNUSED   __attribute__((unused))
#define BM_EXPORT   __attribute__((visibility("default")))
#define BM_HIDDEN   __attribute__((visibility("hidden")))  /* no GOT load */
#define BM_FORMAT(a, b) __attribute__((format(printf, a, b)))

/* basemalloc's version (bm_ctl "version", the reports). */
#define BM_VERSION "0.1.0"

/* The minimum alignment of every allocation (and of base memory). */
#define QUANTUM       ((size_t)16)
#define LG_QUANTUM    4
#define CACHELINE     ((size_t)64)
/* Pages are 4 KiB on every platform we build for; os_boot checks it. */
#define LG_PAGE       12
#define PAGE          ((size_t)1 << LG_PAGE)
#define LG_HUGEPAGE   21
#define HUGEPAGE      ((size_t)1 << LG_HUGEPAGE)

/* Round x up / down to a multiple of the power of two a. */
#define ALIGN_UP(x, a)   (((x) + ((a) - 1)) & ~((uintptr_t)(a) - 1))
#define ALIGN_DOWN(x, a) ((x) & ~((uintptr_t)(a) - 1))
#define PAGE_CEILING(x)     ALIGN_UP((x), PAGE)
#define HUGEPAGE_CEILING(x) ALIGN_UP((x), HUGEPAGE)
#define IS_POW2(x) ((x) != 0 && ((x) & ((x) - 1)) == 0)

#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

#ifdef BM_DEBUG
static const bool config_debug = true;
#else
static const bool config_debug = false;
#endif
static const bool config_stats = true;
/* `make hardened` (BM_HARDENED): canaries, guard pages, zero-size
 * allocations that fault, checked zeroing of freed blocks, delayed reuse.
 * A compile-time constant: the default build carries none of it. */
#ifdef BM_HARDENED
static const bool config_hardened = true;
#else
static const bool config_hardened = false;
#endif

/* Index of the highest set bit; x must be non-zero. */
BM_INLINE unsigned bm_lg_floor(size_t x) {
	return (unsigned)(63 - __builtin_clzl(x));
}

/* ceil(log2(x)); x must be non-zero. */
BM_INLINE unsigned bm_lg_ceil(size_t x) {
	return x <= 1 ? 0 : bm_lg_floor(x - 1) + 1;
}

#endif
