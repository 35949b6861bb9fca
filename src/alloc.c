/*
 * alloc: glibc's semantics on basemalloc's arenas. Fast paths: a small
 * malloc pops the current slab of the thread's bin; a free looks the pointer
 * up in the rtree and pushes it on its slab (locally or remotely). Nothing
 * here takes a lock except through the arena's slow paths and bootstrap.
 * Bootstrap runs once, under boot_lock, on the first call from any thread
 * (possibly from ld.so or libc before main); it allocates nothing from us.
 */
#include "alloc.h"
#include "arena.h"
#include "base.h"
#include "bg.h"
#include "conf.h"
#include "extent.h"
#include "huge.h"
#include "log.h"
#include "lookup.h"
#include "mutex.h"
#include "os.h"
#include "prof.h"
#include "profdump.h"
#include "resize.h"
#include "rtree.h"
#include "secret.h"
#include "slab.h"
#include "sz.h"
#include "tsd.h"
#include "zero.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>

static _Atomic int boot_done;
static pthread_mutex_t boot_lock = PTHREAD_MUTEX_INITIALIZER;
/* The largest request the small fast paths serve. prof: 0 while the heap
 * profiler samples, so that every allocation passes malloc_prof's sampler
 * and the fast paths cost nothing more when it does not. */
static size_t malloc_fast_max = SZ_LOOKUP_MAX;

static int malloc_boot_once(void) {
	conf_boot();
	bg_boot();
	sz_boot();
	secret_boot();
	if (os_boot() != 0) {
		log_warn("page size %ld is not supported (built for %zu)",
		    os_page_size_system(), PAGE);
		return ENOMEM;
	}
	if (rtree_boot() != 0 || base_boot() != 0 || arena_boot() != 0 ||
	    tsd_boot() != 0)
		return ENOMEM;
	if (opt_prof && prof_boot() == 0)
		malloc_fast_max = 0;
	if (config_hardened)
		zero_boot();  /* without it zero-size requests are ordinary */
	return 0;
}

int malloc_boot(void) {
	if (LIKELY(atomic_load_explicit(&boot_done, memory_order_acquire)))
		return 0;
	pthread_mutex_lock(&boot_lock);
	int err = 0;
	if (!atomic_load_explicit(&boot_done, memory_order_relaxed)) {
		err = malloc_boot_once();
		if (err == 0)
			atomic_store_explicit(&boot_done, 1,
			    memory_order_release);
	}
	pthread_mutex_unlock(&boot_lock);
	return err;
}

void malloc_prefork(void) {
	mutex_prefork();
}

void malloc_postfork_parent(void) {
	mutex_postfork_parent();
}

void malloc_postfork_child(void) {
	mutex_postfork_child();
	arena_postfork_child();
	bg_postfork_child();
}

__attribute__((constructor)) static void malloc_constructor(void) {
	malloc_boot();
	if (opt_prof)
		prof_boot_late();
	pthread_atfork(malloc_prefork, malloc_postfork_parent,
	    malloc_postfork_child);
}

BM_NOINLINE static void *malloc_enomem(void) {
	errno = ENOMEM;
	return NULL;
}

/* The fast path of malloc and calloc: a block for size from the calling
 * thread's current slab of its class, when the size is answered by table;
 * NULL when the caller must take malloc_slow (also for a thread without an
 * arena, whose current slabs are all the empty placeholder). */
BM_INLINE void *malloc_fast(size_t size) {
	if (LIKELY(size <= malloc_fast_max)) {   /* 0 under prof */
		if (size > SZ_LOOKUP_MAX)
			__builtin_unreachable();   /* malloc_fast_max never is */
		return tsd_cur_pop(size);
	}
	return NULL;
}

BM_INLINE void *malloc_small(arena_t *a, unsigned ind) {
	void *p = slab_alloc(arena_cur(a, ind));
	return LIKELY(p != NULL) ? p : arena_malloc_small_slow(a, ind);
}

/* Hardened builds: a small block for size bytes, zeroed (checked when it
 * was popped), its canary and size written after the bytes. */
BM_NOINLINE static void *malloc_small_hardened(arena_t *a, unsigned ind,
    size_t size) {
	void *p = malloc_small(a, ind);
	if (p == NULL)
		return NULL;
	slab_t *s = arena_cur(a, ind);  /* where malloc_small takes blocks */
	BM_ASSERT(rtree_lookup(p) == s);
	slab_tail_set(s, p, size);
	return p;
}

/* size bytes aligned to alignment (a power of two >= QUANTUM) from arena
 * a; *zeroed tells whether the memory is known to read as zero. */
static void *malloc_in(arena_t *a, size_t size, size_t alignment,
    bool *zeroed) {
	*zeroed = config_hardened;
	if (size > PTRDIFF_MAX)
		return NULL;
	if (config_hardened && size == 0 && alignment <= QUANTUM) {
		void *p = zero_alloc();
		if (p != NULL)
			return p;
	}
	unsigned ind = lookup_class(size, alignment);
	if (ind < SZ_NSMALL) {
		/* a reused block reads as zero in its checked part only */
		*zeroed = config_hardened && size <= SLAB_CHECKED;
		return config_hardened ? malloc_small_hardened(a, ind, size)
		    : malloc_small(a, ind);
	}
	size_t usize = lookup_run_size(size, alignment);
	arena_check_lists(a);
	if (usize < SZ_HUGE_MIN && alignment < SZ_HUGE_MIN)
		return arena_malloc_large(a, usize, alignment, zeroed);
	return arena_malloc_huge(a, usize, alignment, zeroed);
}

/* Zero the first size bytes of a fresh allocation that may be dirty. A run
 * of SZ_ZERO_PURGE_MIN or more is handed back to the kernel (its untouched
 * pages stay out of RSS); below, writing costs less than the faults. */
static void malloc_zero(void *p, size_t size) {
	if (size >= SZ_ZERO_PURGE_MIN && ((uintptr_t)p & (PAGE - 1)) == 0 &&
	    os_purge_forced(p, PAGE_CEILING(size)) == 0)
		return;
	memset(p, 0, size);
}

/* Boot, find the thread's arena, allocate; errno = ENOMEM on failure. */
BM_NOINLINE static void *malloc_plain(size_t size, size_t alignment,
    bool zero) {
	if (malloc_boot() != 0)
		return malloc_enomem();
	arena_t *a = tsd_arena();
	bool zeroed;
	void *p = a != NULL ? malloc_in(a, size, alignment, &zeroed) : NULL;
	if (p == NULL)
		return malloc_enomem();
	int64_t left = prof_park();   /* the purger's thread is not the program's */
	bg_maybe_start(&a->pages);
	prof_unpark(left);
	if (zero && !zeroed)
		malloc_zero(p, size);
	return p;
}

/* prof: a sampled allocation is always a page run (small sizes promoted to
 * whole pages), whose extent carries the sample's record. */
BM_NOINLINE static void *malloc_sampled(arena_t *a, size_t size,
    size_t alignment, bool zero) {
	void *p;
	bool zeroed = false;
	size_t usize = size <= SZ_SMALL_MAX ? PAGE_CEILING(MAX(size, 1))
	    : sz_s2u(size);
	if (usize != 0 && usize < SZ_HUGE_MIN && alignment < SZ_HUGE_MIN) {
		p = arena_malloc_large(a, usize, alignment, &zeroed);
	} else {
		p = arena_malloc_huge(a, PAGE_CEILING(size), alignment,
		    &zeroed);
	}
	if (p == NULL)
		return malloc_enomem();
	if (zero && !zeroed)
		malloc_zero(p, size);
	if (prof_sample_record(rtree_lookup(p), size, a->base))
		profdump_gdump();
	return p;
}

static void *malloc_slow(size_t size, size_t alignment, bool zero);

/* prof: the countdown passed zero (charged with size already); boots and
 * takes an arena on a thread's first allocation, whose count prof_sample_pick
 * draws. */
BM_NOINLINE static void *malloc_prof_due(size_t size, size_t alignment,
    bool zero) {
	arena_t *a;
	if (UNLIKELY(!opt_prof)) {   /* bm_malloc's charge, once a thread */
		tsd_tls.prof_left = PROF_GUARD;
		return malloc_slow(size, alignment, zero);
	}
	if (UNLIKELY(size > PTRDIFF_MAX)) {   /* never sampled: uncharge */
		tsd_tls.prof_left += (int64_t)size;
		return malloc_enomem();
	}
	if (malloc_boot() != 0 || (a = tsd_arena()) == NULL ||
	    !prof_sample_pick(size))
		return malloc_plain(size, alignment, zero);
	return malloc_sampled(a, size, alignment, zero);
}

/* A small block of a thread with an arena from its bin's refill (the
 * slab pop failed); NULL when the caller must take malloc_plain. */
static void *malloc_refill(size_t size, bool zero) {
	arena_t *a = tsd_tls.arena;
	void *p = a != NULL ? arena_malloc_small_slow(a, sz_size2index(size))
	    : NULL;
	if (LIKELY(p != NULL)) {
		int64_t left = prof_park();   /* as in malloc_plain */
		bg_maybe_start(&a->pages);
		prof_unpark(left);
		if (zero)
			memset(p, 0, size);
	}
	return p;
}

/* prof: malloc and calloc while the profiler samples (malloc_fast_max is 0
 * then): one charge of the countdown, then malloc_fast's slab pop, or the
 * refill malloc_slow takes. A small block is not zeroed (bm_calloc does
 * it); a larger one is when zero. */
BM_INLINE void *malloc_prof_fast(size_t size, bool zero) {
	if (UNLIKELY(prof_sample_charge(size)))
		return malloc_prof_due(size, QUANTUM, zero && size > SZ_LOOKUP_MAX);
	if (LIKELY(size <= SZ_LOOKUP_MAX)) {
		void *p = tsd_cur_pop(size);
		if (LIKELY(p != NULL) || (!config_hardened &&
		    (p = malloc_refill(size, false)) != NULL))
			return p;
		return malloc_plain(size, QUANTUM, false);
	}
	if (UNLIKELY(size > PTRDIFF_MAX))
		return malloc_prof_due(size, QUANTUM, false);  /* uncharges */
	return malloc_plain(size, QUANTUM, zero);
}

/* Its two instances, tail calls only (no stack frame). */
BM_NOINLINE static void *malloc_prof_small(size_t size) {
	return malloc_prof_fast(size, false);
}

BM_NOINLINE static void *calloc_prof_small(size_t size) {
	return malloc_prof_fast(size, true);
}

/* A small malloc whose slab pop failed: the bin's refill or the slow path. */
BM_NOINLINE static void *malloc_small_refill(size_t size) {
	void *p = config_hardened ? NULL : malloc_refill(size, false);
	return p != NULL ? p : malloc_plain(size, QUANTUM, false);
}

/* bm_malloc's way out of the fast path (every call under prof, whose
 * malloc_fast_max is 0). A small request charges the countdown with or
 * without the profiler, so that it needs no test of opt_prof: without it
 * the charge reaches zero once a thread (malloc_prof_due then parks the
 * count) and the pop it retries fails again before the refill. */
BM_INLINE void *malloc_out(size_t size) {
	if (LIKELY(size <= SZ_LOOKUP_MAX)) {
		if (UNLIKELY(prof_sample_charge(size)))
			return malloc_prof_due(size, QUANTUM, false);
		void *p = tsd_cur_pop(size);
		return LIKELY(p != NULL) ? p : malloc_small_refill(size);
	}
	if (UNLIKELY(opt_prof))
		return malloc_prof_small(size);
	return malloc_slow(size, QUANTUM, false);
}

/* prof: the aligned calls and hardened builds: the countdown, then the
 * small path or the ordinary slow path. */
BM_NOINLINE static void *malloc_prof(size_t size, size_t alignment,
    bool zero) {
	if (prof_sample_charge(size) || size > PTRDIFF_MAX)
		return malloc_prof_due(size, alignment, zero);
	if (!config_hardened && LIKELY(alignment == QUANTUM &&
	    size <= SZ_LOOKUP_MAX)) {
		void *p = tsd_cur_pop(size);
		if (LIKELY(p != NULL))
			return zero ? memset(p, 0, size) : p;
	}
	return malloc_plain(size, alignment, zero);
}

/* Every allocation the fast paths do not serve; a small one of a thread
 * with an arena goes straight to its bin's refill. */
BM_NOINLINE static void *malloc_slow(size_t size, size_t alignment,
    bool zero) {
	if (UNLIKELY(opt_prof))
		return malloc_prof(size, alignment, zero);
	void *p;
	if (!config_hardened && alignment == QUANTUM &&
	    size <= malloc_fast_max && (p = malloc_refill(size, zero)) != NULL)
		return p;
	return malloc_plain(size, alignment, zero);
}

/* Hardened builds: malloc and calloc (zero); a short path for small blocks
 * (they read as zero in their first SLAB_CHECKED bytes) unless the heap
 * profiler samples. */
BM_INLINE void *malloc_hardened(size_t size, bool zero) {
	arena_t *a = tsd_tls.arena;
	if (LIKELY(a != NULL && size - 1 < SZ_LOOKUP_MAX - SLAB_TAIL &&
	    malloc_fast_max != 0)) {
		void *p = malloc_small_hardened(a, sz_lookup[(size + SLAB_TAIL +
		    QUANTUM - 1) >> LG_QUANTUM], size);
		if (UNLIKELY(p == NULL))
			return malloc_enomem();
		if (zero && size > SLAB_CHECKED)
			memset((char *)p + SLAB_CHECKED, 0, size - SLAB_CHECKED);
		return p;
	}
	return malloc_slow(size, QUANTUM, zero);
}

void *bm_malloc(size_t size) {
	if (config_hardened)
		return malloc_hardened(size, false);
	void *p = malloc_fast(size);
	if (LIKELY(p != NULL))
		return p;
	return malloc_out(size);
}

void *bm_calloc(size_t n, size_t size) {
	size_t total;
	if (UNLIKELY(__builtin_mul_overflow(n, size, &total)))
		return malloc_enomem();
	if (config_hardened)
		return malloc_hardened(total, true);
	void *p = malloc_fast(total);
	if (LIKELY(p != NULL))
		return memset(p, 0, total);
	if (LIKELY(total <= SZ_LOOKUP_MAX)) {
		p = malloc_out(total);
		return p != NULL ? memset(p, 0, total) : NULL;
	}
	if (UNLIKELY(opt_prof))
		return calloc_prof_small(total);   /* zeroes */
	return malloc_slow(total, QUANTUM, true);
}

static void free_zero(const void *p, const char *call) {  /* hardened */
	int err = zero_free(p);
	if (err != 0)
		lookup_report(call, err == EALREADY ? "double free or corruption"
		    : "invalid pointer", p);
}

/* Hardened builds: the rest of a small free. The canary is checked, the
 * block zeroed (slab_alloc checks that all of it still is), and the
 * owner's free delayed. */
BM_NOINLINE static void free_small_hardened(slab_t *s, void *p,
    const char *call) {
	size_t n = slab_tail_get(s, p);
	if (UNLIKELY(n == SIZE_MAX)) {
		lookup_report(call, "overflow past the end of", p);
		slab_zero(s, p);
	} else {
		slab_zero_freed(s, p, n);
	}
	arena_t *a = tsd_tls.arena;
	if (s->ext.owner != a)
		return arena_free_remote(s, p);
	((uintptr_t *)p)[1] = slab_key(s);
	arena_free_delayed(a, s, p);
}

/* Free the small block p of s, known to be live. */
BM_INLINE void free_small_live(slab_t *s, void *p, const char *call) {
	if (config_hardened)
		return free_small_hardened(s, p, call);
	if (config_debug && opt_junk)
		memset((char *)p + 2 * sizeof(void *), 0x5a,
		    s->block_size - 2 * sizeof(void *));
	arena_t *a = tsd_tls.arena;
	if (LIKELY(s->ext.owner == a))
		return arena_free_local(a, s, p);
	tsd_free_foreign(s, p);
}

/* Every free the quick test of free_small did not pass: NULL, page runs,
 * and the lookup decides the rest (invalid pointer, double free, or a
 * live block holding a copy of the key). Out of line, so that free's fast
 * path needs no stack frame. */
BM_NOINLINE static void free_slow(void *p, const char *call) {
	if (p == NULL)
		return;
	if (config_hardened && zero_owns(p))
		return free_zero(p, call);
	extent_t *e = lookup_alloc(p, call);
	if (e == NULL)
		return;
	if (e->kind == EXTENT_SLAB)
		return free_small_live((slab_t *)e, p, call);
	if (UNLIKELY(opt_prof))
		prof_free(e);
	arena_free_run(e);
}

/* Free p, whose descriptor by the rtree is s (a slab's, another kind's or
 * rtree's `nothing`, which no pointer passes): a carved block of a slab
 * whose second word is not the key is live. */
BM_INLINE void free_small(slab_t *s, void *p, const char *call) {
	if (UNLIKELY(!slab_block_ok(s, p) ||
	    ((uintptr_t *)p)[1] == slab_key(s)))
		return free_slow(p, call);
	free_small_live(s, p, call);
}

void bm_free(void *p) {
	free_small(rtree_desc_fast(p), p, "free");
}

/* The library's malloc and free (its build only, Makefile): aliases, not
 * forwarders (a jump less per call); preload.c has the other names. */
#ifdef BM_ENTRY_ALIASES
BM_EXPORT void free(void *p) __attribute__((alias("bm_free")));
BM_EXPORT void *malloc(size_t size) __attribute__((alias("bm_malloc")));
#endif

BM_NOINLINE static void free_sized_slow(void *p, size_t size,
    size_t alignment, const char *call) {
	if (p == NULL)
		return;
	if (config_hardened && zero_owns(p)) {
		if (size != 0 && zero_live(p))
			log_error(opt_abort_on_invalid, "%s(): invalid size %zu "
			    "for %p", call, size, p);
		return free_zero(p, call);
	}
	extent_t *e = lookup_alloc(p, call);
	if (e == NULL)
		return;
	if (!lookup_size_fits(e, p, size, alignment))
		log_error(opt_abort_on_invalid, "%s(): invalid size %zu for %p",
		    call, size, p);
	if (e->kind == EXTENT_SLAB)
		return free_small((slab_t *)e, p, call);
	if (UNLIKELY(opt_prof))
		prof_free(e);
	arena_free_run(e);
}

/* A free that names the size (and alignment, QUANTUM when none) the block
 * was asked for; a size the block cannot have is reported. */
BM_INLINE void free_sized(void *p, size_t size, size_t alignment,
    const char *call) {
	alignment = MAX(alignment, QUANTUM);
	if (!config_hardened && alignment == QUANTUM &&
	    LIKELY(size <= SZ_LOOKUP_MAX && p != NULL)) {
		slab_t *s = rtree_desc(p);
		if (LIKELY(s->ext.kind == EXTENT_SLAB && s->ext.szind ==
		    sz_lookup[(size + QUANTUM - 1) >> LG_QUANTUM]))
			return free_small(s, p, call);
	}
	free_sized_slow(p, size, alignment, call);
}

void bm_free_sized(void *p, size_t size) {
	free_sized(p, size, QUANTUM, "free_sized");
}

void bm_free_aligned_sized(void *p, size_t alignment, size_t size) {
	free_sized(p, size, alignment, "free_aligned_sized");
}

void malloc_delete_sized(void *p, size_t size, size_t alignment) {
	free_sized(p, size, alignment, "operator delete");
}

/* prof: run e was resized in place from old to size bytes: a sample keeps
 * its record with the new size; an unsampled run's growth is charged to the
 * countdown like an allocation of that many bytes. */
BM_NOINLINE static void malloc_prof_resized(extent_t *e, size_t old,
    size_t size) {
	arena_t *a = tsd_arena();
	if (prof_resize(e, size) || size <= old || a == NULL ||
	    !prof_sample_due(size - old))
		return;
	if (prof_sample_record(e, size, a->base))
		profdump_gdump();
}

/* A shrink that found no memory for its smaller block keeps p as it is,
 * as glibc never fails a shrink; e is marked so that sized frees accept
 * the smaller size (hardened builds move a small block's canary). */
BM_NOINLINE static void *realloc_keep(extent_t *e, void *p, size_t size,
    int saved_errno) {
	if (config_hardened && e->kind == EXTENT_SLAB)
		resize_small_tail((slab_t *)e, p, size);
	__atomic_store_n(&e->shrunk, 1, __ATOMIC_RELAXED);
	errno = saved_errno;
	return p;
}

void *bm_realloc(void *p, size_t size) {
	if (p == NULL)
		return bm_malloc(size);
	if (size == 0) {
		bm_free(p);
		return NULL;
	}
	if (size > PTRDIFF_MAX)
		return malloc_enomem();
	size_t old = 0;
	extent_t *e = NULL;
	if (config_hardened && zero_owns(p)) {
		if (!zero_live(p)) {
			lookup_report("realloc", "invalid pointer", p);
			return NULL;
		}
	} else {
		e = lookup_alloc(p, "realloc");
		if (e == NULL)
			return NULL;
		old = lookup_usable(e, p, "realloc");
		void *q = resize_in_place(e, p, size);
		if (q != NULL) {
			if (UNLIKELY(opt_prof) && e->kind != EXTENT_SLAB)
				malloc_prof_resized(e, old, size);
			return q;
		}
	}
	int saved_errno = errno;
	void *q = bm_malloc(size);
	if (q == NULL)
		return size <= old ? realloc_keep(e, p, size, saved_errno) : NULL;
	memcpy(q, p, MIN(old, size));
	bm_free(p);
	return q;
}

void *bm_reallocarray(void *p, size_t n, size_t size) {
	size_t total;
	if (__builtin_mul_overflow(n, size, &total))
		return malloc_enomem();
	return bm_realloc(p, total);
}

void *malloc_aligned(size_t alignment, size_t size) {
	if (alignment <= QUANTUM)
		return bm_malloc(size);
	return malloc_slow(size, alignment, false);
}

size_t bm_malloc_usable_size(const void *p) {
	if (p == NULL)
		return 0;
	if (config_hardened && zero_owns(p)) {
		if (!zero_live(p))
			lookup_report("malloc_usable_size", "invalid pointer", p);
		return 0;
	}
	return lookup_usable_query(p);
}

int bm_malloc_trim(size_t pad) {
	(void)pad;
	if (malloc_boot() != 0)
		return 0;
	arena_purge_all();
	return 1;
}
