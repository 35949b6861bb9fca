/*
 * stats: the figures of every layer, gathered on demand; the report (text and
 * JSON); bm_ctl; glibc's malloc_stats, mallinfo, mallinfo2 and malloc_info.
 *
 * Counters are kept where they cost nothing on the fast paths: page-run and
 * huge figures under each arena's pages lock, base figures under each base's
 * lock, kernel calls in os, and per-bin figures in the owner's bins (slow
 * paths only). Live objects per class are derived on read: a full slab is on
 * no list and holds nblocks objects, so full = nslabs - current - spare -
 * partial, and live = full * nblocks + `used` of the current and partial
 * slabs. Bins are the owner's: read from another thread their figures are
 * approximate (relaxed loads of fields the owner writes plainly), and blocks
 * freed by other threads count as live until the owner collects them. The
 * owner itself, and an arena no thread is using at the moment, read
 * exactly.
 *
 * bm_ctl: one table of names (a '#' stands for a decimal index), each with a
 * type and where its value comes from. The "stats." totals read a snapshot
 * that writing "epoch" refreshes (the first read takes one); "stats.arenas.#."
 * names and the blocks list read the current value.
 *
 * Locks: stats_mtx (rank INIT) guards the snapshot; gathering takes, one at a
 * time, the pool lock, each arena's pages lock and each base's lock. No lock
 * is held while the report calls the user's write callback.
 */
#include "stats.h"
#include "arena.h"
#include "base.h"
#include "bg.h"
#include "conf.h"
#include "log.h"
#include "mutex.h"
#include "os.h"
#include "sz.h"
#include "tsd.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

#define BM_VERSION "0.1.0"
/* A relaxed atomic read of a plain field another thread may be writing. */
#define RD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)
/* Blocks listed per base in the report (more are counted, not listed). */
#define STATS_BLOCKS_MAX 64
/* Blocks read per base for the "stats.base.blocks_list" answer. */
#define STATS_LIST_MAX 256
/* size_t words per entry of "stats.base.blocks_list". */
#define STATS_LIST_WORDS 5
/* Longest line the report writes in one piece. */
#define STATS_LINE_MAX 512

/* ---------------------------------------------------------------------- */
/* Gathering */

typedef struct {
	uint64_t live;       /* objects out */
	uint64_t slabs;      /* live slabs (the spare included) */
	uint64_t capacity;   /* blocks in those slabs */
	uint64_t refills;    /* slow-path refills */
} stats_bin_t;

typedef struct {
	pages_stats_t pages;
	base_stats_t base;
	uint64_t remote_frees;   /* remote frees the owner collected */
	uint64_t adopted;        /* times taken from the pool */
	uint64_t large_nmalloc;  /* large runs ever allocated */
	uint64_t small_live;     /* small objects out */
	size_t small_allocated;  /* their bytes (class sizes) */
	size_t large_bytes;      /* bytes in large runs */
	size_t allocated;        /* small + large + huge bytes */
	size_t active;           /* slab and large runs plus huge mappings */
	stats_bin_t bins[SZ_NSMALL];
} stats_arena_t;

typedef struct {
	stats_arena_t arenas;      /* every arena added up */
	base_stats_t b0;
	base_stats_t base;         /* b0 and every arena's base */
	os_stats_t os;
	unsigned narenas, abandoned, in_use;
	size_t allocated, active, resident, mapped, metadata, os_mapped;
} stats_t;

static mutex_t stats_mtx;
static _Atomic bool stats_ready;
static stats_t stats_snap;       /* guarded by stats_mtx */
static uint64_t stats_epoch;     /* guarded by stats_mtx; 0 = no snapshot */

void stats_boot(void) {
	if (atomic_load(&stats_ready))
		return;
	if (mutex_init(&stats_mtx, "stats", MUTEX_RANK_INIT) == 0)
		atomic_store(&stats_ready, true);
}

/* One bin's figures (see the file comment for how live is derived). */
static void stats_bin_read(const bin_t *bin, unsigned ind, stats_bin_t *out) {
	uint64_t nblocks = RD(bin->slab_size) / sz_index2size(ind);
	uint64_t nslabs = RD(bin->nslabs), listed = 0, live = 0;
	slab_t *cur = RD(bin->cur);
	if (cur != &arena_slab_empty) {
		live += RD(cur->used);
		listed++;
	}
	if (RD(bin->spare) != NULL)
		listed++;
	for (slab_t *s = RD(bin->partial); s != NULL && listed < nslabs;
	    s = RD(s->next)) {
		live += RD(s->used);
		listed++;
	}
	live += (nslabs > listed ? nslabs - listed : 0) * nblocks;
	out->slabs = nslabs;
	out->capacity = nslabs * nblocks;
	out->live = MIN(live, out->capacity);
	out->refills = RD(bin->nrequests);
}

static void stats_arena_read(arena_t *a, stats_arena_t *out) {
	memset(out, 0, sizeof(*out));
	pages_stats_get(&a->pages, &out->pages);
	base_stats_get(a->base, &out->base);
	out->remote_frees = atomic_load_explicit(&a->remote_frees,
	    memory_order_relaxed);
	out->adopted = RD(a->n_adopted);
	out->large_nmalloc = RD(a->n_large);
	for (unsigned i = 0; i < SZ_NSMALL; i++) {
		stats_bin_t *b = &out->bins[i];
		stats_bin_read(&a->bins[i], i, b);
		out->small_live += b->live;
		out->small_allocated += b->live * sz_index2size(i);
	}
	const pages_stats_t *p = &out->pages;
	out->large_bytes = p->active > p->slab ? p->active - p->slab : 0;
	out->allocated = out->small_allocated + out->large_bytes + p->huge;
	out->active = p->active + p->huge;
}

static void stats_base_add(base_stats_t *sum, const base_stats_t *b) {
	sum->allocated += b->allocated;
	sum->resident += b->resident;
	sum->mapped += b->mapped;
	sum->n_thp += b->n_thp;
	sum->blocks += b->blocks;
}

static void stats_pages_add(pages_stats_t *sum, const pages_stats_t *p) {
	sum->mapped += p->mapped;
	sum->active += p->active;
	sum->dirty += p->dirty;
	sum->huge += p->huge;
	sum->purged += p->purged;
	sum->purge_runs += p->purge_runs;
	sum->n_huge += p->n_huge;
	sum->slab += p->slab;
	sum->n_large += p->n_large;
}

static void stats_arena_add(stats_arena_t *sum, const stats_arena_t *a) {
	stats_pages_add(&sum->pages, &a->pages);
	stats_base_add(&sum->base, &a->base);
	sum->remote_frees += a->remote_frees;
	sum->adopted += a->adopted;
	sum->large_nmalloc += a->large_nmalloc;
	sum->small_live += a->small_live;
	sum->small_allocated += a->small_allocated;
	sum->large_bytes += a->large_bytes;
	sum->allocated += a->allocated;
	sum->active += a->active;
	for (unsigned i = 0; i < SZ_NSMALL; i++) {
		sum->bins[i].live += a->bins[i].live;
		sum->bins[i].slabs += a->bins[i].slabs;
		sum->bins[i].capacity += a->bins[i].capacity;
		sum->bins[i].refills += a->bins[i].refills;
	}
}

/* Everything, now. Resident is an upper bound: run pages never touched
 * since they were mapped or purged count as resident. */
static void stats_gather(stats_t *st) {
	memset(st, 0, sizeof(*st));
	st->narenas = arena_count();
	st->abandoned = arena_count_abandoned();
	st->in_use = st->narenas > st->abandoned ? st->narenas - st->abandoned
	    : 0;
	for (unsigned i = 0; i < st->narenas; i++) {
		stats_arena_t a;
		stats_arena_read(arena_get(i), &a);
		stats_arena_add(&st->arenas, &a);
	}
	if (base_b0() != NULL)
		base_stats_get(base_b0(), &st->b0);
	st->base = st->b0;
	stats_base_add(&st->base, &st->arenas.base);
	os_stats_get(&st->os);
	const pages_stats_t *p = &st->arenas.pages;
	st->allocated = st->arenas.allocated;
	st->active = st->arenas.active;
	st->mapped = p->mapped + p->huge + st->base.mapped;
	st->resident = st->active + p->dirty + st->base.resident;
	st->metadata = st->base.allocated;
	st->os_mapped = st->os.bytes_mapped - st->os.bytes_unmapped;
}

void stats_base_totals(stats_base_totals_t *out) {
	base_stats_t sum;
	memset(&sum, 0, sizeof(sum));
	if (base_b0() != NULL) {
		base_stats_t b;
		base_stats_get(base_b0(), &b);
		stats_base_add(&sum, &b);
	}
	unsigned n = arena_count();
	for (unsigned i = 0; i < n; i++) {
		base_stats_t b;
		base_stats_get(arena_get(i)->base, &b);
		stats_base_add(&sum, &b);
	}
	out->allocated = sum.allocated;
	out->resident = sum.resident;
	out->mapped = sum.mapped;
	out->n_thp = sum.n_thp;
	out->blocks = sum.blocks;
}

/* ---------------------------------------------------------------------- */
/* bm_ctl */

typedef enum {
	CTL_BOOL,
	CTL_UNSIGNED,
	CTL_LONG,
	CTL_SIZE,
	CTL_U64,
	CTL_STRING,   /* const char * to static storage */
	CTL_LIST,     /* size_t words, see ctl_read_list */
	CTL_ACTION,   /* no value; newp is the argument */
} ctl_type_t;

static const size_t ctl_type_size[] = {
	[CTL_BOOL] = sizeof(bool), [CTL_UNSIGNED] = sizeof(unsigned),
	[CTL_LONG] = sizeof(long), [CTL_SIZE] = sizeof(size_t),
	[CTL_U64] = sizeof(uint64_t), [CTL_STRING] = sizeof(const char *),
};

typedef enum {
	SRC_FN,         /* get/set functions */
	SRC_VAR,        /* a variable (strings: the char array itself) */
	SRC_SNAP,       /* field at off in the snapshot */
	SRC_SNAP_BIN,   /* field at off in the snapshot's bin # */
	SRC_ARENA,      /* field at off of arena #, read now */
	SRC_ARENA_BIN,  /* field at off of arena #'s bin #, read now */
} ctl_src_t;

typedef union {
	bool b;
	unsigned u;
	long l;
	size_t z;
	uint64_t q;
	const char *s;
} ctl_value_t;

typedef struct {
	const char *name;
	uint8_t type;    /* ctl_type_t */
	uint8_t src;     /* ctl_src_t */
	size_t off;
	const void *var;
	int (*get)(const unsigned *idx, ctl_value_t *v);
	int (*set)(const unsigned *idx, const void *newp, size_t newlen);
} ctl_entry_t;

static int ctl_get_version(const unsigned *idx, ctl_value_t *v) {
	(void)idx;
	v->s = BM_VERSION;
	return 0;
}

static void stats_refresh_locked(void) {
	stats_gather(&stats_snap);
	stats_epoch++;
}

static int ctl_get_epoch(const unsigned *idx, ctl_value_t *v) {
	(void)idx;
	mutex_lock(&stats_mtx);
	v->q = stats_epoch;
	mutex_unlock(&stats_mtx);
	return 0;
}

static int ctl_set_epoch(const unsigned *idx, const void *newp,
    size_t newlen) {
	(void)idx;
	(void)newp;
	if (newlen != sizeof(uint64_t))
		return EINVAL;
	mutex_lock(&stats_mtx);
	stats_refresh_locked();
	mutex_unlock(&stats_mtx);
	return 0;
}

static int ctl_get_metadata_thp(const unsigned *idx, ctl_value_t *v) {
	static const char *const names[] = { "disabled", "auto", "always" };
	(void)idx;
	unsigned m = (unsigned)opt_metadata_thp;
	v->s = m < 3 ? names[m] : "unknown";
	return 0;
}

static int ctl_get_thread_arena(const unsigned *idx, ctl_value_t *v) {
	(void)idx;
	arena_t *a = tsd_arena();
	if (a == NULL)
		return EAGAIN;
	v->u = a->ind;
	return 0;
}

static int ctl_get_narenas(const unsigned *idx, ctl_value_t *v) {
	(void)idx;
	v->u = arena_count();
	return 0;
}

static int ctl_get_abandoned(const unsigned *idx, ctl_value_t *v) {
	(void)idx;
	v->u = arena_count_abandoned();
	return 0;
}

static int ctl_get_in_use(const unsigned *idx, ctl_value_t *v) {
	(void)idx;
	unsigned n = arena_count(), ab = arena_count_abandoned();
	v->u = n > ab ? n - ab : 0;
	return 0;
}

static int ctl_get_adopted(const unsigned *idx, ctl_value_t *v) {
	(void)idx;
	unsigned n = arena_count();
	v->q = 0;
	for (unsigned i = 0; i < n; i++)
		v->q += RD(arena_get(i)->n_adopted);
	return 0;
}

static int ctl_get_nbins(const unsigned *idx, ctl_value_t *v) {
	(void)idx;
	v->u = SZ_NSMALL;
	return 0;
}

static int ctl_get_bin_size(const unsigned *idx, ctl_value_t *v) {
	if (idx[0] >= SZ_NSMALL)
		return ENOENT;
	v->z = sz_index2size(idx[0]);
	return 0;
}

/* Bin geometry is the same in every arena: read it from arena 0. */
static int ctl_get_bin_slab_size(const unsigned *idx, ctl_value_t *v) {
	if (idx[0] >= SZ_NSMALL)
		return ENOENT;
	arena_t *a = arena_get(0);
	if (a == NULL)
		return EAGAIN;
	v->z = a->bins[idx[0]].slab_size;
	return 0;
}

static int ctl_get_bin_nblocks(const unsigned *idx, ctl_value_t *v) {
	int err = ctl_get_bin_slab_size(idx, v);
	if (err == 0)
		v->u = (unsigned)(v->z / sz_index2size(idx[0]));
	return err;
}

/* Actions: no value to read, newp is the argument. */
static int ctl_act_purge_all(const unsigned *idx, const void *newp,
    size_t newlen) {
	(void)idx;
	(void)newlen;
	if (newp != NULL)
		return EINVAL;
	arena_purge_all();
	return 0;
}

static int ctl_act_purge_one(const unsigned *idx, const void *newp,
    size_t newlen) {
	(void)newlen;
	if (newp != NULL)
		return EINVAL;
	arena_t *a = arena_get(idx[0]);
	if (a == NULL)
		return ENOENT;
	pages_purge(&a->pages, true);
	return 0;
}

/* ---------------------------------------------------------------------- */
/* The background purger's figures (issue 11), read at the call. */

static int ctl_get_bg_running(const unsigned *idx, ctl_value_t *v) {
	(void)idx;
	bg_stats_t b;
	bg_stats_get(&b);
	v->b = b.running;
	return 0;
}

static int ctl_get_bg_starts(const unsigned *idx, ctl_value_t *v) {
	(void)idx;
	bg_stats_t b;
	bg_stats_get(&b);
	v->q = b.starts;
	return 0;
}

static int ctl_get_bg_passes(const unsigned *idx, ctl_value_t *v) {
	(void)idx;
	bg_stats_t b;
	bg_stats_get(&b);
	v->q = b.passes;
	return 0;
}

/* ---------------------------------------------------------------------- */

#ifdef BM_FAULT_INJECT
/* newp: a uint64_t n; the n-th OS map from now fails (0 = none). */
static int ctl_act_fault_inject(const unsigned *idx, const void *newp,
    size_t newlen) {
	uint64_t n;
	(void)idx;
	if (newp == NULL || newlen != sizeof(n))
		return EINVAL;
	memcpy(&n, newp, sizeof(n));
	os_fault_inject(n);
	return 0;
}
#endif

#define E_FN(n, t, g, s) { n, t, SRC_FN, 0, NULL, g, s }
#define E_ACT(n, a) { n, CTL_ACTION, SRC_FN, 0, NULL, NULL, a }
#define E_VAR(n, t, v) { n, t, SRC_VAR, 0, v, NULL, NULL }
#define E_SNAP(n, t, f) { n, t, SRC_SNAP, offsetof(stats_t, f), NULL, NULL, NULL }
#define E_SBIN(n, f) { n, CTL_U64, SRC_SNAP_BIN, offsetof(stats_bin_t, f), \
	NULL, NULL, NULL }
#define E_ARENA(n, t, f) { n, t, SRC_ARENA, offsetof(stats_arena_t, f), \
	NULL, NULL, NULL }
#define E_ABIN(n, f) { n, CTL_U64, SRC_ARENA_BIN, offsetof(stats_bin_t, f), \
	NULL, NULL, NULL }

/* Every name; README.md and include/basemalloc.h list the same. */
static const ctl_entry_t ctl_table[] = {
	E_FN("version", CTL_STRING, ctl_get_version, NULL),
	E_FN("epoch", CTL_U64, ctl_get_epoch, ctl_set_epoch),
	E_FN("opt.metadata_thp", CTL_STRING, ctl_get_metadata_thp, NULL),
	E_VAR("opt.dirty_decay_ms", CTL_LONG, &opt_dirty_decay_ms),
	E_VAR("opt.dirty_max", CTL_SIZE, &opt_dirty_max),
	E_VAR("opt.abort_on_invalid", CTL_BOOL, &opt_abort_on_invalid),
	E_VAR("opt.stats_print", CTL_BOOL, &opt_stats_print),
	E_VAR("opt.stats_opts", CTL_STRING, opt_stats_opts),
	E_VAR("opt.stats_file", CTL_STRING, opt_stats_file),
	E_VAR("opt.junk", CTL_BOOL, &opt_junk),
	E_VAR("opt.background_thread", CTL_BOOL, &opt_background_thread),
	E_FN("background_thread.running", CTL_BOOL, ctl_get_bg_running, NULL),
	E_FN("background_thread.starts", CTL_U64, ctl_get_bg_starts, NULL),
	E_FN("background_thread.passes", CTL_U64, ctl_get_bg_passes, NULL),
	E_FN("thread.arena", CTL_UNSIGNED, ctl_get_thread_arena, NULL),
	E_FN("arenas.narenas", CTL_UNSIGNED, ctl_get_narenas, NULL),
	E_FN("arenas.abandoned", CTL_UNSIGNED, ctl_get_abandoned, NULL),
	E_FN("arenas.in_use", CTL_UNSIGNED, ctl_get_in_use, NULL),
	E_FN("arenas.adopted", CTL_U64, ctl_get_adopted, NULL),
	E_FN("arenas.nbins", CTL_UNSIGNED, ctl_get_nbins, NULL),
	E_FN("arenas.bin.#.size", CTL_SIZE, ctl_get_bin_size, NULL),
	E_FN("arenas.bin.#.slab_size", CTL_SIZE, ctl_get_bin_slab_size, NULL),
	E_FN("arenas.bin.#.nblocks", CTL_UNSIGNED, ctl_get_bin_nblocks, NULL),
	E_ACT("arena.purge", ctl_act_purge_all),
	E_ACT("arena.#.purge", ctl_act_purge_one),
	E_SNAP("stats.allocated", CTL_SIZE, allocated),
	E_SNAP("stats.active", CTL_SIZE, active),
	E_SNAP("stats.metadata", CTL_SIZE, metadata),
	E_SNAP("stats.resident", CTL_SIZE, resident),
	E_SNAP("stats.mapped", CTL_SIZE, mapped),
	E_SNAP("stats.pages_mapped", CTL_SIZE, arenas.pages.mapped),
	E_SNAP("stats.dirty", CTL_SIZE, arenas.pages.dirty),
	E_SNAP("stats.purged", CTL_U64, arenas.pages.purged),
	E_SNAP("stats.purge_runs", CTL_U64, arenas.pages.purge_runs),
	E_SNAP("stats.remote_frees", CTL_U64, arenas.remote_frees),
	E_SNAP("stats.small.allocated", CTL_SIZE, arenas.small_allocated),
	E_SNAP("stats.small.live", CTL_U64, arenas.small_live),
	E_SNAP("stats.large.count", CTL_U64, arenas.pages.n_large),
	E_SNAP("stats.large.bytes", CTL_SIZE, arenas.large_bytes),
	E_SNAP("stats.large.nmalloc", CTL_U64, arenas.large_nmalloc),
	E_SNAP("stats.huge.count", CTL_U64, arenas.pages.n_huge),
	E_SNAP("stats.huge.bytes", CTL_SIZE, arenas.pages.huge),
	E_SNAP("stats.base.allocated", CTL_SIZE, base.allocated),
	E_SNAP("stats.base.resident", CTL_SIZE, base.resident),
	E_SNAP("stats.base.mapped", CTL_SIZE, base.mapped),
	E_SNAP("stats.base.n_thp", CTL_SIZE, base.n_thp),
	E_SNAP("stats.base.blocks", CTL_SIZE, base.blocks),
	{ "stats.base.blocks_list", CTL_LIST, SRC_FN, 0, NULL, NULL, NULL },
	E_SNAP("stats.b0.allocated", CTL_SIZE, b0.allocated),
	E_SNAP("stats.b0.resident", CTL_SIZE, b0.resident),
	E_SNAP("stats.b0.mapped", CTL_SIZE, b0.mapped),
	E_SNAP("stats.b0.n_thp", CTL_SIZE, b0.n_thp),
	E_SNAP("stats.b0.blocks", CTL_SIZE, b0.blocks),
	E_SNAP("stats.mmap_calls", CTL_U64, os.n_mmap),
	E_SNAP("stats.munmap_calls", CTL_U64, os.n_munmap),
	E_SNAP("stats.madvise_calls", CTL_U64, os.n_madvise),
	E_SNAP("stats.mremap_calls", CTL_U64, os.n_mremap),
	E_SNAP("stats.os_mapped", CTL_SIZE, os_mapped),
	E_SBIN("stats.bins.#.live", live),
	E_SBIN("stats.bins.#.slabs", slabs),
	E_SBIN("stats.bins.#.capacity", capacity),
	E_SBIN("stats.bins.#.refills", refills),
	E_ARENA("stats.arenas.#.allocated", CTL_SIZE, allocated),
	E_ARENA("stats.arenas.#.active", CTL_SIZE, active),
	E_ARENA("stats.arenas.#.mapped", CTL_SIZE, pages.mapped),
	E_ARENA("stats.arenas.#.dirty", CTL_SIZE, pages.dirty),
	E_ARENA("stats.arenas.#.purged", CTL_U64, pages.purged),
	E_ARENA("stats.arenas.#.purge_runs", CTL_U64, pages.purge_runs),
	E_ARENA("stats.arenas.#.remote_frees", CTL_U64, remote_frees),
	E_ARENA("stats.arenas.#.adopted", CTL_U64, adopted),
	E_ARENA("stats.arenas.#.small.live", CTL_U64, small_live),
	E_ARENA("stats.arenas.#.small.allocated", CTL_SIZE, small_allocated),
	E_ARENA("stats.arenas.#.large.count", CTL_U64, pages.n_large),
	E_ARENA("stats.arenas.#.large.bytes", CTL_SIZE, large_bytes),
	E_ARENA("stats.arenas.#.huge.count", CTL_U64, pages.n_huge),
	E_ARENA("stats.arenas.#.huge.bytes", CTL_SIZE, pages.huge),
	E_ARENA("stats.arenas.#.base.allocated", CTL_SIZE, base.allocated),
	E_ARENA("stats.arenas.#.base.resident", CTL_SIZE, base.resident),
	E_ARENA("stats.arenas.#.base.mapped", CTL_SIZE, base.mapped),
	E_ARENA("stats.arenas.#.base.n_thp", CTL_SIZE, base.n_thp),
	E_ARENA("stats.arenas.#.base.blocks", CTL_SIZE, base.blocks),
	E_ABIN("stats.arenas.#.bins.#.live", live),
	E_ABIN("stats.arenas.#.bins.#.slabs", slabs),
	E_ABIN("stats.arenas.#.bins.#.capacity", capacity),
	E_ABIN("stats.arenas.#.bins.#.refills", refills),
#ifdef BM_FAULT_INJECT
	E_ACT("debug.fault_inject", ctl_act_fault_inject),
#endif
};

#define CTL_NENTRIES (sizeof(ctl_table) / sizeof(ctl_table[0]))
#define CTL_NIDX 2

/* Match name against pattern pat ('#' = decimal digits); fill idx. */
static bool ctl_match(const char *pat, const char *name, unsigned *idx) {
	unsigned k = 0;
	while (*pat != '\0') {
		if (*pat != '#') {
			if (*pat++ != *name++)
				return false;
			continue;
		}
		if (*name < '0' || *name > '9' || k == CTL_NIDX)
			return false;
		unsigned long v = 0;
		for (; *name >= '0' && *name <= '9'; name++) {
			v = v * 10 + (unsigned long)(*name - '0');
			if (v > UINT_MAX)
				return false;
		}
		idx[k++] = (unsigned)v;
		pat++;
	}
	return *name == '\0';
}

static const ctl_entry_t *ctl_lookup(const char *name, unsigned *idx) {
	for (size_t i = 0; i < CTL_NENTRIES; i++) {
		if (ctl_match(ctl_table[i].name, name, idx))
			return &ctl_table[i];
	}
	return NULL;
}

static void ctl_field(const ctl_entry_t *e, const void *base, size_t off,
    ctl_value_t *v) {
	memcpy(v, (const char *)base + off, ctl_type_size[e->type]);
}

static int ctl_get_snap(const ctl_entry_t *e, const unsigned *idx,
    ctl_value_t *v) {
	size_t off = e->off;
	if (e->src == SRC_SNAP_BIN) {
		if (idx[0] >= SZ_NSMALL)
			return ENOENT;
		off += offsetof(stats_t, arenas.bins) +
		    idx[0] * sizeof(stats_bin_t);
	}
	mutex_lock(&stats_mtx);
	if (stats_epoch == 0)
		stats_refresh_locked();
	ctl_field(e, &stats_snap, off, v);
	mutex_unlock(&stats_mtx);
	return 0;
}

static int ctl_get_arena(const ctl_entry_t *e, const unsigned *idx,
    ctl_value_t *v) {
	arena_t *a = arena_get(idx[0]);
	if (a == NULL)
		return ENOENT;
	if (e->src == SRC_ARENA_BIN && idx[1] >= SZ_NSMALL)
		return ENOENT;
	stats_arena_t st;
	stats_arena_read(a, &st);
	if (e->src == SRC_ARENA_BIN)
		ctl_field(e, &st.bins[idx[1]], e->off, v);
	else
		ctl_field(e, &st, e->off, v);
	return 0;
}

static int ctl_get(const ctl_entry_t *e, const unsigned *idx,
    ctl_value_t *v) {
	memset(v, 0, sizeof(*v));
	switch (e->src) {
	case SRC_FN:
		return e->get != NULL ? e->get(idx, v) : EPERM;
	case SRC_VAR:
		if (e->type == CTL_STRING)
			v->s = e->var;
		else
			memcpy(v, e->var, ctl_type_size[e->type]);
		return 0;
	case SRC_SNAP:
	case SRC_SNAP_BIN:
		return ctl_get_snap(e, idx, v);
	default:
		return ctl_get_arena(e, idx, v);
	}
}

/* Append the blocks of base (owner: arena index, SIZE_MAX for b0) to out
 * (room for cap entries) from entry *n on; counts every block in *n. */
static void ctl_list_base(base_t *base, size_t owner, size_t *out, size_t cap,
    size_t *n) {
	base_block_info_t info[STATS_LIST_MAX];
	size_t nb = base_blocks_get(base, info, out != NULL ? STATS_LIST_MAX : 0);
	for (size_t i = 0; i < nb; i++, (*n)++) {
		if (out == NULL || i >= STATS_LIST_MAX || *n >= cap)
			continue;
		size_t *w = out + *n * STATS_LIST_WORDS;
		w[0] = owner;
		w[1] = info[i].addr;
		w[2] = info[i].size;
		w[3] = info[i].used;
		w[4] = info[i].huge;
	}
}

/* "stats.base.blocks_list": STATS_LIST_WORDS size_t per block (owner, address,
 * size, used, huge), b0 first. *oldlenp: in, the buffer's bytes; out, the
 * bytes written, or the bytes needed with EINVAL when the buffer is short. */
static int ctl_read_list(void *oldp, size_t *oldlenp) {
	if (oldlenp == NULL)
		return oldp == NULL ? 0 : EINVAL;
	size_t entry = STATS_LIST_WORDS * sizeof(size_t);
	size_t cap = oldp != NULL ? *oldlenp / entry : 0, n = 0;
	if (base_b0() != NULL)
		ctl_list_base(base_b0(), SIZE_MAX, oldp, cap, &n);
	unsigned na = arena_count();
	for (unsigned i = 0; i < na; i++)
		ctl_list_base(arena_get(i)->base, i, oldp, cap, &n);
	*oldlenp = n * entry;
	return oldp != NULL && n > cap ? EINVAL : 0;
}

/* Copy v out: oldp NULL with oldlenp set asks for the length. */
static int ctl_copy_out(const ctl_entry_t *e, const ctl_value_t *v,
    void *oldp, size_t *oldlenp) {
	size_t len = ctl_type_size[e->type];
	if (oldlenp == NULL)
		return oldp == NULL ? 0 : EINVAL;
	if (oldp != NULL && *oldlenp != len) {
		*oldlenp = len;
		return EINVAL;
	}
	if (oldp != NULL)
		memcpy(oldp, v, len);
	*oldlenp = len;
	return 0;
}

int bm_ctl(const char *name, void *oldp, size_t *oldlenp, void *newp,
    size_t newlen) {
	unsigned idx[CTL_NIDX] = { 0, 0 };
	if (name == NULL)
		return EINVAL;
	const ctl_entry_t *e = ctl_lookup(name, idx);
	if (e == NULL)
		return ENOENT;
	if (!atomic_load(&stats_ready))
		return EAGAIN;
	if (e->type == CTL_ACTION)
		return oldp != NULL ? EINVAL : e->set(idx, newp, newlen);
	if (newp != NULL) {
		if (e->set == NULL)
			return EPERM;
		int err = e->set(idx, newp, newlen);
		if (err != 0)
			return err;
	}
	if (e->type == CTL_LIST)
		return ctl_read_list(oldp, oldlenp);
	if (oldp == NULL && oldlenp == NULL)
		return 0;
	ctl_value_t v;
	int err = ctl_get(e, idx, &v);
	return err != 0 ? err : ctl_copy_out(e, &v, oldp, oldlenp);
}

/* ---------------------------------------------------------------------- */
/* Output: a buffer flushed to the user's callback (or fd 2) */

typedef struct {
	void (*cb)(void *opaque, const char *text);
	void *opaque;
	size_t len;
	char buf[4096];
} out_t;

static void out_init(out_t *o, void (*cb)(void *, const char *),
    void *opaque) {
	o->cb = cb;
	o->opaque = opaque;
	o->len = 0;
	o->buf[0] = '\0';
}

static void out_flush(out_t *o) {
	if (o->len == 0)
		return;
	o->buf[o->len] = '\0';
	if (o->cb != NULL)
		o->cb(o->opaque, o->buf);
	else
		log_write(o->buf, o->len);
	o->len = 0;
}

static void out_printf(out_t *o, const char *fmt, ...) BM_FORMAT(2, 3);
static void out_printf(out_t *o, const char *fmt, ...) {
	if (sizeof(o->buf) - o->len < STATS_LINE_MAX)
		out_flush(o);
	va_list ap;
	va_start(ap, fmt);
	o->len += log_vformat(o->buf + o->len, sizeof(o->buf) - o->len, fmt, ap);
	va_end(ap);
}

/* "123 B", "1.5 KiB", "12.0 MiB", ... */
static const char *fmt_bytes(char *buf, size_t cap, uint64_t v) {
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	unsigned u = 0;
	uint64_t scale = 1;
	while (u < 4 && v >= scale * 1024) {
		scale *= 1024;
		u++;
	}
	if (u == 0) {
		log_format(buf, cap, "%lu B", (unsigned long)v);
		return buf;
	}
	uint64_t whole = v / scale, tenth = ((v % scale) * 10 + scale / 2) / scale;
	if (tenth == 10) {
		whole++;
		tenth = 0;
	}
	log_format(buf, cap, "%lu.%lu %s", (unsigned long)whole,
	    (unsigned long)tenth, units[u]);
	return buf;
}

/* num/den as a percentage with one decimal ("-" when den is 0). */
static const char *fmt_pct(char *buf, size_t cap, uint64_t num, uint64_t den) {
	if (den == 0) {
		log_format(buf, cap, "-");
		return buf;
	}
	uint64_t pm = (num * 1000 + den / 2) / den;
	log_format(buf, cap, "%lu.%lu%%", (unsigned long)(pm / 10),
	    (unsigned long)(pm % 10));
	return buf;
}

/* A table row: cells right-aligned in fixed widths. */
typedef struct {
	char s[STATS_LINE_MAX];
	size_t n;
} row_t;

static void row_cell(row_t *r, unsigned width, const char *fmt, ...)
    BM_FORMAT(3, 4);
static void row_cell(row_t *r, unsigned width, const char *fmt, ...) {
	char cell[128];
	va_list ap;
	va_start(ap, fmt);
	size_t len = log_vformat(cell, sizeof(cell), fmt, ap);
	va_end(ap);
	for (size_t i = len; i < width && r->n + 1 < sizeof(r->s); i++)
		r->s[r->n++] = ' ';
	r->n += log_format(r->s + r->n, sizeof(r->s) - r->n, "%s", cell);
}

/* ---------------------------------------------------------------------- */
/* The text report */

typedef struct {
	bool json, no_arenas, no_blocks, no_classes;
} report_opts_t;

static void report_opts_parse(const char *opts, report_opts_t *r) {
	memset(r, 0, sizeof(*r));
	for (; opts != NULL && *opts != '\0'; opts++) {
		if (*opts == 'J')
			r->json = true;
		else if (*opts == 'a')
			r->no_arenas = true;
		else if (*opts == 'b')
			r->no_blocks = true;
		else if (*opts == 'c')
			r->no_classes = true;
	}
}

static void text_options(out_t *o) {
	char val[300];
	out_printf(o, "options:");
	for (unsigned i = 0; conf_name(i) != NULL; i++) {
		conf_value_format(i, val, sizeof(val));
		out_printf(o, " %s:%s", conf_name(i), val);
	}
	out_printf(o, "\n");
}

/* One "  label  bytes  (human)  note" line of the totals. */
static void text_total(out_t *o, const char *label, uint64_t bytes,
    const char *note) {
	char h[32];
	row_t r = { .n = 0 };
	row_cell(&r, 2, "  ");
	row_cell(&r, 0, "%s", label);
	row_cell(&r, (unsigned)(28 - strlen(label)), "%lu",
	    (unsigned long)bytes);
	row_cell(&r, 12, "%s", fmt_bytes(h, sizeof(h), bytes));
	out_printf(o, "%s  %s\n", r.s, note);
}

static void text_totals(out_t *o, const stats_t *st) {
	const stats_arena_t *a = &st->arenas;
	out_printf(o, "\nTotals                         bytes\n");
	text_total(o, "allocated", st->allocated,
	    "live objects (small by class size, large, huge)");
	text_total(o, "active", st->active,
	    "pages of slabs, large runs and huge mappings");
	text_total(o, "metadata", st->metadata,
	    "allocated from the bases (every byte of allocator metadata)");
	text_total(o, "resident", st->resident,
	    "upper bound: active + dirty + base resident");
	text_total(o, "mapped", st->mapped, "page chunks + huge + bases");
	text_total(o, "  page chunks", a->pages.mapped,
	    "mapped for slabs and large runs");
	text_total(o, "  huge mappings", a->pages.huge, "own mappings");
	text_total(o, "  bases", st->base.mapped, "metadata blocks");
	text_total(o, "dirty", a->pages.dirty, "freed pages not yet purged");
	text_total(o, "purged", a->pages.purged, "returned with MADV_DONTNEED");
}

/* The counts under the totals: objects, runs, metadata, threads, kernel. */
static void text_counts(out_t *o, const stats_t *st) {
	const stats_arena_t *a = &st->arenas;
	char h1[32], h2[32], p[16];
	uint64_t slabs = 0;
	for (unsigned i = 0; i < SZ_NSMALL; i++)
		slabs += a->bins[i].slabs;
	out_printf(o, "  small: %lu objects, %s in %lu slabs (%s used)\n",
	    (unsigned long)a->small_live, fmt_bytes(h1, sizeof(h1),
	    a->small_allocated), (unsigned long)slabs,
	    fmt_pct(p, sizeof(p), a->small_allocated, a->pages.slab));
	out_printf(o, "  large: %lu runs, %s (%lu allocated so far)\n",
	    (unsigned long)a->pages.n_large, fmt_bytes(h1, sizeof(h1),
	    a->large_bytes), (unsigned long)a->large_nmalloc);
	out_printf(o, "  huge: %lu mappings, %s\n", (unsigned long)a->pages.n_huge,
	    fmt_bytes(h1, sizeof(h1), a->pages.huge));
	out_printf(o, "  metadata: %s of allocated, bases resident %s, "
	    "huge-page advised %s in %zu blocks\n", fmt_pct(p, sizeof(p),
	    st->metadata, st->allocated), fmt_bytes(h1, sizeof(h1),
	    st->base.resident), fmt_bytes(h2, sizeof(h2), st->base.n_thp),
	    st->base.blocks);
	out_printf(o, "  threads: %u (arenas: %u created, %u abandoned, %lu "
	    "adoptions); remote frees collected: %lu; purge runs: %lu\n",
	    st->in_use, st->narenas, st->abandoned, (unsigned long)a->adopted,
	    (unsigned long)a->remote_frees, (unsigned long)a->pages.purge_runs);
	out_printf(o, "  kernel: mmap %lu, munmap %lu, madvise %lu, mremap %lu; "
	    "mapped now %s\n", (unsigned long)st->os.n_mmap,
	    (unsigned long)st->os.n_munmap, (unsigned long)st->os.n_madvise,
	    (unsigned long)st->os.n_mremap, fmt_bytes(h1, sizeof(h1),
	    st->os_mapped));
}

static void text_base(out_t *o, base_t *base, const report_opts_t *ro) {
	base_stats_t bs;
	base_block_info_t info[STATS_BLOCKS_MAX];
	char h[5][32];
	base_stats_get(base, &bs);
	size_t n = base_blocks_get(base, info, STATS_BLOCKS_MAX);
	out_printf(o, "  base: allocated %s, resident %s, mapped %s, THP %s, "
	    "blocks %zu\n", fmt_bytes(h[0], 32, bs.allocated), fmt_bytes(h[1],
	    32, bs.resident), fmt_bytes(h[2], 32, bs.mapped), fmt_bytes(h[3],
	    32, bs.n_thp), bs.blocks);
	if (ro->no_blocks)
		return;
	out_printf(o, "    block             address        size        used"
	    "    resident   THP\n");
	for (size_t i = 0; i < MIN(n, (size_t)STATS_BLOCKS_MAX); i++) {
		row_t r = { .n = 0 };
		row_cell(&r, 11, "%zu", n - 1 - i);
		row_cell(&r, 20, "%p", (void *)info[i].addr);
		row_cell(&r, 12, "%s", fmt_bytes(h[0], 32, info[i].size));
		row_cell(&r, 12, "%s", fmt_bytes(h[1], 32, info[i].used));
		row_cell(&r, 12, "%s", fmt_bytes(h[2], 32,
		    PAGE_CEILING(info[i].used)));
		row_cell(&r, 6, "%s", info[i].huge ? "yes" : "no");
		out_printf(o, "%s\n", r.s);
	}
	if (n > STATS_BLOCKS_MAX)
		out_printf(o, "    ... %zu more blocks\n", n - STATS_BLOCKS_MAX);
}

static void text_arena(out_t *o, unsigned i, const report_opts_t *ro) {
	arena_t *ar = arena_get(i);
	stats_arena_t a;
	char h[6][32];
	stats_arena_read(ar, &a);
	out_printf(o, "\nArena %u: allocated %s, active %s, mapped %s, dirty %s, "
	    "purged %s in %lu runs\n", i, fmt_bytes(h[0], 32, a.allocated),
	    fmt_bytes(h[1], 32, a.active), fmt_bytes(h[2], 32, a.pages.mapped),
	    fmt_bytes(h[3], 32, a.pages.dirty), fmt_bytes(h[4], 32,
	    a.pages.purged), (unsigned long)a.pages.purge_runs);
	out_printf(o, "  small %lu objects (%s), large %lu (%s), huge %lu (%s), "
	    "remote frees %lu, adopted %lu times\n", (unsigned long)a.small_live,
	    fmt_bytes(h[0], 32, a.small_allocated),
	    (unsigned long)a.pages.n_large, fmt_bytes(h[1], 32, a.large_bytes),
	    (unsigned long)a.pages.n_huge, fmt_bytes(h[2], 32, a.pages.huge),
	    (unsigned long)a.remote_frees, (unsigned long)a.adopted);
	text_base(o, ar->base, ro);
}

static void text_classes(out_t *o, const stats_t *st) {
	char h[2][32], p[16];
	out_printf(o, "\nSize classes (all arenas; classes never used are not "
	    "shown)\n");
	out_printf(o, "  class    size        live   allocated   slabs  slab size"
	    "    util   refills\n");
	for (unsigned i = 0; i < SZ_NSMALL; i++) {
		const stats_bin_t *b = &st->arenas.bins[i];
		if (b->slabs == 0 && b->refills == 0)
			continue;
		size_t size = sz_index2size(i);
		arena_t *a0 = arena_get(0);
		uint64_t slab_size = a0 != NULL ? a0->bins[i].slab_size : 0;
		row_t r = { .n = 0 };
		row_cell(&r, 7, "%u", i);
		row_cell(&r, 8, "%zu", size);
		row_cell(&r, 12, "%lu", (unsigned long)b->live);
		row_cell(&r, 12, "%s", fmt_bytes(h[0], 32, b->live * size));
		row_cell(&r, 8, "%lu", (unsigned long)b->slabs);
		row_cell(&r, 11, "%s", fmt_bytes(h[1], 32, slab_size));
		row_cell(&r, 8, "%s", fmt_pct(p, sizeof(p), b->live, b->capacity));
		row_cell(&r, 10, "%lu", (unsigned long)b->refills);
		out_printf(o, "%s\n", r.s);
	}
}

static void report_text(out_t *o, const stats_t *st, const report_opts_t *ro) {
	out_printf(o, "___ Begin basemalloc statistics ___\n");
	out_printf(o, "version %s, pid %d, cpus %u, THP mode %s\n", BM_VERSION,
	    (int)getpid(), os_ncpus(), os_thp_mode_name(os_thp_mode()));
	text_options(o);
	text_totals(o, st);
	text_counts(o, st);
	if (base_b0() != NULL) {
		out_printf(o, "\nBoot base b0 (address map leaves, arena registry)"
		    "\n");
		text_base(o, base_b0(), ro);
	}
	for (unsigned i = 0; i < st->narenas && !ro->no_arenas; i++)
		text_arena(o, i, ro);
	if (!ro->no_classes)
		text_classes(o, st);
	out_printf(o, "___ End basemalloc statistics ___\n");
}

/* ---------------------------------------------------------------------- */
/* The JSON report */

typedef struct {
	out_t *o;
	unsigned depth;
	bool comma;
} json_t;

/* Start a member: comma, newline, indentation and the key (if any). */
static void json_member(json_t *j, const char *key) {
	out_printf(j->o, "%s\n", j->comma ? "," : "");
	for (unsigned i = 0; i < j->depth; i++)
		out_printf(j->o, "  ");
	if (key != NULL)
		out_printf(j->o, "\"%s\": ", key);
	j->comma = true;
}

static void json_open(json_t *j, const char *key, char bracket) {
	json_member(j, key);
	out_printf(j->o, "%c", bracket);
	j->depth++;
	j->comma = false;
}

static void json_close(json_t *j, char bracket) {
	j->depth--;
	out_printf(j->o, "\n");
	for (unsigned i = 0; i < j->depth; i++)
		out_printf(j->o, "  ");
	out_printf(j->o, "%c", bracket);
	j->comma = true;
}

static void json_u64(json_t *j, const char *key, uint64_t v) {
	json_member(j, key);
	out_printf(j->o, "%lu", (unsigned long)v);
}

static void json_bool(json_t *j, const char *key, bool v) {
	json_member(j, key);
	out_printf(j->o, "%s", v ? "true" : "false");
}

/* A string value, escaped. */
static void json_str(json_t *j, const char *key, const char *s) {
	char buf[STATS_LINE_MAX / 2];
	size_t n = 0;
	for (; *s != '\0' && n + 8 < sizeof(buf); s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			n += log_format(buf + n, sizeof(buf) - n, "\\%c", c);
		else if (c < 0x20)
			n += log_format(buf + n, sizeof(buf) - n, "\\u00%c%c",
			    "0123456789abcdef"[c >> 4], "0123456789abcdef"[c & 15]);
		else
			buf[n++] = (char)c;
	}
	buf[n] = '\0';
	json_member(j, key);
	out_printf(j->o, "\"%s\"", buf);
}

/* num/den with three decimals (0 when den is 0). */
static void json_ratio(json_t *j, const char *key, uint64_t num,
    uint64_t den) {
	uint64_t pm = den != 0 ? (num * 1000 + den / 2) / den : 0;
	json_member(j, key);
	out_printf(j->o, "%lu.%c%c%c", (unsigned long)(pm / 1000),
	    (char)('0' + pm / 100 % 10), (char)('0' + pm / 10 % 10),
	    (char)('0' + pm % 10));
}

static void json_base_stats(json_t *j, const base_stats_t *b) {
	json_u64(j, "allocated", b->allocated);
	json_u64(j, "resident", b->resident);
	json_u64(j, "mapped", b->mapped);
	json_u64(j, "n_thp", b->n_thp);
	json_u64(j, "blocks", b->blocks);
}

static void json_base(json_t *j, const char *key, base_t *base,
    const report_opts_t *ro) {
	base_stats_t bs;
	base_block_info_t info[STATS_BLOCKS_MAX];
	char addr[32];
	base_stats_get(base, &bs);
	size_t n = base_blocks_get(base, info, STATS_BLOCKS_MAX);
	json_open(j, key, '{');
	json_base_stats(j, &bs);
	if (!ro->no_blocks) {
		json_open(j, "block_list", '[');
		for (size_t i = 0; i < MIN(n, (size_t)STATS_BLOCKS_MAX); i++) {
			json_open(j, NULL, '{');
			log_format(addr, sizeof(addr), "%p", (void *)info[i].addr);
			json_str(j, "address", addr);
			json_u64(j, "size", info[i].size);
			json_u64(j, "used", info[i].used);
			json_u64(j, "resident", PAGE_CEILING(info[i].used));
			json_bool(j, "thp", info[i].huge);
			json_close(j, '}');
		}
		json_close(j, ']');
	}
	json_close(j, '}');
}

static void json_bin(json_t *j, unsigned i, const stats_bin_t *b) {
	json_open(j, NULL, '{');
	json_u64(j, "class", i);
	json_u64(j, "size", sz_index2size(i));
	json_u64(j, "live", b->live);
	json_u64(j, "allocated", b->live * sz_index2size(i));
	json_u64(j, "slabs", b->slabs);
	json_u64(j, "capacity", b->capacity);
	json_ratio(j, "utilization", b->live, b->capacity);
	json_u64(j, "refills", b->refills);
	json_close(j, '}');
}

/* The figures an arena and the totals share. */
static void json_arena_figures(json_t *j, const stats_arena_t *a) {
	json_u64(j, "allocated", a->allocated);
	json_u64(j, "active", a->active);
	json_u64(j, "pages_mapped", a->pages.mapped);
	json_u64(j, "dirty", a->pages.dirty);
	json_u64(j, "purged", a->pages.purged);
	json_u64(j, "purge_runs", a->pages.purge_runs);
	json_u64(j, "remote_frees", a->remote_frees);
	json_u64(j, "adopted", a->adopted);
	json_open(j, "small", '{');
	json_u64(j, "live", a->small_live);
	json_u64(j, "allocated", a->small_allocated);
	json_u64(j, "slab_bytes", a->pages.slab);
	json_close(j, '}');
	json_open(j, "large", '{');
	json_u64(j, "count", a->pages.n_large);
	json_u64(j, "bytes", a->large_bytes);
	json_u64(j, "nmalloc", a->large_nmalloc);
	json_close(j, '}');
	json_open(j, "huge", '{');
	json_u64(j, "count", a->pages.n_huge);
	json_u64(j, "bytes", a->pages.huge);
	json_close(j, '}');
}

static void json_arena(json_t *j, unsigned i, const report_opts_t *ro) {
	arena_t *ar = arena_get(i);
	stats_arena_t a;
	stats_arena_read(ar, &a);
	json_open(j, NULL, '{');
	json_u64(j, "index", i);
	json_arena_figures(j, &a);
	json_base(j, "base", ar->base, ro);
	if (!ro->no_classes) {
		json_open(j, "bins", '[');
		for (unsigned c = 0; c < SZ_NSMALL; c++) {
			if (a.bins[c].slabs != 0 || a.bins[c].refills != 0)
				json_bin(j, c, &a.bins[c]);
		}
		json_close(j, ']');
	}
	json_close(j, '}');
}

static void json_totals(json_t *j, const stats_t *st) {
	json_open(j, "totals", '{');
	json_arena_figures(j, &st->arenas);
	json_u64(j, "metadata", st->metadata);
	json_u64(j, "resident", st->resident);
	json_u64(j, "mapped", st->mapped);
	json_open(j, "base", '{');
	json_base_stats(j, &st->base);
	json_close(j, '}');
	json_close(j, '}');
	json_open(j, "process", '{');
	json_u64(j, "narenas", st->narenas);
	json_u64(j, "abandoned", st->abandoned);
	json_u64(j, "threads", st->in_use);
	json_u64(j, "mmap_calls", st->os.n_mmap);
	json_u64(j, "munmap_calls", st->os.n_munmap);
	json_u64(j, "madvise_calls", st->os.n_madvise);
	json_u64(j, "mremap_calls", st->os.n_mremap);
	json_u64(j, "os_mapped", st->os_mapped);
	json_close(j, '}');
}

static void json_header(json_t *j) {
	char val[300];
	json_str(j, "version", BM_VERSION);
	json_u64(j, "pid", (uint64_t)getpid());
	json_u64(j, "cpus", os_ncpus());
	json_str(j, "thp_mode", os_thp_mode_name(os_thp_mode()));
	json_open(j, "options", '{');
	for (unsigned i = 0; conf_name(i) != NULL; i++) {
		conf_value_format(i, val, sizeof(val));
		json_str(j, conf_name(i), val);
	}
	json_close(j, '}');
}

static void report_json(out_t *o, const stats_t *st,
    const report_opts_t *ro) {
	json_t j = { o, 0, false };
	out_printf(o, "{");
	j.depth = 1;
	json_open(&j, "basemalloc", '{');
	json_header(&j);
	json_totals(&j, st);
	if (base_b0() != NULL)
		json_base(&j, "b0", base_b0(), ro);
	json_open(&j, "arenas", '[');
	for (unsigned i = 0; i < st->narenas && !ro->no_arenas; i++)
		json_arena(&j, i, ro);
	json_close(&j, ']');
	json_open(&j, "bins", '[');
	for (unsigned i = 0; i < SZ_NSMALL && !ro->no_classes; i++)
		json_bin(&j, i, &st->arenas.bins[i]);
	json_close(&j, ']');
	json_close(&j, '}');
	out_printf(o, "\n}\n");
}

void bm_stats_print(void (*write_cb)(void *opaque, const char *text),
    void *opaque, const char *opts) {
	stats_t st;
	out_t o;
	report_opts_t ro;
	report_opts_parse(opts, &ro);
	stats_gather(&st);
	out_init(&o, write_cb, opaque);
	if (ro.json)
		report_json(&o, &st, &ro);
	else
		report_text(&o, &st, &ro);
	out_flush(&o);
}

/* ---------------------------------------------------------------------- */
/* The report at exit */

static void stats_write_fd(void *opaque, const char *text) {
	log_write_fd(*(int *)opaque, text, strlen(text));
}

/* Copy path with "%p" replaced by the pid; false when it does not fit. */
static bool stats_path_expand(const char *path, char *out, size_t cap) {
	size_t n = 0;
	for (; *path != '\0'; path++) {
		if (path[0] == '%' && path[1] == 'p') {
			n += log_format(out + n, cap - n, "%d", (int)getpid());
			path++;
		} else if (n + 1 < cap) {
			out[n++] = *path;
		}
		if (n + 1 >= cap)
			return false;
	}
	out[n] = '\0';
	return true;
}

__attribute__((destructor)) static void stats_at_exit(void) {
	if (!opt_stats_print || !atomic_load(&stats_ready))
		return;
	int saved = errno;
	char path[sizeof(opt_stats_file) + 32];
	int fd = -1;
	if (opt_stats_file[0] != '\0') {
		if (stats_path_expand(opt_stats_file, path, sizeof(path)))
			fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
			    0644);
		if (fd < 0)
			log_warn("stats_file: cannot open \"%s\"; report on "
			    "stderr", opt_stats_file);
	}
	if (fd >= 0) {
		bm_stats_print(stats_write_fd, &fd, opt_stats_opts);
		close(fd);
	} else {
		bm_stats_print(NULL, NULL, opt_stats_opts);
	}
	errno = saved;
}

/* ---------------------------------------------------------------------- */
/* glibc's introspection calls */

/* "label = %10lu" lines, as glibc prints them. */
static void glibc_line(out_t *o, const char *label, uint64_t v) {
	row_t r = { .n = 0 };
	row_cell(&r, 0, "%s", label);
	row_cell(&r, 11, "%lu", (unsigned long)v);
	out_printf(o, "%s\n", r.s);
}

void stats_malloc_stats(void) {
	stats_t st;
	out_t o;
	if (!atomic_load(&stats_ready))
		return;
	stats_gather(&st);
	out_init(&o, NULL, NULL);
	for (unsigned i = 0; i < st.narenas; i++) {
		stats_arena_t a;
		stats_arena_read(arena_get(i), &a);
		out_printf(&o, "Arena %u:\n", i);
		glibc_line(&o, "system bytes     =", a.pages.mapped + a.base.mapped);
		glibc_line(&o, "in use bytes     =", a.allocated - a.pages.huge);
	}
	out_printf(&o, "Total (incl. mmap):\n");
	glibc_line(&o, "system bytes     =", st.mapped);
	glibc_line(&o, "in use bytes     =", st.allocated);
	glibc_line(&o, "mmap regions     =", st.arenas.pages.n_huge);
	glibc_line(&o, "mmap bytes       =", st.arenas.pages.huge);
	out_flush(&o);
}

struct mallinfo2 stats_mallinfo2(void) {
	struct mallinfo2 m;
	stats_t st;
	memset(&m, 0, sizeof(m));
	if (!atomic_load(&stats_ready))
		return m;
	stats_gather(&st);
	const stats_arena_t *a = &st.arenas;
	m.arena = a->pages.mapped;
	m.uordblks = a->small_allocated + a->large_bytes;
	m.fordblks = m.arena > m.uordblks ? m.arena - m.uordblks : 0;
	m.hblks = a->pages.n_huge;
	m.hblkhd = a->pages.huge;
	for (unsigned i = 0; i < SZ_NSMALL; i++)
		m.ordblks += a->bins[i].capacity - a->bins[i].live;
	return m;
}

static int glibc_int(size_t v) {
	return v > INT_MAX ? INT_MAX : (int)v;
}

struct mallinfo stats_mallinfo(void) {
	struct mallinfo2 m2 = stats_mallinfo2();
	struct mallinfo m;
	memset(&m, 0, sizeof(m));
	m.arena = glibc_int(m2.arena);
	m.ordblks = glibc_int(m2.ordblks);
	m.hblks = glibc_int(m2.hblks);
	m.hblkhd = glibc_int(m2.hblkhd);
	m.uordblks = glibc_int(m2.uordblks);
	m.fordblks = glibc_int(m2.fordblks);
	return m;
}

/* One line of XML onto the user's stream. */
static void xml_line(FILE *fp, const char *fmt, ...) BM_FORMAT(2, 3);
static void xml_line(FILE *fp, const char *fmt, ...) {
	char buf[STATS_LINE_MAX];
	va_list ap;
	va_start(ap, fmt);
	size_t n = log_vformat(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fwrite(buf, 1, n, fp);
}

/* The free-block totals both a heap and the whole process print. */
static void xml_free(FILE *fp, uint64_t free_count, uint64_t free_bytes) {
	xml_line(fp, "<total type=\"fast\" count=\"0\" size=\"0\"/>\n");
	xml_line(fp, "<total type=\"rest\" count=\"%lu\" size=\"%lu\"/>\n",
	    (unsigned long)free_count, (unsigned long)free_bytes);
}

static void xml_space(FILE *fp, uint64_t mapped) {
	xml_line(fp, "<system type=\"current\" size=\"%lu\"/>\n",
	    (unsigned long)mapped);
	xml_line(fp, "<system type=\"max\" size=\"%lu\"/>\n",
	    (unsigned long)mapped);
	xml_line(fp, "<aspace type=\"total\" size=\"%lu\"/>\n",
	    (unsigned long)mapped);
	xml_line(fp, "<aspace type=\"mprotect\" size=\"%lu\"/>\n",
	    (unsigned long)mapped);
}

/* One arena as a glibc heap: free blocks per class, then the totals.
 * Adds its free blocks and bytes to *count and *bytes. */
static void xml_heap(FILE *fp, unsigned i, uint64_t *count, uint64_t *bytes) {
	stats_arena_t a;
	uint64_t n = 0, b = 0;
	stats_arena_read(arena_get(i), &a);
	xml_line(fp, "<heap nr=\"%u\">\n<sizes>\n", i);
	for (unsigned c = 0; c < SZ_NSMALL; c++) {
		uint64_t nfree = a.bins[c].capacity - a.bins[c].live;
		size_t size = sz_index2size(c);
		if (nfree == 0)
			continue;
		xml_line(fp, "  <size from=\"%zu\" to=\"%zu\" total=\"%lu\" "
		    "count=\"%lu\"/>\n", c == 0 ? 1 : sz_index2size(c - 1) + 1, size,
		    (unsigned long)(nfree * size), (unsigned long)nfree);
		n += nfree;
		b += nfree * size;
	}
	xml_line(fp, "</sizes>\n");
	xml_free(fp, n, b);
	xml_space(fp, a.pages.mapped + a.base.mapped);
	xml_line(fp, "</heap>\n");
	*count += n;
	*bytes += b;
}

int stats_malloc_info(int options, FILE *fp) {
	if (options != 0 || fp == NULL)
		return EINVAL;
	if (!atomic_load(&stats_ready))
		return 0;
	uint64_t count = 0, bytes = 0;
	unsigned n = arena_count();
	xml_line(fp, "<malloc version=\"1\">\n");
	for (unsigned i = 0; i < n; i++)
		xml_heap(fp, i, &count, &bytes);
	stats_t st;
	stats_gather(&st);
	xml_free(fp, count, bytes);
	xml_line(fp, "<total type=\"mmap\" count=\"%lu\" size=\"%lu\"/>\n",
	    (unsigned long)st.arenas.pages.n_huge,
	    (unsigned long)st.arenas.pages.huge);
	xml_space(fp, st.mapped);
	xml_line(fp, "</malloc>\n");
	return 0;
}
