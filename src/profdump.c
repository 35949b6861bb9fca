/*
 * profdump: dumps and the leak report (see profdump.h). The report at exit
 * copies the biggest stacks out under prof_lock and symbolises them after
 * releasing it (symbol_lookup reads files; a thread waiting for the lock
 * must not wait for that).
 */
#include "profdump.h"
#include "conf.h"
#include "log.h"
#include "os.h"
#include "prof.h"
#include "symbol.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>

#define PD_LEAK_STACKS 10   /* stacks the leak report shows */
#define PD_LEAK_FRAMES 16   /* frames it shows of each */

typedef struct {
	int fd;
	int err;                /* first write error */
	size_t len;
	char buf[4096];
} pd_out_t;

static _Atomic uint64_t pd_seq, pd_count;

static void pd_flush(pd_out_t *o) {
	if (o->len > 0 && o->err == 0)
		o->err = os_write(o->fd, o->buf, o->len);
	o->len = 0;
}

static void pd_printf(pd_out_t *o, const char *fmt, ...) BM_FORMAT(2, 3);
static void pd_printf(pd_out_t *o, const char *fmt, ...) {
	if (sizeof(o->buf) - o->len < 512)
		pd_flush(o);
	va_list ap;
	va_start(ap, fmt);
	o->len += log_vformat(o->buf + o->len, sizeof(o->buf) - o->len, fmt, ap);
	va_end(ap);
}

typedef struct {
	pd_out_t *o;
	const prof_stats_t *totals;
	bool header;
} pd_dump_t;

static void pd_header(pd_dump_t *d) {
	if (d->header)
		return;
	d->header = true;
	pd_printf(d->o, "heap profile: %lu: %lu [0: 0] @ heap_v2/%lu\n",
	    (unsigned long)d->totals->live, (unsigned long)d->totals->live_bytes,
	    (unsigned long)prof_period());
}

static void pd_stack_line(void *arg, const prof_stack_view_t *s) {
	pd_dump_t *d = arg;
	pd_header(d);
	pd_printf(d->o, "%lu: %lu [0: 0] @", (unsigned long)s->count,
	    (unsigned long)s->bytes);
	for (unsigned i = 0; i < s->depth; i++)
		pd_printf(d->o, " 0x%lx", (unsigned long)(s->frames[i] - (i == 0)));
	pd_printf(d->o, "\n");
}

/* Append /proc/self/maps. */
static void pd_maps(pd_out_t *o) {
	int fd;
	pd_printf(o, "\nMAPPED_LIBRARIES:\n");
	pd_flush(o);
	if (os_open_read("/proc/self/maps", &fd) != 0)
		return;
	size_t n;
	while ((n = os_read(fd, o->buf, sizeof(o->buf))) > 0) {
		o->len = n;
		pd_flush(o);
	}
	os_close(fd);
}

static int pd_write_fd(int fd) {
	pd_out_t o = { .fd = fd };
	prof_stats_t totals;
	pd_dump_t d = { &o, &totals, false };
	prof_stacks_visit(pd_stack_line, &d, &totals);
	pd_header(&d);
	pd_maps(&o);
	pd_flush(&o);
	return o.err;
}

/* PREFIX.pid.seq.kind.heap into buf; false when it does not fit. */
static bool pd_auto_path(char *buf, size_t cap, char kind) {
	uint64_t seq = atomic_fetch_add(&pd_seq, 1);
	size_t n = log_format(buf, cap, "%s.%d.%lu.%c.heap", opt_prof_prefix,
	    os_pid(), (unsigned long)seq, kind);
	return n + 1 < cap;
}

/* Write a dump to path, or to the next automatic name of kind; the path
 * used goes to used (room for cap bytes). */
static int pd_write(const char *path, char kind, char *used, size_t cap) {
	if (!opt_prof)
		return EAGAIN;
	if (path == NULL) {
		if (!pd_auto_path(used, cap, kind))
			return ENAMETOOLONG;
		path = used;
	} else {
		log_format(used, cap, "%s", path);
	}
	int fd, err = os_open_trunc(path, &fd);
	if (err != 0)
		return err;
	err = pd_write_fd(fd);
	os_close(fd);
	if (err == 0)
		atomic_fetch_add(&pd_count, 1);
	return err;
}

int profdump_write(const char *path) {
	char used[sizeof(opt_prof_prefix) + 64];
	return pd_write(path, 'm', used, sizeof(used));
}

void profdump_gdump(void) {
	char used[sizeof(opt_prof_prefix) + 64];
	int err = pd_write(NULL, 'u', used, sizeof(used));
	if (err != 0)
		log_warn("prof: cannot write %s (error %d)", used, err);
}

uint64_t profdump_count(void) {
	return atomic_load(&pd_count);
}

/* ---------------------------------------------------------------------- */
/* The leak report */

typedef struct {
	uint64_t count, bytes;     /* sampled */
	double est_count, est_bytes;
	unsigned depth;
	uintptr_t frames[PD_LEAK_FRAMES];
} pd_leak_t;

typedef struct {
	pd_leak_t top[PD_LEAK_STACKS];   /* biggest first */
	unsigned n;
	double est_count, est_bytes;     /* all stacks */
} pd_leaks_t;

/* Keep s if it is among the biggest (estimated bytes) seen so far. */
static void pd_leak_collect(void *arg, const prof_stack_view_t *s) {
	pd_leaks_t *l = arg;
	pd_leak_t e = { s->count, s->bytes, 0, 0, 0, { 0 } };
	e.est_count = prof_scale(s->count, s->bytes, &e.est_bytes);
	e.depth = MIN(s->depth, PD_LEAK_FRAMES);
	memcpy(e.frames, s->frames, e.depth * sizeof(uintptr_t));
	l->est_count += e.est_count;
	l->est_bytes += e.est_bytes;
	unsigned i = l->n < PD_LEAK_STACKS ? l->n++ : PD_LEAK_STACKS;
	for (; i > 0 && l->top[i - 1].est_bytes < e.est_bytes; i--) {
		if (i < PD_LEAK_STACKS)
			l->top[i] = l->top[i - 1];
	}
	if (i < PD_LEAK_STACKS)
		l->top[i] = e;
}

static void pd_leak_frame(pd_out_t *o, unsigned i, uintptr_t ret) {
	symbol_t sym;
	uintptr_t call = ret - 1;   /* inside the call instruction */
	if (symbol_lookup(call, &sym) != 0 || sym.module[0] == '\0')
		pd_printf(o, "    #%u 0x%lx\n", i, (unsigned long)call);
	else if (sym.name[0] == '\0')
		pd_printf(o, "    #%u 0x%lx (%s+0x%lx)\n", i, (unsigned long)call,
		    sym.module, (unsigned long)sym.vaddr);
	else
		pd_printf(o, "    #%u 0x%lx %s+0x%lx (%s)\n", i,
		    (unsigned long)call, sym.name, (unsigned long)sym.name_off,
		    sym.module);
}

static void pd_leak_stack(pd_out_t *o, const pd_leak_t *e) {
	char b[32];
	pd_printf(o, "basemalloc: ~%s in ~%lu objects (%lu samples) "
	    "allocated at:\n", log_format_bytes(b, sizeof(b), (uint64_t)e->est_bytes),
	    (unsigned long)(e->est_count + 0.5), (unsigned long)e->count);
	if (e->depth == 0)
		pd_printf(o, "    (no stack: sampled before the stack walker "
		    "was ready)\n");
	for (unsigned i = 0; i < e->depth; i++)
		pd_leak_frame(o, i, e->frames[i]);
}

/* The report on fd 2; dump: the final dump's path, or "". */
static void pd_leak_report(const char *dump) {
	static pd_leaks_t l;   /* at exit only, from one thread */
	prof_stats_t t;
	char b1[32], b2[32];
	memset(&l, 0, sizeof(l));
	prof_stacks_visit(pd_leak_collect, &l, &t);
	pd_out_t o = { .fd = 2 };
	log_format_bytes(b2, sizeof(b2), prof_period());
	if (t.live == 0)
		pd_printf(&o, "basemalloc: leak report: no sampled allocation is "
		    "live at exit (one sample per %s allocated)\n", b2);
	else
		pd_printf(&o, "basemalloc: leak report: ~%s in ~%lu objects live "
		    "at exit, from %lu stacks (%lu samples, one per %s "
		    "allocated)\n", log_format_bytes(b1, sizeof(b1), (uint64_t)l.est_bytes),
		    (unsigned long)(l.est_count + 0.5), (unsigned long)t.stacks,
		    (unsigned long)t.live, b2);
	for (unsigned i = 0; i < l.n; i++)
		pd_leak_stack(&o, &l.top[i]);
	if (t.live > 0 && dump[0] != '\0')
		pd_printf(&o, "basemalloc: leak report: every stack is in %s; "
		    "bench/prof top %s adds files and lines\n", dump, dump);
	pd_flush(&o);
}

__attribute__((destructor)) static void profdump_at_exit(void) {
	if (!opt_prof)
		return;
	int saved = errno;
	char used[sizeof(opt_prof_prefix) + 64] = "";
	if (opt_prof_final) {
		int err = pd_write(NULL, 'f', used, sizeof(used));
		if (err != 0) {
			log_warn("prof: cannot write %s (error %d)", used, err);
			used[0] = '\0';
		}
	}
	if (opt_prof_leak)
		pd_leak_report(used);
	errno = saved;
}
