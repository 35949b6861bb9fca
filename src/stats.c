/*
 * stats: the tables of figures (made from the rows in stats.h) and the
 * gathering. An arena's figures come from arena_stats_get (its pages, its
 * base, its counters and its classes: exact for the calling thread's own
 * arena and for pooled arenas, as last published by the owner otherwise);
 * the derived figures (small bytes, large bytes, allocated, active, per
 * class allocated and utilization) are computed here. The totals add up
 * every arena's figures row by row. Resident is an upper bound: run pages
 * never touched since they were mapped or purged count as resident.
 * Locks: none of its own (see stats.h).
 */
#include "stats.h"
#include "profdump.h"
#include "rtree.h"
#include "sz.h"
#include "tsd.h"

#include <string.h>

static const size_t stats_type_size[] = {
	[STATS_SIZE] = sizeof(size_t), [STATS_U64] = sizeof(uint64_t),
	[STATS_UNSIGNED] = sizeof(unsigned),
};
#define STATS_SIZEOF_SIZE sizeof(size_t)
#define STATS_SIZEOF_U64 sizeof(uint64_t)
#define STATS_SIZEOF_UNSIGNED sizeof(unsigned)

/* A row of the arena, total and process tables for struct type S, its
 * field checked against its type. */
#define STATS_ROW(S, key, group, ctl, ctl_one, type, unit, field, pos, label, \
    note, doc) \
	{ key, group, ctl, ctl_one, STATS_##type, EMIT_##unit, \
	    offsetof(S, field), pos, 0, label, note, NULL, doc },
#define STATS_CHECK(S, key, group, ctl, ctl_one, type, unit, field, ...) \
	_Static_assert(sizeof(((S *)0)->field) == STATS_SIZEOF_##type, \
	    #S "." #field " is not " #type);
#define STATS_ROW_ARENA(...) STATS_ROW(stats_arena_t, __VA_ARGS__)
#define STATS_ROW_TOTAL(...) STATS_ROW(stats_t, __VA_ARGS__)
#define STATS_CHECK_ARENA(...) STATS_CHECK(stats_arena_t, __VA_ARGS__)
#define STATS_CHECK_TOTAL(...) STATS_CHECK(stats_t, __VA_ARGS__)
STATS_ARENA_FIGURES(STATS_CHECK_ARENA)
STATS_TOTAL_FIGURES(STATS_CHECK_TOTAL)
STATS_PROCESS_FIGURES(STATS_CHECK_TOTAL)

#define STATS_ROW_BASE(key, type, unit, field, line, pos, label, note, doc) \
	{ key, "", key, key, STATS_##type, EMIT_##unit, \
	    offsetof(base_stats_t, field), pos, 0, label, note, line, doc },
#define STATS_CHECK_BASE(key, type, unit, field, ...) \
	_Static_assert(sizeof(((base_stats_t *)0)->field) == \
	    STATS_SIZEOF_##type, "base_stats_t." #field " is not " #type);
STATS_BASE_FIGURES(STATS_CHECK_BASE)

#define STATS_ROW_BIN(key, ctl, type, unit, field, width, label, doc) \
	{ key, "", ctl, ctl, STATS_##type, EMIT_##unit, \
	    offsetof(stats_bin_t, field), 0, width, label, NULL, NULL, doc },
#define STATS_CHECK_BIN(key, ctl, type, unit, field, ...) \
	_Static_assert(sizeof(((stats_bin_t *)0)->field) == \
	    STATS_SIZEOF_##type, "stats_bin_t." #field " is not " #type);
STATS_BIN_FIGURES(STATS_CHECK_BIN)

static const stats_fig_t stats_arena_figs[] = {
	STATS_ARENA_FIGURES(STATS_ROW_ARENA)
};
static const stats_fig_t stats_total_figs[] = {
	STATS_TOTAL_FIGURES(STATS_ROW_TOTAL)
};
static const stats_fig_t stats_process_figs[] = {
	STATS_PROCESS_FIGURES(STATS_ROW_TOTAL)
};
static const stats_fig_t stats_base_figs[] = {
	STATS_BASE_FIGURES(STATS_ROW_BASE)
};
static const stats_fig_t stats_bin_figs[] = {
	STATS_BIN_FIGURES(STATS_ROW_BIN)
};

#define STATS_ENTRY(a) { a, sizeof(a) / sizeof(a[0]) }
static const struct {
	const stats_fig_t *rows;
	size_t n;
} stats_tables[STATS_NTABLES] = {
	[STATS_TABLE_ARENA] = STATS_ENTRY(stats_arena_figs),
	[STATS_TABLE_TOTAL] = STATS_ENTRY(stats_total_figs),
	[STATS_TABLE_PROCESS] = STATS_ENTRY(stats_process_figs),
	[STATS_TABLE_BASE] = STATS_ENTRY(stats_base_figs),
	[STATS_TABLE_BIN] = STATS_ENTRY(stats_bin_figs),
};

const stats_fig_t *stats_table(stats_table_t t, size_t *n) {
	*n = stats_tables[t].n;
	return stats_tables[t].rows;
}

uint64_t stats_fig_value(const stats_fig_t *f, const void *base) {
	const char *p = (const char *)base + f->off;
	switch (f->type) {
	case STATS_SIZE: {
		size_t v;
		memcpy(&v, p, sizeof(v));
		return v;
	}
	case STATS_UNSIGNED: {
		unsigned v;
		memcpy(&v, p, sizeof(v));
		return v;
	}
	default: {
		uint64_t v;
		memcpy(&v, p, sizeof(v));
		return v;
	}
	}
}

/* *dst += *src for every row of table t (structs at dst and src). */
static void stats_table_add(stats_table_t t, void *dst, const void *src) {
	size_t n;
	const stats_fig_t *f = stats_table(t, &n);
	for (size_t i = 0; i < n; i++) {
		uint64_t v = stats_fig_value(&f[i], dst) +
		    stats_fig_value(&f[i], src);
		memcpy((char *)dst + f[i].off, &v, stats_type_size[f[i].type]);
	}
}

/* The figures of class ind derived from live, slabs, capacity, refills. */
static void stats_bin_derive(unsigned ind, stats_bin_t *b) {
	b->class_ind = ind;
	b->size = sz_index2size(ind);
	b->allocated = b->live * b->size;
	b->slab_size = arena_bin_slab_size(ind);
	b->util = b->capacity != 0 ?
	    (b->live * 1000 + b->capacity / 2) / b->capacity : UINT64_MAX;
}

/* The derived figures of an arena (or of the sum of all). */
static void stats_arena_derive(stats_arena_t *a) {
	a->small_live = 0;
	a->small_allocated = 0;
	for (unsigned i = 0; i < SZ_NSMALL; i++) {
		stats_bin_derive(i, &a->bins[i]);
		a->small_live += a->bins[i].live;
		a->small_allocated += a->bins[i].allocated;
	}
	const pages_stats_t *p = &a->pages;
	a->large_bytes = p->active > p->slab ? p->active - p->slab : 0;
	a->allocated = a->small_allocated + a->large_bytes + p->huge;
	a->active = p->active + p->huge;
}

void stats_arena_read(unsigned i, stats_arena_t *out) {
	arena_t *a = arena_get(i);
	arena_stats_t as;
	memset(out, 0, sizeof(*out));
	if (a == NULL)
		return;
	arena_stats_get(a, a == tsd_arena_peek(), &as);
	out->pages = as.pages;
	out->base = as.base;
	out->remote_frees = as.remote_frees;
	out->adopted = as.adopted;
	out->large_nmalloc = as.large_nmalloc;
	for (unsigned c = 0; c < SZ_NSMALL; c++) {
		out->bins[c].live = as.bins[c].live;
		out->bins[c].slabs = as.bins[c].slabs;
		out->bins[c].capacity = as.bins[c].capacity;
		out->bins[c].refills = as.bins[c].refills;
	}
	stats_arena_derive(out);
}

/* Add arena figures a into sum (every row, then the derived ones again). */
static void stats_arena_add(stats_arena_t *sum, const stats_arena_t *a) {
	stats_table_add(STATS_TABLE_ARENA, sum, a);
	stats_table_add(STATS_TABLE_BASE, &sum->base, &a->base);
	for (unsigned c = 0; c < SZ_NSMALL; c++)
		stats_table_add(STATS_TABLE_BIN, &sum->bins[c], &a->bins[c]);
	sum->pages.active += a->pages.active;
	stats_arena_derive(sum);
}

void stats_gather(stats_t *st) {
	memset(st, 0, sizeof(*st));
	st->narenas = arena_count();
	st->abandoned = arena_count_abandoned();
	st->in_use = st->narenas > st->abandoned ? st->narenas - st->abandoned
	    : 0;
	for (unsigned i = 0; i < st->narenas; i++) {
		stats_arena_t a;
		stats_arena_read(i, &a);
		stats_arena_add(&st->arenas, &a);
	}
	if (base_b0() != NULL)
		base_stats_get(base_b0(), &st->b0);
	st->base = st->b0;
	stats_table_add(STATS_TABLE_BASE, &st->base, &st->arenas.base);
	os_stats_get(&st->os);
	huge_stats_get(&st->huge);
	prof_stats_get(&st->prof);
	st->prof_dumps = profdump_count();
	const pages_stats_t *p = &st->arenas.pages;
	st->allocated = st->arenas.allocated;
	st->active = st->arenas.active;
	st->rtree_mapped = rtree_mapped();
	st->mapped = p->mapped + p->huge + st->base.mapped + st->rtree_mapped;
	st->resident = st->active + p->dirty + st->base.resident;
	st->metadata = st->base.allocated;
	st->os_mapped = st->os.bytes_mapped - st->os.bytes_unmapped;
}

/* Append the blocks of base (owner: arena index, SIZE_MAX for b0) to out
 * (room for cap) from entry *n on; counts every block in *n. */
static void stats_blocks_of(base_t *base, size_t owner, stats_block_t *out,
    size_t cap, size_t *n) {
	base_block_info_t info[STATS_LIST_MAX];
	size_t nb = base_blocks_get(base, info, out != NULL ? STATS_LIST_MAX : 0);
	for (size_t i = 0; i < nb; i++, (*n)++) {
		if (out == NULL || i >= STATS_LIST_MAX || *n >= cap)
			continue;
		out[*n] = (stats_block_t){ owner, info[i].addr, info[i].size,
		    info[i].used, info[i].huge };
	}
}

size_t stats_blocks_list(stats_block_t *out, size_t cap) {
	size_t n = 0;
	if (base_b0() != NULL)
		stats_blocks_of(base_b0(), SIZE_MAX, out, cap, &n);
	unsigned na = arena_count();
	for (unsigned i = 0; i < na; i++)
		stats_blocks_of(arena_base(arena_get(i)), i, out, cap, &n);
	return n;
}
