/*
 * preload: the names programs call (libc's and C++'s), each a one-line
 * forwarder to the bm_* implementation; malloc and free are aliases of
 * theirs, defined in src/alloc.c; glibc's introspection calls are in
 * glibc.c. preload/export.map keeps everything
 * else inside the .so; -Bsymbolic binds these calls without the PLT
 * (but for the names in preload/interpose.list).
 * operator new reports failure the C++ way: it calls the new-handler, then
 * throws std::bad_alloc through libstdc++'s own thrower (looked up weakly,
 * so the library itself needs nothing but libc; a program that calls
 * operator new has libstdc++ loaded). The nothrow forms of operator new are
 * left to the C++ runtime, whose definitions call the throwing forms here
 * inside a catch: C cannot catch what a new-handler throws, and an
 * exception leaving a noexcept operator new ends the program.
 */
#include "../src/common.h"
#include "../src/alloc.h"
#include "../include/basemalloc.h"

#include <errno.h>
#include <stddef.h>

#define EXPORT BM_EXPORT

/* malloc and free: aliases of bm_malloc and bm_free in src/alloc.c. */
/* cfree left glibc's API in 2.26; binaries linked before bind cfree@GLIBC_2.2.5. */
EXPORT void cfree(void *p) { bm_free(p); }
EXPORT void *calloc(size_t n, size_t s) { return bm_calloc(n, s); }
EXPORT void *realloc(void *p, size_t n) { return bm_realloc(p, n); }
/* glibc's reallocarray is realloc after the overflow check, called through
 * the dynamic linker: when the program, or a library ahead of this one in
 * the lookup order (libc_malloc_debug.so), defines realloc, reallocarray's
 * blocks are that realloc's. preload/interpose.list keeps this reference
 * out of -Bsymbolic's binding. */
EXPORT void *reallocarray(void *p, size_t n, size_t s) {
	size_t total;
	if (__builtin_mul_overflow(n, s, &total)) {
		errno = ENOMEM;
		return NULL;
	}
	return realloc(p, total);
}
EXPORT int posix_memalign(void **r, size_t a, size_t n) { return bm_posix_memalign(r, a, n); }
EXPORT void *aligned_alloc(size_t a, size_t n) { return bm_aligned_alloc(a, n); }
EXPORT void *memalign(size_t a, size_t n) { return bm_memalign(a, n); }
EXPORT void *valloc(size_t n) { return bm_valloc(n); }
EXPORT void *pvalloc(size_t n) { return bm_pvalloc(n); }
EXPORT size_t malloc_usable_size(void *p) { return bm_malloc_usable_size(p); }
EXPORT void free_sized(void *p, size_t n) { bm_free_sized(p, n); }
EXPORT void free_aligned_sized(void *p, size_t a, size_t n) { bm_free_aligned_sized(p, a, n); }
EXPORT int malloc_trim(size_t pad) { return bm_malloc_trim(pad); }
EXPORT int mallopt(int param, int value) { return bm_mallopt(param, value); }

EXPORT void *__libc_malloc(size_t n) { return bm_malloc(n); }
EXPORT void __libc_free(void *p) { bm_free(p); }
EXPORT void *__libc_calloc(size_t n, size_t s) { return bm_calloc(n, s); }
EXPORT void *__libc_realloc(void *p, size_t n) { return bm_realloc(p, n); }
EXPORT void *__libc_memalign(size_t a, size_t n) { return bm_memalign(a, n); }
EXPORT void *__libc_valloc(size_t n) { return bm_valloc(n); }
EXPORT void *__libc_pvalloc(size_t n) { return bm_pvalloc(n); }
EXPORT int __posix_memalign(void **r, size_t a, size_t n) { return bm_posix_memalign(r, a, n); }
EXPORT int __libc_mallopt(int param, int value) { return bm_mallopt(param, value); }

/* C++: the new-handler loop and std::bad_alloc. */
typedef void (*new_handler_t)(void);
extern new_handler_t _ZSt15get_new_handlerv(void) __attribute__((weak));
extern void _ZSt17__throw_bad_allocv(void) __attribute__((weak, noreturn));

/* Run the new-handler once; 0 when there is none (give up). */
static int cxx_new_handler_run(void) {
	new_handler_t h = _ZSt15get_new_handlerv ? _ZSt15get_new_handlerv() : NULL;
	if (h == NULL)
		return 0;
	h();
	return 1;
}

static void *cxx_new(size_t n, size_t a) {
	for (;;) {
		void *p = a <= QUANTUM ? bm_malloc(n) : bm_aligned_alloc(a, n);
		if (p != NULL || cxx_new_handler_run() == 0) {
			if (p == NULL && _ZSt17__throw_bad_allocv)
				_ZSt17__throw_bad_allocv();
			return p;
		}
	}
}

EXPORT void *_Znwm(size_t n) { return cxx_new(n, 0); }
EXPORT void *_Znam(size_t n) { return cxx_new(n, 0); }
EXPORT void *_ZnwmSt11align_val_t(size_t n, size_t a) { return cxx_new(n, a); }
EXPORT void *_ZnamSt11align_val_t(size_t n, size_t a) { return cxx_new(n, a); }

EXPORT void _ZdlPv(void *p) { bm_free(p); }
EXPORT void _ZdaPv(void *p) { bm_free(p); }
EXPORT void _ZdlPvm(void *p, size_t n) { malloc_delete_sized(p, n, 0); }
EXPORT void _ZdaPvm(void *p, size_t n) { malloc_delete_sized(p, n, 0); }
EXPORT void _ZdlPvRKSt9nothrow_t(void *p, const void *t) { (void)t; bm_free(p); }
EXPORT void _ZdaPvRKSt9nothrow_t(void *p, const void *t) { (void)t; bm_free(p); }
EXPORT void _ZdlPvSt11align_val_t(void *p, size_t a) { (void)a; bm_free(p); }
EXPORT void _ZdaPvSt11align_val_t(void *p, size_t a) { (void)a; bm_free(p); }
EXPORT void _ZdlPvmSt11align_val_t(void *p, size_t n, size_t a) { malloc_delete_sized(p, n, a); }
EXPORT void _ZdaPvmSt11align_val_t(void *p, size_t n, size_t a) { malloc_delete_sized(p, n, a); }
EXPORT void _ZdlPvSt11align_val_tRKSt9nothrow_t(void *p, size_t a, const void *t) { (void)a; (void)t; bm_free(p); }
EXPORT void _ZdaPvSt11align_val_tRKSt9nothrow_t(void *p, size_t a, const void *t) { (void)a; (void)t; bm_free(p); }
