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
 * (writing a read-only name), EAGAIN (before the allocator booted).
 * '#' in a name is a decimal index: an arena or a size class. The "stats."
 * totals are a snapshot that writing "epoch" refreshes (the first read takes
 * one); "stats.arenas.#." names and the blocks list are read at the call.
 * Types: s = const char *, b = bool, u = unsigned, l = long, z = size_t,
 * q = uint64_t, z[] = a list of size_t, act = action (no value).
 *
 *   "version" s, "epoch" q (write: refresh the snapshot)
 *   "opt.metadata_thp" s, "opt.dirty_decay_ms" l, "opt.dirty_max" z,
 *   "opt.abort_on_invalid" b, "opt.stats_print" b, "opt.stats_opts" s,
 *   "opt.stats_file" s, "opt.junk" b, "opt.background_thread" b: the
 *   BASEMALLOC_CONF options
 *   "background_thread.running" b, "background_thread.starts" q,
 *   "background_thread.passes" q: the background purger
 *   "thread.arena" u: the calling thread's arena
 *   "arenas.narenas" u, "arenas.abandoned" u, "arenas.in_use" u,
 *   "arenas.adopted" q, "arenas.nbins" u, "arenas.bin.#.size" z,
 *   "arenas.bin.#.slab_size" z, "arenas.bin.#.nblocks" u
 *   "arena.purge" act (every arena), "arena.#.purge" act
 *   "stats.allocated" z, "stats.active" z, "stats.metadata" z,
 *   "stats.resident" z, "stats.mapped" z, "stats.pages_mapped" z,
 *   "stats.dirty" z, "stats.purged" q, "stats.purge_runs" q,
 *   "stats.remote_frees" q, "stats.small.allocated" z, "stats.small.live" q,
 *   "stats.large.count" q, "stats.large.bytes" z, "stats.large.nmalloc" q,
 *   "stats.huge.count" q, "stats.huge.bytes" z,
 *   "stats.base.allocated" z, "stats.base.resident" z,
 *   "stats.base.mapped" z, "stats.base.n_thp" z, "stats.base.blocks" z,
 *   "stats.base.blocks_list" z[] (5 words a block: owner arena or SIZE_MAX
 *   for b0, address, size, used, huge-page advised),
 *   "stats.b0.allocated" z, "stats.b0.resident" z, "stats.b0.mapped" z,
 *   "stats.b0.n_thp" z, "stats.b0.blocks" z,
 *   "stats.mmap_calls" q, "stats.munmap_calls" q, "stats.madvise_calls" q,
 *   "stats.mremap_calls" q, "stats.os_mapped" z,
 *   "stats.bins.#.live" q, "stats.bins.#.slabs" q,
 *   "stats.bins.#.capacity" q, "stats.bins.#.refills" q,
 *   "stats.arenas.#.allocated" z, "stats.arenas.#.active" z,
 *   "stats.arenas.#.mapped" z, "stats.arenas.#.dirty" z,
 *   "stats.arenas.#.purged" q, "stats.arenas.#.purge_runs" q,
 *   "stats.arenas.#.remote_frees" q, "stats.arenas.#.adopted" q,
 *   "stats.arenas.#.small.live" q, "stats.arenas.#.small.allocated" z,
 *   "stats.arenas.#.large.count" q, "stats.arenas.#.large.bytes" z,
 *   "stats.arenas.#.huge.count" q, "stats.arenas.#.huge.bytes" z,
 *   "stats.arenas.#.base.allocated" z, "stats.arenas.#.base.resident" z,
 *   "stats.arenas.#.base.mapped" z, "stats.arenas.#.base.n_thp" z,
 *   "stats.arenas.#.base.blocks" z,
 *   "stats.arenas.#.bins.#.live" q, "stats.arenas.#.bins.#.slabs" q,
 *   "stats.arenas.#.bins.#.capacity" q, "stats.arenas.#.bins.#.refills" q
 *   "debug.fault_inject" act, newp a uint64_t n: the n-th OS map from now
 *   fails (`make fault` builds only; ENOENT elsewhere)
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
