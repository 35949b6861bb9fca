/*
 * stats: the figures behind bm_ctl and bm_stats_print. This first version
 * answers the base totals and a few arena figures; the full report grows
 * here.
 */
#include "stats.h"
#include "arena.h"
#include "base.h"
#include "conf.h"
#include "log.h"
#include "os.h"

#include <errno.h>
#include <string.h>

void stats_boot(void) {
}

static void base_totals_add(stats_base_totals_t *t, base_t *b) {
	base_stats_t s;
	base_stats_get(b, &s);
	t->allocated += s.allocated;
	t->resident += s.resident;
	t->mapped += s.mapped;
	t->n_thp += s.n_thp;
	t->blocks += s.blocks;
}

void stats_base_totals(stats_base_totals_t *out) {
	memset(out, 0, sizeof(*out));
	if (base_b0() != NULL)
		base_totals_add(out, base_b0());
	unsigned n = arena_count();
	for (unsigned i = 0; i < n; i++)
		base_totals_add(out, arena_get(i)->base);
}

static int ctl_read_size(size_t v, void *oldp, size_t *oldlenp) {
	if (oldp == NULL || oldlenp == NULL)
		return 0;
	if (*oldlenp != sizeof(size_t))
		return EINVAL;
	memcpy(oldp, &v, sizeof(v));
	return 0;
}

/* debug.fault_inject (BM_FAULT_INJECT builds only, else ENOENT): newp is a
 * uint64_t n; the n-th OS map from now fails (0 = none). */
static int ctl_fault_inject(void *newp, size_t newlen) {
#ifdef BM_FAULT_INJECT
	uint64_t n;
	if (newp == NULL || newlen != sizeof(n))
		return EINVAL;
	memcpy(&n, newp, sizeof(n));
	os_fault_inject(n);
	return 0;
#else
	(void)newp;
	(void)newlen;
	return ENOENT;
#endif
}

int bm_ctl(const char *name, void *oldp, size_t *oldlenp, void *newp,
    size_t newlen) {
	if (name == NULL)
		return EINVAL;
	if (strcmp(name, "debug.fault_inject") == 0)
		return ctl_fault_inject(newp, newlen);
	stats_base_totals_t t;
	stats_base_totals(&t);
	if (strcmp(name, "stats.base.mapped") == 0)
		return ctl_read_size(t.mapped, oldp, oldlenp);
	if (strcmp(name, "stats.base.resident") == 0)
		return ctl_read_size(t.resident, oldp, oldlenp);
	if (strcmp(name, "stats.base.allocated") == 0)
		return ctl_read_size(t.allocated, oldp, oldlenp);
	if (strcmp(name, "arenas.narenas") == 0)
		return ctl_read_size(arena_count(), oldp, oldlenp);
	return ENOENT;
}

static void stats_write(void (*cb)(void *, const char *), void *opaque,
    const char *text) {
	if (cb != NULL)
		cb(opaque, text);
	else
		log_write(text, strlen(text));
}

void bm_stats_print(void (*write_cb)(void *opaque, const char *text),
    void *opaque, const char *opts) {
	(void)opts;
	stats_base_totals_t t;
	stats_base_totals(&t);
	char buf[256];
	log_format(buf, sizeof(buf), "basemalloc: arenas %u, bases mapped %zu "
	    "resident %zu allocated %zu blocks %zu\n", arena_count(), t.mapped,
	    t.resident, t.allocated, t.blocks);
	stats_write(write_cb, opaque, buf);
}
