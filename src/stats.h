/*
 * stats: the figures of every layer, gathered on demand, and the tables that
 * declare them. A side wing: nothing on the allocation path calls it; it
 * reads the layers through their own snapshot functions (arena_stats_get,
 * base_stats_get, os_stats_get, huge_stats_get) and adds them up.
 *
 * Every figure is one row of one table below (per kind: an arena's, the
 * process's totals, the process's counters, a base's, a size class's). The
 * row gives its JSON key, its bm_ctl names, its type and unit, its place in
 * the text report and its doc; ctl (the names), report (the text and JSON
 * reports) and tools/readme-tables (README's names table) are all made from
 * the rows. A row's field is checked against its type at compile time.
 *
 * Locks: gathering takes, one at a time, the pool lock, each arena's pages
 * lock and each base's lock (never two at once).
 */
#ifndef BM_STATS_H
#define BM_STATS_H

#include "common.h"
#include "arena.h"
#include "base.h"
#include "emit.h"
#include "huge.h"
#include "os.h"
#include "pages.h"
#include "prof.h"

/* A size class's figures (summed over arenas for the totals; class, size,
 * allocated, slab_size and util are derived from the others). */
typedef struct {
	uint64_t class_ind, size, live, allocated, slabs, slab_size, capacity;
	uint64_t util;        /* live / capacity in thousandths; UINT64_MAX
	                       * when there is no capacity */
	uint64_t refills;
} stats_bin_t;

/* An arena's figures, or all arenas' added up: arena_stats_get's, and the
 * ones derived from them. */
typedef struct {
	ARENA_STATS_COUNTERS
	uint64_t small_live;      /* small objects out */
	size_t small_allocated;   /* their bytes (class sizes) */
	size_t large_bytes;       /* bytes in large runs */
	size_t allocated;         /* small + large + huge bytes */
	size_t active;            /* slab and large runs plus huge mappings */
	stats_bin_t bins[SZ_NSMALL];
} stats_arena_t;

/* The whole process. */
typedef struct {
	stats_arena_t arenas;     /* every arena added up */
	base_stats_t b0;
	base_stats_t base;        /* b0 and every arena's base */
	os_stats_t os;
	huge_stats_t huge;
	prof_stats_t prof;        /* the heap profiler's (zero when off) */
	uint64_t prof_dumps;      /* heap dumps written */
	unsigned narenas, abandoned, in_use;
	size_t allocated, active, resident, mapped, metadata, os_mapped;
	size_t rtree_mapped;
} stats_t;

/* Types of figures (their units are emit's). */
typedef enum { STATS_SIZE, STATS_U64, STATS_UNSIGNED } stats_type_t;

/* One row of a table. Text columns: label/note make a row of the report's
 * Totals (pos orders the Totals rows of all tables; 0 = none); line is the
 * figure's name in a one-line summary (a base's line); width/label make a
 * column of a table (the size classes). */
typedef struct {
	const char *key;      /* JSON key; NULL: not in the JSON report */
	const char *group;    /* JSON object of its scope holding it; "": none */
	const char *ctl;      /* bm_ctl suffix in the whole-process scope */
	const char *ctl_one;  /* bm_ctl suffix in the one-arena scope */
	stats_type_t type;
	emit_unit_t unit;     /* BYTES, COUNT or PERMILLE in the rows */
	size_t off;           /* in the scope's struct */
	unsigned pos, width;
	const char *label, *note, *line;
	const char *doc;      /* README's bm_ctl names table */
} stats_fig_t;

/*
 * An arena's figures (stats_arena_t; the totals are all arenas'):
 * X(key, group, ctl, ctl_one, type, unit, field, pos, label, note, doc)
 * ctl: "stats.<ctl>" reads the totals' snapshot; ctl_one:
 * "stats.arenas.#.<ctl_one>" reads arena # now; NULL for none.
 */
#define STATS_ARENA_FIGURES(X) \
	X("allocated", "", "allocated", "allocated", SIZE, BYTES, allocated, 1, \
	    "allocated", "live objects (small by class size, large, huge)", \
	    "bytes in live objects (small by class size, large, huge)") \
	X("active", "", "active", "active", SIZE, BYTES, active, 2, "active", \
	    "pages of slabs, large runs and huge mappings", \
	    "pages of slabs, large runs and huge mappings") \
	X("pages_mapped", "", "pages_mapped", "mapped", SIZE, BYTES, \
	    pages.mapped, 6, "  page chunks", "mapped for slabs and large runs", \
	    "page chunks mapped for slabs and large runs") \
	X("dirty", "", "dirty", "dirty", SIZE, BYTES, pages.dirty, 9, "dirty", \
	    "freed pages not yet purged", "dirty bytes waiting to be purged") \
	X("purged", "", "purged", "purged", U64, BYTES, pages.purged, 10, \
	    "purged", "returned with MADV_DONTNEED", "bytes purged so far") \
	X("purge_runs", "", "purge_runs", "purge_runs", U64, COUNT, \
	    pages.purge_runs, 0, NULL, NULL, "purge passes that purged something") \
	X("remote_frees", "", "remote_frees", "remote_frees", U64, COUNT, \
	    remote_frees, 0, NULL, NULL, "remote frees collected by the owners") \
	X("adopted", "", NULL, "adopted", U64, COUNT, adopted, 0, NULL, NULL, \
	    "times adopted from the pool") \
	X("live", "small", "small.live", "small.live", U64, COUNT, small_live, \
	    0, NULL, NULL, "live small objects") \
	X("allocated", "small", "small.allocated", "small.allocated", SIZE, \
	    BYTES, small_allocated, 0, NULL, NULL, \
	    "bytes of live small objects (class sizes)") \
	X("slab_bytes", "small", NULL, NULL, SIZE, BYTES, pages.slab, 0, NULL, \
	    NULL, "bytes of slab runs") \
	X("count", "large", "large.count", "large.count", U64, COUNT, \
	    pages.n_large, 0, NULL, NULL, "live large runs") \
	X("bytes", "large", "large.bytes", "large.bytes", SIZE, BYTES, \
	    large_bytes, 0, NULL, NULL, "bytes in live large runs") \
	X("nmalloc", "large", "large.nmalloc", NULL, U64, COUNT, large_nmalloc, \
	    0, NULL, NULL, "large runs allocated so far") \
	X("count", "huge", "huge.count", "huge.count", U64, COUNT, pages.n_huge, \
	    0, NULL, NULL, "live huge mappings") \
	X("bytes", "huge", "huge.bytes", "huge.bytes", SIZE, BYTES, pages.huge, \
	    7, "  huge mappings", "own mappings", "bytes in huge mappings")

/* The totals beyond the arenas' (stats_t), same columns; JSON "totals". */
#define STATS_TOTAL_FIGURES(X) \
	X("metadata", "", "metadata", NULL, SIZE, BYTES, metadata, 3, \
	    "metadata", "allocated from the bases (every byte of allocator " \
	    "metadata)", "bytes allocated from all bases (every byte of " \
	    "allocator metadata)") \
	X("resident", "", "resident", NULL, SIZE, BYTES, resident, 4, \
	    "resident", "upper bound: active + dirty + base resident", \
	    "upper bound of resident bytes: active + dirty + base resident") \
	X("mapped", "", "mapped", NULL, SIZE, BYTES, mapped, 5, "mapped", \
	    "page chunks + huge + bases + page map", \
	    "page chunks + huge mappings + base blocks + page map leaves") \
	X("rtree_mapped", "", "rtree_mapped", NULL, SIZE, BYTES, rtree_mapped, \
	    0, NULL, NULL, "address space of the page map's leaves (8 MiB per " \
	    "4 GiB of address space in use; only touched pages are resident)")

/* The process's counters (stats_t), same columns; JSON "process". */
#define STATS_PROCESS_FIGURES(X) \
	X("narenas", "", NULL, NULL, UNSIGNED, COUNT, narenas, 0, NULL, NULL, \
	    "arenas created") \
	X("abandoned", "", NULL, NULL, UNSIGNED, COUNT, abandoned, 0, NULL, \
	    NULL, "arenas in the pool") \
	X("threads", "", NULL, NULL, UNSIGNED, COUNT, in_use, 0, NULL, NULL, \
	    "arenas held by threads") \
	X("mmap_calls", "", "mmap_calls", NULL, U64, COUNT, os.n_mmap, 0, NULL, \
	    NULL, "mmap calls made") \
	X("munmap_calls", "", "munmap_calls", NULL, U64, COUNT, os.n_munmap, 0, \
	    NULL, NULL, "munmap calls made") \
	X("madvise_calls", "", "madvise_calls", NULL, U64, COUNT, os.n_madvise, \
	    0, NULL, NULL, "madvise calls made") \
	X("mremap_calls", "", "mremap_calls", NULL, U64, COUNT, os.n_mremap, 0, \
	    NULL, NULL, "mremap calls made") \
	X("os_mapped", "", "os_mapped", NULL, SIZE, BYTES, os_mapped, 0, NULL, \
	    NULL, "bytes mapped minus bytes unmapped by the OS layer") \
	X("huge_peak_count", "", "huge.peak_count", NULL, U64, COUNT, \
	    huge.count_peak, 0, NULL, NULL, "most huge mappings live at once " \
	    "(malloc_stats' max mmap regions)") \
	X("huge_peak_bytes", "", "huge.peak_bytes", NULL, U64, BYTES, \
	    huge.bytes_peak, 0, NULL, NULL, "most bytes in huge mappings at " \
	    "once (malloc_stats' max mmap bytes)") \
	X("samples", "prof", "prof.samples", NULL, U64, COUNT, prof.samples, 0, \
	    NULL, NULL, "heap profiler: allocations sampled so far") \
	X("live", "prof", "prof.live", NULL, U64, COUNT, prof.live, 0, NULL, \
	    NULL, "heap profiler: sampled allocations live") \
	X("live_bytes", "prof", "prof.live_bytes", NULL, U64, BYTES, \
	    prof.live_bytes, 0, NULL, NULL, "heap profiler: their requested " \
	    "bytes (not scaled)") \
	X("est_bytes", "prof", "prof.est_bytes", NULL, U64, BYTES, \
	    prof.est_bytes, 0, NULL, NULL, "heap profiler: the live heap " \
	    "they stand for (estimated)") \
	X("stacks", "prof", "prof.stacks", NULL, U64, COUNT, prof.stacks, 0, \
	    NULL, NULL, "heap profiler: distinct stacks holding them") \
	X("dropped", "prof", "prof.dropped", NULL, U64, COUNT, prof.dropped, 0, \
	    NULL, NULL, "heap profiler: samples not recorded (no metadata)") \
	X("dumps", "prof", "prof.dumps", NULL, U64, COUNT, prof_dumps, 0, NULL, \
	    NULL, "heap profiler: heap dumps written")

/*
 * A base's figures (base_stats_t): X(key, type, unit, field, line, pos,
 * label, note, doc). bm_ctl "stats.base.<key>" (all bases) and
 * "stats.b0.<key>" read the snapshot, "stats.arenas.#.base.<key>" arena #'s
 * base now. pos/label/note: a Totals row of all bases' figure.
 */
#define STATS_BASE_FIGURES(X) \
	X("allocated", SIZE, BYTES, allocated, "allocated", 0, NULL, NULL, \
	    "bytes allocated") \
	X("resident", SIZE, BYTES, resident, "resident", 0, NULL, NULL, \
	    "resident bytes") \
	X("mapped", SIZE, BYTES, mapped, "mapped", 8, "  bases", \
	    "metadata blocks", "bytes mapped") \
	X("n_thp", SIZE, BYTES, n_thp, "THP", 0, NULL, NULL, \
	    "bytes advised MADV_HUGEPAGE") \
	X("blocks", SIZE, COUNT, blocks, "blocks", 0, NULL, NULL, "blocks")

/*
 * A size class's figures (stats_bin_t): X(key, ctl, type, unit, field,
 * width, label, doc). bm_ctl "stats.bins.#.<ctl>" reads the snapshot (all
 * arenas), "stats.arenas.#.bins.#.<ctl>" arena # now; width/label: a column
 * of the report's size-class table.
 */
#define STATS_BIN_FIGURES(X) \
	X("class", NULL, U64, COUNT, class_ind, 7, "class", "class index") \
	X("size", NULL, U64, COUNT /* bytes, printed as a number */, size, 8, \
	    "size", "bytes of a block") \
	X("live", "live", U64, COUNT, live, 12, "live", "live objects") \
	X("allocated", NULL, U64, BYTES, allocated, 12, "allocated", \
	    "bytes of live objects") \
	X("slabs", "slabs", U64, COUNT, slabs, 8, "slabs", "slabs") \
	X(NULL, NULL, U64, BYTES, slab_size, 11, "slab size", "bytes of a slab") \
	X("capacity", "capacity", U64, COUNT, capacity, 0, NULL, \
	    "blocks in those slabs") \
	X("utilization", NULL, U64, PERMILLE, util, 8, "util", \
	    "live / capacity") \
	X("refills", "refills", U64, COUNT, refills, 10, "refills", \
	    "slow-path refills")

/* The tables, made from the rows above. */
typedef enum {
	STATS_TABLE_ARENA,
	STATS_TABLE_TOTAL,
	STATS_TABLE_PROCESS,
	STATS_TABLE_BASE,
	STATS_TABLE_BIN,
	STATS_NTABLES,
} stats_table_t;
/* Table t's rows; *n gets their number. */
const stats_fig_t *stats_table(stats_table_t t, size_t *n);
/* The value of row f in the struct at base, widened to 64 bits. */
uint64_t stats_fig_value(const stats_fig_t *f, const void *base);

/* A base block as "stats.base.blocks_list" gives it: its base's owner
 * (arena index, SIZE_MAX for b0), address, size, used bytes, 1 if advised
 * MADV_HUGEPAGE. */
typedef struct {
	size_t owner, addr, size, used, huge;
} stats_block_t;
/* Every base block (b0 first, newest first within a base) into out, room
 * for cap (out may be NULL); returns how many blocks there are. At most
 * STATS_LIST_MAX blocks of a base are listed (all are counted). */
#define STATS_LIST_MAX 256
size_t stats_blocks_list(stats_block_t *out, size_t cap);

/* Everything, now (see the file comment). */
void stats_gather(stats_t *st);
/* Arena i's figures now (i < arena_count()). */
void stats_arena_read(unsigned i, stats_arena_t *out);

#endif
