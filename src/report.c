/*
 * report: the text and JSON reports from the figure tables. The Totals rows,
 * a base's summary line, the size-class table and every JSON object of
 * figures are made by walking the tables' rows (stats.h); the few summary
 * sentences under the totals and per arena are written out here. The
 * figures are read when the report is made: the totals once, then each base
 * and arena as it is printed. The report at exit is a destructor, after the
 * program's own atexit handlers.
 */
#include "report.h"
#include "../include/basemalloc.h"
#include "arena.h"
#include "base.h"
#include "conf.h"
#include "log.h"
#include "os.h"
#include "stats.h"
#include "sz.h"

#include <errno.h>
#include <string.h>

/* Blocks listed per base in the report (more are counted, not listed). */
#define REPORT_BLOCKS_MAX 64
/* Bytes of a formatted value. */
#define REPORT_VAL 32

void report_opts_parse(const char *opts, report_opts_t *r) {
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

/* ---------------------------------------------------------------------- */
/* JSON */

/* The rows of table t read from the struct at base, as members; rows of a
 * group sit in an object of that name. */
static void json_figs(emit_t *e, stats_table_t t, const void *base) {
	size_t n;
	const stats_fig_t *f = stats_table(t, &n);
	const char *group = "";
	for (size_t i = 0; i < n; i++) {
		if (f[i].key == NULL)
			continue;
		if (strcmp(f[i].group, group) != 0) {
			if (group[0] != '\0')
				emit_json_close(e, '}');
			group = f[i].group;
			if (group[0] != '\0')
				emit_json_open(e, group, '{');
		}
		emit_json_value(e, f[i].key, f[i].unit,
		    stats_fig_value(&f[i], base));
	}
	if (group[0] != '\0')
		emit_json_close(e, '}');
}

static void json_blocks(emit_t *e, base_t *base) {
	base_block_info_t info[REPORT_BLOCKS_MAX];
	char addr[REPORT_VAL];
	size_t n = base_blocks_get(base, info, REPORT_BLOCKS_MAX);
	emit_json_open(e, "block_list", '[');
	for (size_t i = 0; i < MIN(n, (size_t)REPORT_BLOCKS_MAX); i++) {
		emit_json_open(e, NULL, '{');
		log_format(addr, sizeof(addr), "%p", (void *)info[i].addr);
		emit_json_str(e, "address", addr);
		emit_json_u64(e, "size", info[i].size);
		emit_json_u64(e, "used", info[i].used);
		emit_json_u64(e, "resident", PAGE_CEILING(info[i].used));
		emit_json_bool(e, "thp", info[i].huge);
		emit_json_close(e, '}');
	}
	emit_json_close(e, ']');
}

static void json_base(emit_t *e, const char *key, base_t *base,
    const report_opts_t *ro) {
	base_stats_t bs;
	base_stats_get(base, &bs);
	emit_json_open(e, key, '{');
	json_figs(e, STATS_TABLE_BASE, &bs);
	if (!ro->no_blocks)
		json_blocks(e, base);
	emit_json_close(e, '}');
}

static void json_bin(emit_t *e, const stats_bin_t *b) {
	emit_json_open(e, NULL, '{');
	json_figs(e, STATS_TABLE_BIN, b);
	emit_json_close(e, '}');
}

static void json_arena(emit_t *e, unsigned i, const report_opts_t *ro) {
	stats_arena_t a;
	stats_arena_read(i, &a);
	emit_json_open(e, NULL, '{');
	emit_json_u64(e, "index", i);
	json_figs(e, STATS_TABLE_ARENA, &a);
	json_base(e, "base", arena_base(arena_get(i)), ro);
	if (!ro->no_classes) {
		emit_json_open(e, "bins", '[');
		for (unsigned c = 0; c < SZ_NSMALL; c++) {
			if (a.bins[c].slabs != 0 || a.bins[c].refills != 0)
				json_bin(e, &a.bins[c]);
		}
		emit_json_close(e, ']');
	}
	emit_json_close(e, '}');
}

static void json_header(emit_t *e) {
	char val[300];
	emit_json_str(e, "version", BM_VERSION);
	emit_json_u64(e, "pid", (uint64_t)os_pid());
	emit_json_u64(e, "cpus", os_ncpus());
	emit_json_str(e, "thp_mode", os_thp_mode_name(os_thp_mode()));
	emit_json_open(e, "options", '{');
	for (unsigned i = 0; conf_name(i) != NULL; i++) {
		conf_value_format(i, val, sizeof(val));
		emit_json_str(e, conf_name(i), val);
	}
	emit_json_close(e, '}');
}

static void report_json(emit_t *e, const stats_t *st,
    const report_opts_t *ro) {
	emit_printf(e, "{");
	e->depth = 1;
	emit_json_open(e, "basemalloc", '{');
	json_header(e);
	emit_json_open(e, "totals", '{');
	json_figs(e, STATS_TABLE_ARENA, &st->arenas);
	json_figs(e, STATS_TABLE_TOTAL, st);
	emit_json_open(e, "base", '{');
	json_figs(e, STATS_TABLE_BASE, &st->base);
	emit_json_close(e, '}');
	emit_json_close(e, '}');
	emit_json_open(e, "process", '{');
	json_figs(e, STATS_TABLE_PROCESS, st);
	emit_json_close(e, '}');
	if (base_b0() != NULL)
		json_base(e, "b0", base_b0(), ro);
	emit_json_open(e, "arenas", '[');
	for (unsigned i = 0; i < st->narenas && !ro->no_arenas; i++)
		json_arena(e, i, ro);
	emit_json_close(e, ']');
	emit_json_open(e, "bins", '[');
	for (unsigned i = 0; i < SZ_NSMALL && !ro->no_classes; i++)
		json_bin(e, &st->arenas.bins[i]);
	emit_json_close(e, ']');
	emit_json_close(e, '}');
	emit_printf(e, "\n}\n");
}

/* ---------------------------------------------------------------------- */
/* Text */

static void text_options(emit_t *e) {
	char val[300];
	emit_printf(e, "options:");
	for (unsigned i = 0; conf_name(i) != NULL; i++) {
		conf_value_format(i, val, sizeof(val));
		emit_printf(e, " %s:%s", conf_name(i), val);
	}
	emit_printf(e, "\n");
}

/* The Totals row at position pos of table t (struct at base); false when
 * the table has none. */
static bool text_total_row(emit_t *e, stats_table_t t, const void *base,
    unsigned pos) {
	size_t n;
	const stats_fig_t *f = stats_table(t, &n);
	for (size_t i = 0; i < n; i++) {
		if (f[i].pos != pos)
			continue;
		char h[REPORT_VAL];
		uint64_t v = stats_fig_value(&f[i], base);
		emit_row_t r = { .n = 0 };
		emit_cell(&r, 2, "  ");
		emit_cell(&r, 0, "%s", f[i].label);
		emit_cell(&r, (unsigned)(28 - strlen(f[i].label)), "%lu",
		    (unsigned long)v);
		emit_cell(&r, 12, "%s", emit_format(h, sizeof(h), f[i].unit, v));
		emit_printf(e, "%s  %s\n", r.s, f[i].note);
		return true;
	}
	return false;
}

/* The Totals rows of the arena, total and base tables, by position. */
static void text_totals(emit_t *e, const stats_t *st) {
	emit_printf(e, "\nTotals                         bytes\n");
	for (unsigned pos = 1;; pos++) {
		if (!text_total_row(e, STATS_TABLE_ARENA, &st->arenas, pos) &&
		    !text_total_row(e, STATS_TABLE_TOTAL, st, pos) &&
		    !text_total_row(e, STATS_TABLE_BASE, &st->base, pos))
			return;
	}
}

/* The counts under the totals: objects, runs, metadata, threads, kernel. */
static void text_counts(emit_t *e, const stats_t *st) {
	const stats_arena_t *a = &st->arenas;
	char h1[REPORT_VAL], h2[REPORT_VAL], p[16];
	uint64_t slabs = 0;
	for (unsigned i = 0; i < SZ_NSMALL; i++)
		slabs += a->bins[i].slabs;
	uint64_t used = a->pages.slab != 0 ? (a->small_allocated * 1000 +
	    a->pages.slab / 2) / a->pages.slab : UINT64_MAX;
	uint64_t meta = st->allocated != 0 ? (st->metadata * 1000 +
	    st->allocated / 2) / st->allocated : UINT64_MAX;
	emit_printf(e, "  small: %lu objects, %s in %lu slabs (%s used)\n",
	    (unsigned long)a->small_live, emit_format(h1, sizeof(h1),
	    EMIT_BYTES, a->small_allocated), (unsigned long)slabs,
	    emit_format(p, sizeof(p), EMIT_PERMILLE, used));
	emit_printf(e, "  large: %lu runs, %s (%lu allocated so far)\n",
	    (unsigned long)a->pages.n_large, emit_format(h1, sizeof(h1),
	    EMIT_BYTES, a->large_bytes), (unsigned long)a->large_nmalloc);
	emit_printf(e, "  huge: %lu mappings, %s\n",
	    (unsigned long)a->pages.n_huge, emit_format(h1, sizeof(h1),
	    EMIT_BYTES, a->pages.huge));
	emit_printf(e, "  metadata: %s of allocated, bases resident %s, "
	    "huge-page advised %s in %zu blocks\n", emit_format(p, sizeof(p),
	    EMIT_PERMILLE, meta), emit_format(h1, sizeof(h1), EMIT_BYTES,
	    st->base.resident), emit_format(h2, sizeof(h2), EMIT_BYTES,
	    st->base.n_thp), st->base.blocks);
	emit_printf(e, "  threads: %u (arenas: %u created, %u abandoned, %lu "
	    "adoptions); remote frees collected: %lu; purge runs: %lu\n",
	    st->in_use, st->narenas, st->abandoned, (unsigned long)a->adopted,
	    (unsigned long)a->remote_frees, (unsigned long)a->pages.purge_runs);
	emit_printf(e, "  kernel: mmap %lu, munmap %lu, madvise %lu, mremap "
	    "%lu; mapped now %s\n", (unsigned long)st->os.n_mmap,
	    (unsigned long)st->os.n_munmap, (unsigned long)st->os.n_madvise,
	    (unsigned long)st->os.n_mremap, emit_format(h1, sizeof(h1),
	    EMIT_BYTES, st->os_mapped));
}

/* The heap profiler's line, when it runs: its samples live (raw and as
 * the live heap they stand for), stacks, samples so far, dumps. */
static void text_prof(emit_t *e, const stats_t *st) {
	const prof_stats_t *p = &st->prof;
	char h1[REPORT_VAL], h2[REPORT_VAL];
	if (!opt_prof)
		return;
	emit_printf(e, "  prof: %lu samples live (%s, standing for ~%s) in %lu "
	    "stacks; %lu sampled so far, %lu not recorded; %lu dumps\n",
	    (unsigned long)p->live, emit_format(h1, sizeof(h1), EMIT_BYTES,
	    p->live_bytes), emit_format(h2, sizeof(h2), EMIT_BYTES,
	    p->est_bytes), (unsigned long)p->stacks,
	    (unsigned long)p->samples, (unsigned long)p->dropped,
	    (unsigned long)st->prof_dumps);
}

/* "  base: allocated 1.0 MiB, ..., blocks 2" from the base table. */
static void text_base_line(emit_t *e, const base_stats_t *bs) {
	size_t n;
	const stats_fig_t *f = stats_table(STATS_TABLE_BASE, &n);
	char h[REPORT_VAL];
	emit_printf(e, "  base:");
	for (size_t i = 0; i < n; i++)
		emit_printf(e, "%s %s %s", i == 0 ? "" : ",", f[i].line,
		    emit_format(h, sizeof(h), f[i].unit,
		    stats_fig_value(&f[i], bs)));
	emit_printf(e, "\n");
}

static void text_base(emit_t *e, base_t *base, const report_opts_t *ro) {
	base_stats_t bs;
	base_block_info_t info[REPORT_BLOCKS_MAX];
	char h[3][REPORT_VAL];
	base_stats_get(base, &bs);
	size_t n = base_blocks_get(base, info, REPORT_BLOCKS_MAX);
	text_base_line(e, &bs);
	if (ro->no_blocks)
		return;
	emit_printf(e, "    block             address        size        used"
	    "    resident   THP\n");
	for (size_t i = 0; i < MIN(n, (size_t)REPORT_BLOCKS_MAX); i++) {
		emit_row_t r = { .n = 0 };
		emit_cell(&r, 11, "%zu", n - 1 - i);
		emit_cell(&r, 20, "%p", (void *)info[i].addr);
		emit_cell(&r, 12, "%s", emit_format(h[0], REPORT_VAL, EMIT_BYTES,
		    info[i].size));
		emit_cell(&r, 12, "%s", emit_format(h[1], REPORT_VAL, EMIT_BYTES,
		    info[i].used));
		emit_cell(&r, 12, "%s", emit_format(h[2], REPORT_VAL, EMIT_BYTES,
		    PAGE_CEILING(info[i].used)));
		emit_cell(&r, 6, "%s", info[i].huge ? "yes" : "no");
		emit_printf(e, "%s\n", r.s);
	}
	if (n > REPORT_BLOCKS_MAX)
		emit_printf(e, "    ... %zu more blocks\n", n - REPORT_BLOCKS_MAX);
}

static void text_arena(emit_t *e, unsigned i, const report_opts_t *ro) {
	stats_arena_t a;
	char h[5][REPORT_VAL];
	stats_arena_read(i, &a);
	emit_printf(e, "\nArena %u: allocated %s, active %s, mapped %s, dirty "
	    "%s, purged %s in %lu runs\n", i,
	    emit_format(h[0], REPORT_VAL, EMIT_BYTES, a.allocated),
	    emit_format(h[1], REPORT_VAL, EMIT_BYTES, a.active),
	    emit_format(h[2], REPORT_VAL, EMIT_BYTES, a.pages.mapped),
	    emit_format(h[3], REPORT_VAL, EMIT_BYTES, a.pages.dirty),
	    emit_format(h[4], REPORT_VAL, EMIT_BYTES, a.pages.purged),
	    (unsigned long)a.pages.purge_runs);
	emit_printf(e, "  small %lu objects (%s), large %lu (%s), huge %lu (%s), "
	    "remote frees %lu, adopted %lu times\n", (unsigned long)a.small_live,
	    emit_format(h[0], REPORT_VAL, EMIT_BYTES, a.small_allocated),
	    (unsigned long)a.pages.n_large,
	    emit_format(h[1], REPORT_VAL, EMIT_BYTES, a.large_bytes),
	    (unsigned long)a.pages.n_huge,
	    emit_format(h[2], REPORT_VAL, EMIT_BYTES, a.pages.huge),
	    (unsigned long)a.remote_frees, (unsigned long)a.adopted);
	text_base(e, arena_base(arena_get(i)), ro);
}

/* The size-class table: a column per bin-table row with a label. */
static void text_classes(emit_t *e, const stats_t *st) {
	size_t n;
	const stats_fig_t *f = stats_table(STATS_TABLE_BIN, &n);
	char h[REPORT_VAL];
	emit_row_t head = { .n = 0 };
	for (size_t k = 0; k < n; k++) {
		if (f[k].label != NULL)
			emit_cell(&head, f[k].width, "%s", f[k].label);
	}
	emit_printf(e, "\nSize classes (all arenas; classes never used are not "
	    "shown)\n%s\n", head.s);
	for (unsigned i = 0; i < SZ_NSMALL; i++) {
		const stats_bin_t *b = &st->arenas.bins[i];
		if (b->slabs == 0 && b->refills == 0)
			continue;
		emit_row_t r = { .n = 0 };
		for (size_t k = 0; k < n; k++) {
			if (f[k].label != NULL)
				emit_cell(&r, f[k].width, "%s", emit_format(h,
				    sizeof(h), f[k].unit, stats_fig_value(&f[k], b)));
		}
		emit_printf(e, "%s\n", r.s);
	}
}

static void report_text(emit_t *e, const stats_t *st,
    const report_opts_t *ro) {
	emit_printf(e, "___ Begin basemalloc statistics ___\n");
	emit_printf(e, "version %s, pid %d, cpus %u, THP mode %s\n", BM_VERSION,
	    os_pid(), os_ncpus(), os_thp_mode_name(os_thp_mode()));
	text_options(e);
	text_totals(e, st);
	text_counts(e, st);
	text_prof(e, st);
	if (base_b0() != NULL) {
		emit_printf(e, "\nBoot base b0 (address map leaves, arena registry)"
		    "\n");
		text_base(e, base_b0(), ro);
	}
	for (unsigned i = 0; i < st->narenas && !ro->no_arenas; i++)
		text_arena(e, i, ro);
	if (!ro->no_classes)
		text_classes(e, st);
	emit_printf(e, "___ End basemalloc statistics ___\n");
}

void report_write(emit_t *e, const report_opts_t *ro) {
	stats_t st;
	stats_gather(&st);
	if (ro->json)
		report_json(e, &st, ro);
	else
		report_text(e, &st, ro);
	emit_flush(e);
}

void bm_stats_print(void (*write_cb)(void *opaque, const char *text),
    void *opaque, const char *opts) {
	emit_t e;
	report_opts_t ro;
	report_opts_parse(opts, &ro);
	emit_init(&e, ro.json, write_cb, opaque);
	report_write(&e, &ro);
}

/* ---------------------------------------------------------------------- */
/* The report at exit */

static void report_write_fd(void *opaque, const char *text) {
	os_write(*(int *)opaque, text, strlen(text));
}

/* Copy path with "%p" replaced by the pid; false when it does not fit. */
static bool report_path_expand(const char *path, char *out, size_t cap) {
	size_t n = 0;
	for (; *path != '\0'; path++) {
		if (path[0] == '%' && path[1] == 'p') {
			n += log_format(out + n, cap - n, "%d", os_pid());
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

__attribute__((destructor)) static void report_at_exit(void) {
	if (!opt_stats_print || base_b0() == NULL)
		return;
	int saved = errno;
	char path[sizeof(opt_stats_file) + 32];
	int fd = -1;
	if (opt_stats_file[0] != '\0') {
		if (report_path_expand(opt_stats_file, path, sizeof(path)))
			os_open_trunc(path, &fd);
		if (fd < 0)
			log_warn("stats_file: cannot open \"%s\"; report on "
			    "stderr", opt_stats_file);
	}
	if (fd >= 0) {
		bm_stats_print(report_write_fd, &fd, opt_stats_opts);
		os_close(fd);
	} else {
		bm_stats_print(NULL, NULL, opt_stats_opts);
	}
	errno = saved;
}
