/*
 * ctl: bm_ctl. The namespace is one table whose rows are either a name of
 * its own (with get/set functions), every option, or a scope of figures (a
 * prefix and one of stats' tables); lookup and ctl_info walk the same rows,
 * so what bm_ctl answers and what README lists cannot differ.
 * Locks: ctl_mtx (rank INIT, set up by a constructor while the process is
 * single-threaded) guards the snapshot.
 */
#include "ctl.h"
#include "../include/basemalloc.h"
#include "alloc.h"
#include "arena.h"
#include "base.h"
#include "bg.h"
#include "conf.h"
#include "log.h"
#include "mutex.h"
#include "os.h"
#include "profdump.h"
#include "stats.h"
#include "sz.h"
#include "tsd.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

/* '#' indices in a name. */
#define CTL_NIDX 2

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
static const char *const ctl_type_name[] = {
	[CTL_BOOL] = "bool", [CTL_UNSIGNED] = "unsigned", [CTL_LONG] = "long",
	[CTL_SIZE] = "size_t", [CTL_U64] = "uint64_t",
	[CTL_STRING] = "const char *", [CTL_LIST] = "size_t[]",
	[CTL_ACTION] = "action",
};

typedef union {
	bool b;
	unsigned u;
	long l;
	size_t z;
	uint64_t q;
	const char *s;
} ctl_value_t;

typedef int (*ctl_get_fn)(const unsigned *idx, ctl_value_t *v);
typedef int (*ctl_set_fn)(const unsigned *idx, const void *newp,
    size_t newlen);

typedef enum {
	CTL_ROW_NAME,     /* a name of its own */
	CTL_ROW_OPTIONS,  /* "opt." + every option */
	CTL_ROW_FIGURES,  /* prefix + every row of a stats table */
} ctl_row_kind_t;

typedef struct {
	ctl_row_kind_t kind;
	const char *name;     /* NAME: the name; FIGURES: the prefix */
	uint8_t type;         /* NAME: ctl_type_t */
	const char *unit;     /* NAME */
	const char *doc;      /* NAME: the doc; FIGURES: the docs' prefix */
	ctl_get_fn get;       /* NAME */
	ctl_set_fn set;       /* NAME */
	stats_table_t table;  /* FIGURES */
	bool now;             /* FIGURES: arena # now (else the snapshot) */
	bool bin;             /* FIGURES: the last '#' is a size class */
	size_t off;           /* FIGURES: the table's struct in stats_t (or,
	                       * now, in stats_arena_t) */
} ctl_row_t;

static mutex_t ctl_mtx;
static _Atomic bool ctl_ready;
static stats_t ctl_snap;       /* guarded by ctl_mtx */
static uint64_t ctl_epoch;     /* guarded by ctl_mtx; 0 = no snapshot */

__attribute__((constructor)) static void ctl_boot(void) {
	if (mutex_init(&ctl_mtx, "ctl.snapshot", MUTEX_RANK_INIT) == 0)
		atomic_store(&ctl_ready, true);
}

/* ---------------------------------------------------------------------- */
/* Names of their own */

/* A name of its own without '#' whose value is expr, in member m of the
 * value: ctl_get_NAME. */
#define CTL_GETTER(name, m, expr) \
	static int ctl_get_##name(const unsigned *idx, ctl_value_t *v) { \
		(void)idx; \
		v->m = (expr); \
		return 0; \
	}

static bg_stats_t ctl_bg(void) {
	bg_stats_t b;
	bg_stats_get(&b);
	return b;
}

CTL_GETTER(version, s, BM_VERSION)
CTL_GETTER(bg_running, b, ctl_bg().running)
CTL_GETTER(bg_starts, q, ctl_bg().starts)
CTL_GETTER(bg_passes, q, ctl_bg().passes)
CTL_GETTER(narenas, u, arena_count())
CTL_GETTER(abandoned, u, arena_count_abandoned())
CTL_GETTER(nbins, u, SZ_NSMALL)
#undef CTL_GETTER

static int ctl_get_epoch(const unsigned *idx, ctl_value_t *v) {
	(void)idx;
	mutex_lock(&ctl_mtx);
	v->q = ctl_epoch;
	mutex_unlock(&ctl_mtx);
	return 0;
}

static void ctl_refresh_locked(void) {
	stats_gather(&ctl_snap);
	ctl_epoch++;
}

static int ctl_set_epoch(const unsigned *idx, const void *newp,
    size_t newlen) {
	(void)idx;
	(void)newp;
	if (newlen != sizeof(uint64_t))
		return EINVAL;
	mutex_lock(&ctl_mtx);
	ctl_refresh_locked();
	mutex_unlock(&ctl_mtx);
	return 0;
}

static int ctl_get_thread_arena(const unsigned *idx, ctl_value_t *v) {
	(void)idx;
	arena_t *a = tsd_arena();
	if (a == NULL)
		return EAGAIN;
	v->u = arena_index(a);
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
		v->q += arena_adopted(arena_get(i));
	return 0;
}

static int ctl_get_bin_size(const unsigned *idx, ctl_value_t *v) {
	if (idx[0] >= SZ_NSMALL)
		return ENOENT;
	v->z = sz_index2size(idx[0]);
	return 0;
}

static int ctl_get_bin_slab_size(const unsigned *idx, ctl_value_t *v) {
	if (idx[0] >= SZ_NSMALL)
		return ENOENT;
	v->z = arena_bin_slab_size(idx[0]);
	return v->z != 0 ? 0 : EAGAIN;
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
	arena_purge(a);
	return 0;
}

/* newp: a const char * path, or NULL (or no newp) for the next name. */
static int ctl_act_prof_dump(const unsigned *idx, const void *newp,
    size_t newlen) {
	const char *path = NULL;
	(void)idx;
	if (newp != NULL && newlen != sizeof(path))
		return EINVAL;
	if (newp != NULL)
		memcpy(&path, newp, sizeof(path));
	return profdump_write(path);
}

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

#define N(n, t, u, g, s, d) { CTL_ROW_NAME, n, t, u, d, g, s, 0, 0, 0, 0 },
#define FIG(p, t, now, bin, off, d) { CTL_ROW_FIGURES, p, 0, NULL, d, NULL, \
	NULL, STATS_TABLE_##t, now, bin, off },

/* The namespace, in README's order. */
static const ctl_row_t ctl_rows[] = {
	N("version", CTL_STRING, "-", ctl_get_version, NULL,
	    "basemalloc's version")
	N("epoch", CTL_U64, "count", ctl_get_epoch, ctl_set_epoch,
	    "snapshot number; writing refreshes the snapshot")
	{ CTL_ROW_OPTIONS, "opt.", 0, NULL, NULL, NULL, NULL, 0, 0, 0, 0 },
	N("background_thread.running", CTL_BOOL, "-", ctl_get_bg_running, NULL,
	    "whether the background purger runs now")
	N("background_thread.starts", CTL_U64, "count", ctl_get_bg_starts, NULL,
	    "times the background purger was started")
	N("background_thread.passes", CTL_U64, "count", ctl_get_bg_passes, NULL,
	    "passes the background purger made over the arenas")
	N("thread.arena", CTL_UNSIGNED, "index", ctl_get_thread_arena, NULL,
	    "index of the calling thread's arena")
	N("arenas.narenas", CTL_UNSIGNED, "count", ctl_get_narenas, NULL,
	    "arenas created")
	N("arenas.abandoned", CTL_UNSIGNED, "count", ctl_get_abandoned, NULL,
	    "arenas in the pool (their thread exited)")
	N("arenas.in_use", CTL_UNSIGNED, "count", ctl_get_in_use, NULL,
	    "arenas held by threads (= threads that allocated and are alive)")
	N("arenas.adopted", CTL_U64, "count", ctl_get_adopted, NULL,
	    "times a new thread took an arena from the pool")
	N("arenas.nbins", CTL_UNSIGNED, "count", ctl_get_nbins, NULL,
	    "number of small size classes")
	N("arenas.bin.#.size", CTL_SIZE, "bytes", ctl_get_bin_size, NULL,
	    "bytes of class #")
	N("arenas.bin.#.slab_size", CTL_SIZE, "bytes", ctl_get_bin_slab_size,
	    NULL, "bytes of a slab of class #")
	N("arenas.bin.#.nblocks", CTL_UNSIGNED, "count", ctl_get_bin_nblocks,
	    NULL, "blocks in a slab of class #")
	N("arena.purge", CTL_ACTION, "-", NULL, ctl_act_purge_all,
	    "purge every arena's dirty pages now")
	N("arena.#.purge", CTL_ACTION, "-", NULL, ctl_act_purge_one,
	    "purge arena #'s dirty pages now")
	N("prof.dump", CTL_ACTION, "-", NULL, ctl_act_prof_dump, "write a heap "
	    "dump; `newp`: a `const char *` path, or NULL (or no `newp`) for "
	    "the next `PREFIX.pid.seq.m.heap`; `EAGAIN` without `prof:true`")
	FIG("stats.", ARENA, false, false, offsetof(stats_t, arenas), "")
	FIG("stats.", TOTAL, false, false, 0, "")
	FIG("stats.base.", BASE, false, false, offsetof(stats_t, base),
	    "all bases: ")
	N("stats.base.blocks_list", CTL_LIST, "-", NULL, NULL,
	    "every base block, 5 words each: owner (arena index, `SIZE_MAX` "
	    "for b0), address, size, used bytes, 1 if advised MADV_HUGEPAGE; "
	    "b0 first, newest block first within a base")
	FIG("stats.b0.", BASE, false, false, offsetof(stats_t, b0),
	    "boot base: ")
	FIG("stats.", PROCESS, false, false, 0, "")
	FIG("stats.bins.#.", BIN, false, true, offsetof(stats_t, arenas.bins),
	    "class #, all arenas: ")
	FIG("stats.arenas.#.", ARENA, true, false, 0, "arena #: ")
	FIG("stats.arenas.#.base.", BASE, true, false,
	    offsetof(stats_arena_t, base), "arena #'s base: ")
	FIG("stats.arenas.#.bins.#.", BIN, true, true,
	    offsetof(stats_arena_t, bins), "arena #, class #: ")
#ifdef BM_FAULT_INJECT
	N("debug.fault_inject", CTL_ACTION, "-", NULL, ctl_act_fault_inject,
	    "`newp`: `uint64_t` n; the n-th OS map from now fails (0 = none). "
	    "Only in `make fault` builds; elsewhere ENOENT")
#endif
};
#undef N
#undef FIG

#define CTL_NROWS (sizeof(ctl_rows) / sizeof(ctl_rows[0]))

/* ---------------------------------------------------------------------- */
/* Names */

/* Match the start of name against pattern pat ('#' = decimal digits, into
 * idx from *k on); the rest of name, or NULL. */
static const char *ctl_match_prefix(const char *pat, const char *name,
    unsigned *idx, unsigned *k) {
	while (*pat != '\0') {
		if (*pat != '#') {
			if (*pat++ != *name++)
				return NULL;
			continue;
		}
		if (*name < '0' || *name > '9' || *k == CTL_NIDX)
			return NULL;
		unsigned long v = 0;
		for (; *name >= '0' && *name <= '9'; name++) {
			v = v * 10 + (unsigned long)(*name - '0');
			if (v > UINT_MAX)
				return NULL;
		}
		idx[(*k)++] = (unsigned)v;
		pat++;
	}
	return name;
}

/* The figure suffix of a row of a FIGURES scope. */
static const char *ctl_fig_name(const ctl_row_t *r, const stats_fig_t *f) {
	return r->now && r->table == STATS_TABLE_ARENA ? f->ctl_one : f->ctl;
}

static ctl_type_t ctl_fig_type(const stats_fig_t *f) {
	return f->type == STATS_SIZE ? CTL_SIZE : f->type == STATS_U64 ?
	    CTL_U64 : CTL_UNSIGNED;
}

/* What a name resolved to. */
typedef struct {
	const ctl_row_t *row;
	const stats_fig_t *fig;      /* FIGURES */
	const conf_opt_t *opt;       /* OPTIONS */
	unsigned idx[CTL_NIDX];
} ctl_target_t;

static bool ctl_lookup_row(const ctl_row_t *r, const char *name,
    ctl_target_t *t) {
	unsigned k = 0;
	const char *rest = ctl_match_prefix(r->name, name, t->idx, &k);
	if (rest == NULL)
		return false;
	if (r->kind == CTL_ROW_NAME)
		return *rest == '\0';
	if (r->kind == CTL_ROW_OPTIONS) {
		for (unsigned i = 0; (t->opt = conf_option(i)) != NULL; i++) {
			if (strcmp(t->opt->name, rest) == 0)
				return true;
		}
		return false;
	}
	size_t n;
	const stats_fig_t *f = stats_table(r->table, &n);
	for (size_t i = 0; i < n; i++) {
		const char *s = ctl_fig_name(r, &f[i]);
		if (s != NULL && strcmp(s, rest) == 0) {
			t->fig = &f[i];
			return true;
		}
	}
	return false;
}

static bool ctl_lookup(const char *name, ctl_target_t *t) {
	for (size_t i = 0; i < CTL_NROWS; i++) {
		memset(t, 0, sizeof(*t));
		t->row = &ctl_rows[i];
		if (ctl_lookup_row(&ctl_rows[i], name, t))
			return true;
	}
	return false;
}

/* Options read as their C type; choices and strings as a const char *. */
static ctl_type_t ctl_option_type(const conf_opt_t *o) {
	static const uint8_t types[] = { [CONF_BOOL] = CTL_BOOL,
	    [CONF_LONG] = CTL_LONG, [CONF_SIZE] = CTL_SIZE,
	    [CONF_ENUM] = CTL_STRING, [CONF_STRING] = CTL_STRING };
	return (ctl_type_t)types[o->type];
}

static ctl_type_t ctl_target_type(const ctl_target_t *t) {
	if (t->row->kind == CTL_ROW_FIGURES)
		return ctl_fig_type(t->fig);
	if (t->row->kind == CTL_ROW_NAME)
		return (ctl_type_t)t->row->type;
	return ctl_option_type(t->opt);
}

/* ---------------------------------------------------------------------- */
/* Values */

static int ctl_get_option(const conf_opt_t *o, ctl_value_t *v) {
	if (o->type == CONF_STRING)
		v->s = o->var;
	else if (o->type == CONF_ENUM)
		v->s = o->choices[*(const unsigned *)o->var];
	else if (o->type == CONF_BOOL)
		v->b = *(const bool *)o->var;
	else if (o->type == CONF_LONG)
		v->l = *(const long *)o->var;
	else
		v->z = *(const size_t *)o->var;
	return 0;
}

/* A figure of the snapshot or of arena idx[0] now. */
static int ctl_get_figure(const ctl_target_t *t, ctl_value_t *v) {
	const ctl_row_t *r = t->row;
	size_t off = r->off;
	if (r->bin) {
		unsigned c = t->idx[r->now ? 1 : 0];
		if (c >= SZ_NSMALL)
			return ENOENT;
		off += c * sizeof(stats_bin_t);
	}
	uint64_t q;
	if (r->now) {
		stats_arena_t a;
		if (t->idx[0] >= arena_count())
			return ENOENT;
		stats_arena_read(t->idx[0], &a);
		q = stats_fig_value(t->fig, (const char *)&a + off);
	} else {
		mutex_lock(&ctl_mtx);
		if (ctl_epoch == 0)
			ctl_refresh_locked();
		q = stats_fig_value(t->fig, (const char *)&ctl_snap + off);
		mutex_unlock(&ctl_mtx);
	}
	if (t->fig->type == STATS_SIZE)
		v->z = (size_t)q;
	else if (t->fig->type == STATS_UNSIGNED)
		v->u = (unsigned)q;
	else
		v->q = q;
	return 0;
}

static int ctl_get(const ctl_target_t *t, ctl_value_t *v) {
	memset(v, 0, sizeof(*v));
	if (t->row->kind == CTL_ROW_OPTIONS)
		return ctl_get_option(t->opt, v);
	if (t->row->kind == CTL_ROW_FIGURES)
		return ctl_get_figure(t, v);
	return t->row->get != NULL ? t->row->get(t->idx, v) : EPERM;
}

/* "stats.base.blocks_list" (stats_blocks_list). *oldlenp: in, the
 * buffer's bytes; out, the bytes written, or the bytes needed with EINVAL
 * when the buffer is short. */
static int ctl_read_list(void *oldp, size_t *oldlenp) {
	if (oldlenp == NULL)
		return oldp == NULL ? 0 : EINVAL;
	size_t entry = sizeof(stats_block_t);
	size_t cap = oldp != NULL ? *oldlenp / entry : 0;
	size_t n = stats_blocks_list(oldp, cap);
	*oldlenp = n * entry;
	return oldp != NULL && n > cap ? EINVAL : 0;
}

/* Copy v out: oldp NULL with oldlenp set asks for the length. */
static int ctl_copy_out(ctl_type_t type, const ctl_value_t *v, void *oldp,
    size_t *oldlenp) {
	size_t len = ctl_type_size[type];
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
	ctl_target_t t;
	if (name == NULL)
		return EINVAL;
	if (!ctl_lookup(name, &t))
		return ENOENT;
	if (!atomic_load(&ctl_ready) || malloc_boot() != 0)
		return EAGAIN;
	ctl_type_t type = ctl_target_type(&t);
	const ctl_row_t *r = t.row;
	if (type == CTL_ACTION)
		return oldp != NULL ? EINVAL : r->set(t.idx, newp, newlen);
	if (newp != NULL) {
		if (r->kind != CTL_ROW_NAME || r->set == NULL)
			return EPERM;
		int err = r->set(t.idx, newp, newlen);
		if (err != 0)
			return err;
	}
	if (type == CTL_LIST)
		return ctl_read_list(oldp, oldlenp);
	if (oldp == NULL && oldlenp == NULL)
		return 0;
	ctl_value_t v;
	int err = ctl_get(&t, &v);
	return err != 0 ? err : ctl_copy_out(type, &v, oldp, oldlenp);
}

/* ---------------------------------------------------------------------- */
/* The names, for README */

static void ctl_info_name(const ctl_row_t *r, ctl_info_t *out) {
	out->type = ctl_type_name[r->type];
	if (r->type == CTL_ACTION && strcmp(r->name, "debug.fault_inject") == 0)
		out->type = "action (fault builds)";
	if (r->type == CTL_ACTION && strcmp(r->name, "prof.dump") == 0)
		out->type = "action (prof)";
	out->unit = r->unit;
	out->read = r->type == CTL_ACTION ? "-" : "now";
	log_format(out->name, sizeof(out->name), "%s", r->name);
	log_format(out->doc, sizeof(out->doc), "%s", r->doc);
}

static void ctl_info_option(const conf_opt_t *o, ctl_info_t *out) {
	out->type = ctl_type_name[ctl_option_type(o)];
	out->unit = o->unit;
	out->read = "now";
	log_format(out->name, sizeof(out->name), "opt.%s", o->name);
	log_format(out->doc, sizeof(out->doc), "option `%s`", o->name);
}

static void ctl_info_figure(const ctl_row_t *r, const stats_fig_t *f,
    ctl_info_t *out) {
	static const char *const units[] = { [EMIT_BYTES] = "bytes",
	    [EMIT_COUNT] = "count", [EMIT_PERMILLE] = "thousandths" };
	out->type = ctl_type_name[ctl_fig_type(f)];
	out->unit = units[f->unit];
	out->read = r->now ? "now" : "epoch";
	log_format(out->name, sizeof(out->name), "%s%s", r->name,
	    ctl_fig_name(r, f));
	log_format(out->doc, sizeof(out->doc), "%s%s", r->doc, f->doc);
}

/* Name j of row r into out; false when r has fewer. */
static bool ctl_info_row(const ctl_row_t *r, unsigned j, ctl_info_t *out) {
	if (r->kind == CTL_ROW_NAME) {
		if (j > 0)
			return false;
		ctl_info_name(r, out);
		return true;
	}
	if (r->kind == CTL_ROW_OPTIONS) {
		const conf_opt_t *o = conf_option(j);
		if (o != NULL)
			ctl_info_option(o, out);
		return o != NULL;
	}
	size_t n;
	const stats_fig_t *f = stats_table(r->table, &n);
	for (size_t i = 0; i < n; i++) {
		if (ctl_fig_name(r, &f[i]) != NULL && j-- == 0) {
			ctl_info_figure(r, &f[i], out);
			return true;
		}
	}
	return false;
}

bool ctl_info(unsigned i, ctl_info_t *out) {
	for (size_t r = 0; r < CTL_NROWS; r++) {
		for (unsigned j = 0; ctl_info_row(&ctl_rows[r], j, out); j++) {
			if (i-- == 0)
				return true;
		}
	}
	return false;
}
