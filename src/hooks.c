/*
 * hooks: the default extent hooks (mmap-backed, through os) and the wrappers
 * every other module calls instead of a table member.
 * Invariants: the default table is called directly (no guard, no indirect
 * call); a user's table is called with this thread's reentrancy depth raised
 * by one, so that a malloc from inside the hook can take a safe path; a NULL
 * member is a failure. The depth is one initial-exec TLS word.
 * Locks: none (callers drop their own locks before calling a user's hook when
 * the hook may allocate).
 */
#include "hooks.h"
#include "os.h"

static __thread unsigned hooks_depth __attribute__((tls_model("initial-exec")));

static void *hooks_default_alloc(bm_extent_hooks_t *h, void *new_addr,
    size_t size, size_t alignment, bool *zero, bool *commit, unsigned ind) {
	(void)h;
	(void)ind;
	/* A fixed address cannot be promised by mmap without clobbering. */
	if (new_addr != NULL || size == 0 || !IS_POW2(alignment))
		return NULL;
	void *p = os_map_aligned(size, MAX(alignment, PAGE));
	if (p != NULL) {
		*zero = true;
		*commit = true;
	}
	return p;
}

static int hooks_default_dalloc(bm_extent_hooks_t *h, void *addr, size_t size,
    bool committed, unsigned ind) {
	(void)h;
	(void)committed;
	(void)ind;
	return os_unmap(addr, size);
}

/* The default hooks over a range: the os call on [addr+offset, +length). */
#define HOOKS_DEFAULT_RANGE(name, os_call)                                   \
	static int hooks_default_##name(bm_extent_hooks_t *h, void *addr,    \
	    size_t size, size_t offset, size_t length, unsigned ind) {       \
		(void)h;                                                     \
		(void)size;                                                  \
		(void)ind;                                                   \
		return os_call((char *)addr + offset, length);               \
	}

HOOKS_DEFAULT_RANGE(commit, os_commit)
HOOKS_DEFAULT_RANGE(decommit, os_decommit)
HOOKS_DEFAULT_RANGE(purge_lazy, os_purge_lazy)
HOOKS_DEFAULT_RANGE(purge_forced, os_purge_forced)

/* Any two page-aligned pieces of an anonymous mapping can be unmapped apart
 * and adjacent ones unmapped together: split and merge always succeed. */
static int hooks_default_split(bm_extent_hooks_t *h, void *addr, size_t size,
    size_t size_a, size_t size_b, bool committed, unsigned ind) {
	(void)h, (void)addr, (void)size, (void)size_a, (void)size_b;
	(void)committed, (void)ind;
	return 0;
}

static int hooks_default_merge(bm_extent_hooks_t *h, void *addr_a,
    size_t size_a, void *addr_b, size_t size_b, bool committed, unsigned ind) {
	(void)h, (void)addr_a, (void)size_a, (void)addr_b, (void)size_b;
	(void)committed, (void)ind;
	return 0;
}

bm_extent_hooks_t hooks_default = {
	.alloc = hooks_default_alloc,
	.dalloc = hooks_default_dalloc,
	.commit = hooks_default_commit,
	.decommit = hooks_default_decommit,
	.purge_lazy = hooks_default_purge_lazy,
	.purge_forced = hooks_default_purge_forced,
	.split = hooks_default_split,
	.merge = hooks_default_merge,
};

unsigned hooks_reentrancy(void) {
	return hooks_depth;
}

void *hooks_alloc(bm_extent_hooks_t *h, size_t size, size_t alignment,
    bool *zero, bool *commit, unsigned ind) {
	if (h == &hooks_default)
		return hooks_default_alloc(h, NULL, size, alignment, zero, commit,
		    ind);
	if (h->alloc == NULL)
		return NULL;
	hooks_depth++;
	void *p = h->alloc(h, NULL, size, alignment, zero, commit, ind);
	hooks_depth--;
	return p;
}

int hooks_dalloc(bm_extent_hooks_t *h, void *addr, size_t size, bool committed,
    unsigned ind) {
	if (h == &hooks_default)
		return hooks_default_dalloc(h, addr, size, committed, ind);
	if (h->dalloc == NULL)
		return 1;
	hooks_depth++;
	int err = h->dalloc(h, addr, size, committed, ind);
	hooks_depth--;
	return err;
}

/* The four range operations of a user's table share one shape: the whole
 * extent [addr, addr + size). */
typedef int (*hooks_range_fn)(bm_extent_hooks_t *, void *, size_t, size_t,
    size_t, unsigned);

/* A range operation over the whole extent: the default function directly,
 * a user's inside the reentrancy guard (NULL: not supported, a failure). */
static int hooks_range(bm_extent_hooks_t *h, hooks_range_fn def,
    hooks_range_fn user, void *addr, size_t size, unsigned ind) {
	if (h == &hooks_default)
		return def(h, addr, size, 0, size, ind);
	if (user == NULL)
		return 1;
	hooks_depth++;
	int err = user(h, addr, size, 0, size, ind);
	hooks_depth--;
	return err;
}

int hooks_commit(bm_extent_hooks_t *h, void *addr, size_t size, unsigned ind) {
	return hooks_range(h, hooks_default_commit, h->commit, addr, size, ind);
}

int hooks_decommit(bm_extent_hooks_t *h, void *addr, size_t size,
    unsigned ind) {
	return hooks_range(h, hooks_default_decommit, h->decommit, addr, size,
	    ind);
}

int hooks_purge_lazy(bm_extent_hooks_t *h, void *addr, size_t size,
    unsigned ind) {
	return hooks_range(h, hooks_default_purge_lazy, h->purge_lazy, addr,
	    size, ind);
}

int hooks_purge_forced(bm_extent_hooks_t *h, void *addr, size_t size,
    unsigned ind) {
	return hooks_range(h, hooks_default_purge_forced, h->purge_forced, addr,
	    size, ind);
}
