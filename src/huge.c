/*
 * huge: huge mappings and the arena's spare one. Mapping, unmapping and
 * purging the spare's tail happen without pages_t.lock; the lock guards the
 * spare's slot, the descriptor cache and the arena's huge figures. A
 * mapping the kernel refuses to unmap (ENOMEM at its limit on mappings)
 * becomes free pages of the arena instead of a silent leak.
 */
#include "huge.h"
#include "conf.h"
#include "log.h"
#include "os.h"
#include "purge.h"
#include "rtree.h"

#include <errno.h>

static _Atomic uint64_t huge_count, huge_count_peak;
static _Atomic uint64_t huge_bytes, huge_bytes_peak;

/* Raise *peak to v if v is larger. */
static void huge_peak_raise(_Atomic uint64_t *peak, uint64_t v) {
	uint64_t old = atomic_load_explicit(peak, memory_order_relaxed);
	while (old < v && !atomic_compare_exchange_weak_explicit(peak, &old, v,
	    memory_order_relaxed, memory_order_relaxed))
		;
}

/* Account dn huge mappings and db bytes more (or fewer). */
static void huge_account(int64_t dn, int64_t db) {
	uint64_t n = atomic_fetch_add_explicit(&huge_count, (uint64_t)dn,
	    memory_order_relaxed) + (uint64_t)dn;
	uint64_t b = atomic_fetch_add_explicit(&huge_bytes, (uint64_t)db,
	    memory_order_relaxed) + (uint64_t)db;
	huge_peak_raise(&huge_count_peak, n);
	huge_peak_raise(&huge_bytes_peak, b);
}

void huge_stats_get(huge_stats_t *out) {
	out->count = atomic_load_explicit(&huge_count, memory_order_relaxed);
	out->count_peak = atomic_load_explicit(&huge_count_peak,
	    memory_order_relaxed);
	out->bytes = atomic_load_explicit(&huge_bytes, memory_order_relaxed);
	out->bytes_peak = atomic_load_explicit(&huge_bytes_peak,
	    memory_order_relaxed);
}

/* Take the spare if it fits size bytes at alignment (lock held). */
static extent_t *huge_spare_take_locked(pages_t *p, size_t size,
    size_t alignment) {
	extent_t *s = p->huge_spare;
	if (s == NULL || s->size < size || s->size / 2 > size ||
	    (s->addr & (MAX(alignment, PAGE) - 1)) != 0)
		return NULL;
	p->huge_spare = NULL;
	p->stats.spare = 0;
	p->stats.mapped -= s->size;
	p->stats.huge += s->size;
	p->stats.n_huge++;
	return s;
}

/* Keep the freed huge run desc (out of the rtree already) as the spare,
 * unless the spare there is as large; true when kept. Its pages past the
 * first HUGE_SPARE_KEEP are purged before anyone can take it. The fault
 * build keeps none: its tests count on every huge allocation mapping. */
static bool huge_spare_keep(pages_t *p, extent_t *desc) {
#ifdef BM_FAULT_INJECT
	return false;
#endif
	if (opt_dirty_decay_ms == 0)
		return false;
	mutex_lock(&p->lock);
	bool larger = p->huge_spare == NULL || p->huge_spare->size < desc->size;
	mutex_unlock(&p->lock);
	if (!larger)
		return false;
	os_purge_forced((void *)(desc->addr + HUGE_SPARE_KEEP),
	    desc->size - HUGE_SPARE_KEEP);
	/* Once published, desc belongs to whoever takes the spare: read
	 * its size here, not after the unlock. */
	size_t size = desc->size;
	mutex_lock(&p->lock);
	extent_t *old = pages_spare_drop_locked(p);
	p->huge_spare = desc;
	p->spare_since = os_now_ns();
	p->stats.spare = size;
	p->stats.mapped += size;
	p->stats.huge -= size;
	p->stats.n_huge--;
	mutex_unlock(&p->lock);
	huge_account(-1, -(int64_t)size);
	if (old != NULL) {
		int err = os_unmap((void *)old->addr, old->size);
		mutex_lock(&p->lock);
		pages_spare_unmapped_locked(p, old, err);
		mutex_unlock(&p->lock);
	}
	return true;
}

extent_t *huge_alloc(pages_t *p, size_t size, size_t alignment,
    bool *zeroed) {
	mutex_lock(&p->lock);
	extent_t *desc = huge_spare_take_locked(p, size, alignment);
	mutex_unlock(&p->lock);
	if (desc != NULL) {
		extent_tag(desc, EXTENT_HUGE, p->owner);
		rtree_set((void *)desc->addr, desc);
		huge_account(1, (int64_t)desc->size);
		*zeroed = false;
		return desc;
	}
	*zeroed = true;
	desc = pages_desc_get(p);
	if (desc == NULL)
		return NULL;
	void *addr = os_map_accounted(size, MAX(alignment, PAGE));
	if (addr == NULL || rtree_reserve(addr, size) != 0) {
		if (addr != NULL)
			os_unmap(addr, size);
		pages_desc_put(p, desc);
		return NULL;
	}
	desc->addr = (uintptr_t)addr;
	desc->size = size;
	extent_tag(desc, EXTENT_HUGE, p->owner);
	rtree_set(addr, desc);
	mutex_lock(&p->lock);
	p->stats.huge += size;
	p->stats.n_huge++;
	mutex_unlock(&p->lock);
	huge_account(1, (int64_t)size);
	return desc;
}

void huge_free(pages_t *p, extent_t *desc) {
	rtree_set((void *)desc->addr, NULL);
	__atomic_store_n(&desc->kind, 0, __ATOMIC_RELAXED);
	if (huge_spare_keep(p, desc))
		return;
	int err = os_unmap((void *)desc->addr, desc->size);
	mutex_lock(&p->lock);
	p->stats.huge -= desc->size;
	p->stats.n_huge--;
	huge_account(-1, -(int64_t)desc->size);
	pages_desc_put_locked(p, desc);
	/* A mapping the kernel kept (ENOMEM at its limit on mappings: the unmap
	 * would split a merged one) becomes free pages, under that descriptor
	 * (the cache gives it back first; its rtree leaves exist). */
	if (err != 0) {
		p->stats.mapped += desc->size;
		purge_freed_locked(p, desc->addr, desc->size);
	}
	mutex_unlock(&p->lock);
}

int huge_resize(pages_t *p, extent_t *desc, size_t new_size) {
	void *old = (void *)desc->addr;
	/* Leaves for all of it (huge_free may register its last page). */
	if (new_size > desc->size && rtree_reserve(old, new_size) != 0)
		return ENOMEM;
	void *addr = os_remap(old, desc->size, new_size);
	if (addr == NULL)
		return ENOMEM;
	if (addr != old) {
		if (rtree_reserve(addr, new_size) != 0)
			log_fatal("out of metadata recording a huge run at %p",
			    addr);
		rtree_set(old, NULL);
		rtree_set(addr, desc);
	}
	mutex_lock(&p->lock);
	p->stats.huge += new_size;
	p->stats.huge -= desc->size;
	mutex_unlock(&p->lock);
	huge_account(0, (int64_t)new_size - (int64_t)desc->size);
	desc->addr = (uintptr_t)addr;
	desc->size = new_size;
	return 0;
}
