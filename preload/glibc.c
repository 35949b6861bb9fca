/*
 * glibc.c: glibc's introspection calls under their libc names, with
 * basemalloc's figures (README "glibc's calls"): malloc_stats, mallinfo2,
 * mallinfo, malloc_info; and bm_mallopt, whose answers are glibc's. They
 * read the figures through stats and write through one emitter (malloc_stats to fd 2 with the raw system call, so
 * that, as in glibc, it is not a cancellation point; malloc_info onto the
 * caller's FILE). No lock is held while text is written.
 */
#include "../src/common.h"
#include "../include/basemalloc.h"
#include "../src/arena.h"
#include "../src/emit.h"
#include "../src/stats.h"
#include "../src/sz.h"

#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <stdio.h>
#include <string.h>

#define EXPORT BM_EXPORT

/* glibc's M_MXFAST and the largest fastbin size it accepts (80 * 8 / 4):
 * refused beyond it, as glibc does; every other parameter is accepted and
 * has no effect. */
#define MALLOPT_MXFAST 1
#define MALLOPT_MXFAST_MAX 160

int bm_mallopt(int param, int value) {
	if (param == MALLOPT_MXFAST)
		return value >= 0 && value <= MALLOPT_MXFAST_MAX;
	return 1;
}

/* "label = %10lu", as glibc prints its lines. */
static void glibc_line(emit_t *e, const char *label, uint64_t v) {
	emit_row_t r = { .n = 0 };
	emit_cell(&r, 0, "%s", label);
	emit_cell(&r, 11, "%lu", (unsigned long)v);
	emit_printf(e, "%s\n", r.s);
}

/* glibc's lines: each arena's system and in-use bytes (its runs, huge
 * mappings, dirty free pages and touched base pages: what is not given
 * back, as glibc's system bytes drop when it trims; its objects), then the
 * totals and the huge mappings' peaks as glibc's mmapped chunks. */
EXPORT void malloc_stats(void) {
	stats_t st;
	emit_t e;
	stats_gather(&st);
	emit_init(&e, false, NULL, NULL);
	for (unsigned i = 0; i < MAX(st.narenas, 1u); i++) {
		stats_arena_t a;
		stats_arena_read(i, &a);
		emit_printf(&e, "Arena %u:\n", i);
		glibc_line(&e, "system bytes     =", a.active + a.pages.dirty +
		    a.base.resident);
		glibc_line(&e, "in use bytes     =", a.allocated - a.pages.huge);
	}
	emit_printf(&e, "Total (incl. mmap):\n");
	glibc_line(&e, "system bytes     =", st.resident);
	glibc_line(&e, "in use bytes     =", st.allocated);
	glibc_line(&e, "max mmap regions =", st.huge.count_peak);
	glibc_line(&e, "max mmap bytes   =", st.huge.bytes_peak);
	emit_flush(&e);
}

EXPORT struct mallinfo2 mallinfo2(void) {
	struct mallinfo2 m;
	stats_t st;
	memset(&m, 0, sizeof(m));
	stats_gather(&st);
	const stats_arena_t *a = &st.arenas;
	m.arena = a->pages.active + a->pages.dirty;  /* not purged */
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

/* mallinfo's figures: mallinfo2's, clamped to int. */
static struct mallinfo glibc_mallinfo(void) {
	struct mallinfo2 m2 = mallinfo2();
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

EXPORT struct mallinfo mallinfo(void) {
	return glibc_mallinfo();
}

/* The alias glibc exports beside mallinfo. */
EXPORT struct mallinfo __libc_mallinfo(void) {
	return glibc_mallinfo();
}

static void glibc_write_file(void *fp, const char *text) {
	fputs(text, fp);
}

/* The free-block totals both a heap and the whole process print. */
static void xml_free(emit_t *e, uint64_t free_count, uint64_t free_bytes) {
	emit_printf(e, "<total type=\"fast\" count=\"0\" size=\"0\"/>\n");
	emit_printf(e, "<total type=\"rest\" count=\"%lu\" size=\"%lu\"/>\n",
	    (unsigned long)free_count, (unsigned long)free_bytes);
}

static void xml_space(emit_t *e, uint64_t mapped) {
	static const char *const lines[] = { "<system type=\"current\"",
	    "<system type=\"max\"", "<aspace type=\"total\"",
	    "<aspace type=\"mprotect\"" };
	for (unsigned i = 0; i < 4; i++)
		emit_printf(e, "%s size=\"%lu\"/>\n", lines[i],
		    (unsigned long)mapped);
}

/* One arena as a glibc heap: free blocks per class, then the totals.
 * Adds its free blocks and bytes to *count and *bytes. */
static void xml_heap(emit_t *e, unsigned i, uint64_t *count, uint64_t *bytes) {
	stats_arena_t a;
	uint64_t n = 0, b = 0;
	stats_arena_read(i, &a);
	emit_printf(e, "<heap nr=\"%u\">\n<sizes>\n", i);
	for (unsigned c = 0; c < SZ_NSMALL; c++) {
		uint64_t nfree = a.bins[c].capacity - a.bins[c].live;
		size_t size = sz_index2size(c);
		if (nfree == 0)
			continue;
		emit_printf(e, "  <size from=\"%zu\" to=\"%zu\" total=\"%lu\" "
		    "count=\"%lu\"/>\n", c == 0 ? 1 : sz_index2size(c - 1) + 1,
		    size, (unsigned long)(nfree * size), (unsigned long)nfree);
		n += nfree;
		b += nfree * size;
	}
	emit_printf(e, "</sizes>\n");
	xml_free(e, n, b);
	xml_space(e, a.pages.mapped + a.base.mapped);
	emit_printf(e, "</heap>\n");
	*count += n;
	*bytes += b;
}

/* glibc's XML on fp; options must be 0 (else EINVAL, as glibc). */
EXPORT int malloc_info(int options, FILE *fp) {
	if (options != 0 || fp == NULL)
		return EINVAL;
	emit_t e;
	stats_t st;
	uint64_t count = 0, bytes = 0;
	unsigned n = arena_count();
	emit_init(&e, false, glibc_write_file, fp);
	emit_printf(&e, "<malloc version=\"1\">\n");
	for (unsigned i = 0; i < n; i++)
		xml_heap(&e, i, &count, &bytes);
	stats_gather(&st);
	xml_free(&e, count, bytes);
	emit_printf(&e, "<total type=\"mmap\" count=\"%lu\" size=\"%lu\"/>\n",
	    (unsigned long)st.arenas.pages.n_huge,
	    (unsigned long)st.arenas.pages.huge);
	xml_space(&e, st.mapped);
	emit_printf(&e, "</malloc>\n");
	emit_flush(&e);
	return 0;
}
