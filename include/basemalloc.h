/*
 * basemalloc public API. The libc names (malloc, free, ...) are exported by
 * libbasemalloc.so; this header adds the bm_* names, which work the same way
 * and also let a program read statistics and control the allocator.
 */
#ifndef BASEMALLOC_H
#define BASEMALLOC_H

#include <stddef.h>
#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

#pragma GCC visibility push(default)

void *bm_malloc(size_t size);
void *bm_calloc(size_t n, size_t size);
void *bm_realloc(void *ptr, size_t size);
void bm_free(void *ptr);
void *bm_aligned_alloc(size_t alignment, size_t size);
int bm_posix_memalign(void **memptr, size_t alignment, size_t size);
size_t bm_malloc_usable_size(const void *ptr);
void *bm_memalign(size_t alignment, size_t size);
void *bm_valloc(size_t size);
void *bm_pvalloc(size_t size);
void *bm_reallocarray(void *ptr, size_t n, size_t size);
void bm_free_sized(void *ptr, size_t size);
void bm_free_aligned_sized(void *ptr, size_t alignment, size_t size);
/* Purge every arena's dirty pages now; returns 1 if memory was released. */
int bm_malloc_trim(size_t pad);
/* glibc's mallopt: basemalloc has no tunable that these parameters map to,
 * so every parameter is accepted without effect and answers 1, as glibc
 * 2.36 answers, except M_MXFAST (1) outside 0..160, which answers 0. */
int bm_mallopt(int param, int value);

/*
 * Extent hooks: a custom memory source for an arena's pages and its base's
 * blocks. Every function returns 0 on success and non-zero on failure (alloc
 * returns the memory or NULL). A NULL member means "not supported" (counts as
 * a failure). Hooks may call malloc: basemalloc marks the thread as reentrant
 * while a hook runs.
 */
typedef struct bm_extent_hooks_s bm_extent_hooks_t;
struct bm_extent_hooks_s {
	/* size bytes aligned to alignment; *zero / *commit say (in and out)
	 * whether the memory is zeroed / committed. */
	void *(*alloc)(bm_extent_hooks_t *h, void *new_addr, size_t size,
	    size_t alignment, bool *zero, bool *commit, unsigned arena_ind);
	int (*dalloc)(bm_extent_hooks_t *h, void *addr, size_t size,
	    bool committed, unsigned arena_ind);
	int (*commit)(bm_extent_hooks_t *h, void *addr, size_t size,
	    size_t offset, size_t length, unsigned arena_ind);
	int (*decommit)(bm_extent_hooks_t *h, void *addr, size_t size,
	    size_t offset, size_t length, unsigned arena_ind);
	int (*purge_lazy)(bm_extent_hooks_t *h, void *addr, size_t size,
	    size_t offset, size_t length, unsigned arena_ind);
	int (*purge_forced)(bm_extent_hooks_t *h, void *addr, size_t size,
	    size_t offset, size_t length, unsigned arena_ind);
	int (*split)(bm_extent_hooks_t *h, void *addr, size_t size,
	    size_t size_a, size_t size_b, bool committed, unsigned arena_ind);
	int (*merge)(bm_extent_hooks_t *h, void *addr_a, size_t size_a,
	    void *addr_b, size_t size_b, bool committed, unsigned arena_ind);
};

/*
 * Read and write allocator state by name (see README "bm_ctl names").
 * oldp/oldlenp: where to copy the current value (NULL to skip; oldp NULL with
 * oldlenp set stores the value's length); newp/newlen: the new value or an
 * action's argument. Returns 0, or ENOENT (unknown name or index), EINVAL
 * (wrong length or argument; *oldlenp is set to the right length), EPERM
 * (writing a read-only name), EAGAIN (the allocator could not boot; bm_ctl
 * boots it like any allocation call).
 * '#' in a name is a decimal index: an arena or a size class. The "stats."
 * totals are a snapshot that writing "epoch" refreshes (the first read takes
 * one); "stats.arenas.#." names and the blocks list are read at the call.
 * The names, each with its type, unit and meaning, are README.md's "bm_ctl
 * names" table, which is made from the code's tables (src/ctl.c, src/stats.h,
 * src/conf.h): "version", "epoch" (write: refresh the snapshot), "opt.<option>"
 * for each option, "background_thread.*" (the background purger),
 * "thread.arena", "arenas.*" (counts, size classes),
 * "arena.purge" and "arena.#.purge" (actions), "stats.*" (the totals),
 * "stats.base.*", "stats.b0.*", "stats.bins.#.*", "stats.arenas.#.*" (one
 * arena, read at the call), "stats.base.blocks_list" (size_t words, 5 per
 * block), "prof.dump" (an action: a heap dump; newp a const char * path or
 * NULL) and, in `make fault` builds, "debug.fault_inject".
 */
int bm_ctl(const char *name, void *oldp, size_t *oldlenp, void *newp,
    size_t newlen);

/* Write the statistics report through write_cb (NULL = stderr). opts: NULL or
 * "" for text, "J" for JSON. */
void bm_stats_print(void (*write_cb)(void *opaque, const char *text),
    void *opaque, const char *opts);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif
#endif
