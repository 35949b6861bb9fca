/*
 * hooks: the extent-hooks table (alloc, dalloc, commit, decommit, purge_lazy,
 * purge_forced, split, merge), the default table built on os, and the
 * reentrancy guard: while a user's hook runs, the thread is marked reentrant
 * so that a malloc from inside the hook takes a safe path. No locks.
 */
#ifndef BM_HOOKS_H
#define BM_HOOKS_H

#include "common.h"
#include "../include/basemalloc.h"

/* The default hooks: mmap-backed, through os. */
extern bm_extent_hooks_t hooks_default;

/* Each wrapper calls the hook (directly for the default table, inside the
 * reentrancy guard for a user's table) and returns its result; a NULL member
 * is a failure (non-zero / NULL). */
void *hooks_alloc(bm_extent_hooks_t *h, size_t size, size_t alignment,
    bool *zero, bool *commit, unsigned ind);
int hooks_dalloc(bm_extent_hooks_t *h, void *addr, size_t size, bool committed,
    unsigned ind);
int hooks_commit(bm_extent_hooks_t *h, void *addr, size_t size, unsigned ind);
int hooks_decommit(bm_extent_hooks_t *h, void *addr, size_t size, unsigned ind);
int hooks_purge_lazy(bm_extent_hooks_t *h, void *addr, size_t size,
    unsigned ind);
int hooks_purge_forced(bm_extent_hooks_t *h, void *addr, size_t size,
    unsigned ind);
/* Depth of user-hook calls on this thread (0 = not inside a hook). */
unsigned hooks_reentrancy(void);

#endif
