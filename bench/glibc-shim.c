/*
 * glibc-shim.so: makes a program that links another allocator (redis-server
 * links jemalloc) use glibc's malloc, so that the benchmark's "glibc" column
 * really is glibc. Preloaded, it defines the malloc family as forwarders to
 * glibc's __libc_* entry points. malloc_usable_size is looked up in libc.so.6
 * itself on first use. Part of the benchmark suite only; no locks (the lazy
 * lookup is idempotent, so a race only repeats it).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

extern void *__libc_malloc(size_t n);
extern void __libc_free(void *p);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t n);
extern void *__libc_memalign(size_t align, size_t n);
extern void *__libc_valloc(size_t n);
extern void *__libc_pvalloc(size_t n);

void *malloc(size_t n) { return __libc_malloc(n); }
void free(void *p) { __libc_free(p); }
void *calloc(size_t n, size_t size) { return __libc_calloc(n, size); }
void *realloc(void *p, size_t n) { return __libc_realloc(p, n); }
void *memalign(size_t align, size_t n) { return __libc_memalign(align, n); }
void *valloc(size_t n) { return __libc_valloc(n); }
void *pvalloc(size_t n) { return __libc_pvalloc(n); }

void *aligned_alloc(size_t align, size_t n)
{
	return __libc_memalign(align, n);
}

int posix_memalign(void **out, size_t align, size_t n)
{
	if (align < sizeof(void *) || (align & (align - 1)) != 0)
		return EINVAL;
	void *p = __libc_memalign(align, n);
	if (!p)
		return ENOMEM;
	*out = p;
	return 0;
}

typedef size_t (*shim_usable_fn)(void *);

size_t malloc_usable_size(void *p)
{
	static shim_usable_fn fn;
	if (!fn) {
		void *h = dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);
		if (h)
			fn = (shim_usable_fn)dlsym(h, "malloc_usable_size");
	}
	return fn ? fn(p) : 0;
}
