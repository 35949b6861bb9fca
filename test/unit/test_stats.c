/*
 * test_stats: the statistics wing linked directly (stats, ctl, emit, report
 * over the allocator's bm_* calls). The figure tables are well formed (keys
 * and names unique, every named row documented, the Totals rows numbered
 * 1..n); every name ctl_info lists answers bm_ctl with its type's length and
 * the errors are the documented ones; figures follow what the test
 * allocates, and the totals add up the arenas; emit formats values and JSON
 * exactly; both reports come out whole through the callback.
 */
#include "check.h"
#include "../../include/basemalloc.h"
#include "ctl.h"
#include "emit.h"
#include "report.h"
#include "stats.h"
#include "sz.h"

#include <errno.h>
#include <pthread.h>

/* stats: keys and bm_ctl names unique per table, named rows documented */
static int test_tables(void) {
	unsigned maxpos = 0, npos = 0;
	for (int t = 0; t < STATS_NTABLES; t++) {
		size_t n;
		const stats_fig_t *f = stats_table((stats_table_t)t, &n);
		CHECK(n > 0);
		for (size_t i = 0; i < n; i++) {
			CHECK(f[i].doc != NULL && f[i].doc[0] != '\0', "table %d "
			    "row %zu has no doc", t, i);
			CHECK(f[i].pos == 0 || (f[i].label && f[i].note),
			    "table %d row %zu: a Totals row without label", t, i);
			maxpos = MAX(maxpos, f[i].pos);
			npos += f[i].pos != 0;
			for (size_t j = 0; j < i; j++) {
				CHECK(f[i].key == NULL || f[j].key == NULL ||
				    strcmp(f[i].key, f[j].key) != 0 ||
				    strcmp(f[i].group, f[j].group) != 0,
				    "table %d: key %s twice", t, f[i].key);
				CHECK(f[i].ctl == NULL || f[j].ctl == NULL ||
				    strcmp(f[i].ctl, f[j].ctl) != 0,
				    "table %d: name %s twice", t, f[i].ctl);
			}
		}
	}
	CHECK(npos == maxpos && npos >= 10, "Totals rows %u, last %u", npos,
	    maxpos);
	return CHECK_OK;
}

/* Pattern to a name: each '#' becomes 0. */
static void instance(const char *pat, char *out, size_t cap) {
	size_t n = 0;
	for (; *pat != '\0' && n + 2 < cap; pat++)
		out[n++] = *pat == '#' ? '0' : *pat;
	out[n] = '\0';
}

/* ctl: every listed name answers with its type's length */
static int test_names(void) {
	ctl_info_t c, d;
	char name[128];
	unsigned i;
	bm_free(bm_malloc(1));
	for (i = 0; ctl_info(i, &c); i++) {
		for (unsigned j = 0; j < i; j++)
			CHECK(ctl_info(j, &d) && strcmp(c.name, d.name) != 0,
			    "%s listed twice", c.name);
		instance(c.name, name, sizeof(name));
		size_t len = 0;
		int err = bm_ctl(name, NULL, &len, NULL, 0);
		if (strstr(c.type, "fault") != NULL) {
			CHECK(err == ENOENT, "%s: %d outside fault builds", name, err);
			continue;
		}
		if (strcmp(c.type, "action (prof)") == 0) {
			/* The profiler is off here: its actions say so. */
			CHECK(err == EAGAIN, "%s: %d with prof:false", name, err);
			continue;
		}
		if (strcmp(c.type, "action") == 0) {
			CHECK(err == EINVAL || err == 0, "%s: %d", name, err);
			CHECK(bm_ctl(name, NULL, NULL, NULL, 0) == 0, "%s", name);
			continue;
		}
		CHECK(err == 0, "%s: length query %d", name, err);
		if (strcmp(c.type, "size_t[]") == 0) {
			CHECK(len % (5 * sizeof(size_t)) == 0 && len > 0);
			continue;
		}
		CHECK(len == check_ctl_type_size(c.type), "%s: %zu bytes, type %s",
		    name, len, c.type);
		unsigned char buf[16];
		CHECK(bm_ctl(name, buf, &len, NULL, 0) == 0, "%s", name);
	}
	CHECK(i >= 80, "%u names", i);
	return CHECK_OK;
}

/* ctl: unknown names and indices, wrong lengths, read-only names */
static int test_errors(void) {
	size_t v, len = sizeof(v);
	uint64_t e = 1;
	CHECK(bm_ctl("stats.nosuch", &v, &len, NULL, 0) == ENOENT);
	CHECK(bm_ctl("stats.arenas.9999.allocated", &v, &len, NULL, 0) == ENOENT);
	CHECK(bm_ctl("stats.bins.44.live", &v, &len, NULL, 0) == ENOENT);
	CHECK(bm_ctl("stats.arenas.0.bins.99.live", &v, &len, NULL, 0) == ENOENT);
	CHECK(bm_ctl("stats.arenas.x.allocated", &v, &len, NULL, 0) == ENOENT);
	CHECK(bm_ctl(NULL, &v, &len, NULL, 0) == EINVAL);
	len = 4;
	CHECK(bm_ctl("stats.allocated", &v, &len, NULL, 0) == EINVAL && len == 8);
	CHECK(bm_ctl("stats.allocated", NULL, NULL, &v, sizeof(v)) == EPERM);
	CHECK(bm_ctl("opt.junk", NULL, NULL, &v, sizeof(v)) == EPERM);
	CHECK(bm_ctl("epoch", NULL, NULL, &e, 4) == EINVAL);
	CHECK(bm_ctl("arena.purge", &v, &len, NULL, 0) == EINVAL);
	return CHECK_OK;
}

static size_t fig(const char *fmt, unsigned a, unsigned c) {
	char name[96];
	size_t v = (size_t)-1, len = sizeof(v);
	snprintf(name, sizeof(name), fmt, a, c);
	return bm_ctl(name, &v, &len, NULL, 0) == 0 ? v : (size_t)-1;
}

static void *idle_thread(void *arg) {
	(void)arg;
	for (int i = 0; i < 300; i++)
		bm_malloc(40);  /* left live in an arena that goes to the pool */
	return NULL;
}

/* stats: figures follow the allocations; the totals add up the arenas */
static int test_gather(void) {
	static void *p[3000];
	unsigned c = sz_size2index(48), a, tmp;
	size_t len = sizeof(a);
	uint64_t e = 1;
	pthread_t t;
	bm_free(bm_malloc(1));  /* this thread's arena first: the idle one's
	                         * goes to the pool and stays there */
	CHECK(pthread_create(&t, NULL, idle_thread, NULL) == 0);
	pthread_join(t, NULL);
	CHECK(bm_ctl("thread.arena", &a, &len, NULL, 0) == 0);
	size_t live0 = fig("stats.arenas.%u.bins.%u.live", a, c);
	for (int i = 0; i < 3000; i++)
		CHECK((p[i] = bm_malloc(48)) != NULL);
	CHECK(fig("stats.arenas.%u.bins.%u.live", a, c) == live0 + 3000);
	CHECK(bm_ctl("epoch", NULL, NULL, &e, sizeof(e)) == 0);
	stats_t st;
	stats_gather(&st);
	CHECK(st.narenas == 2 && st.abandoned == 1 && st.in_use == 1);
	size_t allocated = 0, small = 0, pooled = 0;
	for (unsigned i = 0; i < st.narenas; i++) {
		stats_arena_t ar;
		stats_arena_read(i, &ar);
		allocated += ar.allocated;
		small += ar.small_live;
		pooled += i != a ? ar.bins[sz_size2index(40)].live : 0;
	}
	CHECK(st.allocated == allocated && st.arenas.small_live == small);
	CHECK(pooled == 300, "the pooled arena reads %zu live, not 300", pooled);
	CHECK(st.mapped == st.os_mapped, "mapped %zu, os layer %zu", st.mapped,
	    st.os_mapped);
	CHECK(fig("stats.small.live", 0, 0) == st.arenas.small_live);
	CHECK(bm_ctl("arenas.narenas", &tmp, &len, NULL, 0) == 0 && tmp == 2);
	for (int i = 0; i < 3000; i++)
		bm_free(p[i]);
	CHECK(fig("stats.arenas.%u.bins.%u.live", a, c) == live0);
	return CHECK_OK;
}

typedef struct {
	char buf[1 << 20];
	size_t len, calls;
} sink_t;

static sink_t sink_buf;

static void sink(void *opaque, const char *text) {
	sink_t *s = opaque;
	size_t n = strlen(text);
	if (s->len + n < sizeof(s->buf)) {
		memcpy(s->buf + s->len, text, n + 1);
		s->len += n;
	}
	s->calls++;
}

/* emit: values by unit, JSON members, flushing through the callback */
static int test_emit(void) {
	char b[32];
	CHECK(strcmp(emit_format(b, sizeof(b), EMIT_BYTES, 0), "0 B") == 0);
	CHECK(strcmp(emit_format(b, sizeof(b), EMIT_BYTES, 1536), "1.5 KiB") == 0);
	CHECK(strcmp(emit_format(b, sizeof(b), EMIT_BYTES, 1048575),
	    "1024.0 KiB") == 0, "%s", b);
	CHECK(strcmp(emit_format(b, sizeof(b), EMIT_BYTES, (size_t)3 << 30),
	    "3.0 GiB") == 0);
	CHECK(strcmp(emit_format(b, sizeof(b), EMIT_COUNT, 12345), "12345") == 0);
	CHECK(strcmp(emit_format(b, sizeof(b), EMIT_PERMILLE, 123), "12.3%") == 0);
	CHECK(strcmp(emit_format(b, sizeof(b), EMIT_PERMILLE, UINT64_MAX),
	    "-") == 0);
	emit_t e;
	sink_t *s = &sink_buf;
	s->len = s->calls = 0;
	emit_init(&e, true, sink, s);
	emit_json_open(&e, NULL, '{');
	emit_json_u64(&e, "n", 7);
	emit_json_str(&e, "s", "a\"b\\c\n");
	emit_json_open(&e, "l", '[');
	emit_json_bool(&e, NULL, true);
	emit_json_value(&e, NULL, EMIT_PERMILLE, 125);
	emit_json_close(&e, ']');
	emit_json_close(&e, '}');
	emit_flush(&e);
	const char *want = "\n{\n  \"n\": 7,\n  \"s\": \"a\\\"b\\\\c\\u000a\",\n"
	    "  \"l\": [\n    true,\n    0.125\n  ]\n}";
	CHECK(strcmp(s->buf, want) == 0, "JSON '%s'", s->buf);
	s->len = s->calls = 0;
	emit_init(&e, false, sink, s);
	for (int i = 0; i < 1000; i++)
		emit_printf(&e, "line %d\n", i);
	emit_flush(&e);
	CHECK(s->calls >= 2 && strncmp(s->buf + s->len - 9, "line 999\n", 9) == 0);
	return CHECK_OK;
}

/* report: both forms whole, and the letters leave sections out */
static int test_report(void) {
	sink_t *s = &sink_buf;
	void *keep = bm_malloc(100), *big = bm_malloc((size_t)40 << 20);
	CHECK(keep != NULL && big != NULL);
	s->len = 0;
	bm_stats_print(sink, s, "");
	CHECK(strncmp(s->buf, "___ Begin basemalloc statistics ___\n", 36) == 0);
	CHECK(strcmp(s->buf + s->len - 34, "___ End basemalloc statistics ___\n")
	    == 0);
	CHECK(strstr(s->buf, "\nTotals ") && strstr(s->buf, "\nArena 0:") &&
	    strstr(s->buf, "\nSize classes"));
	CHECK(strstr(s->buf, "    huge mappings     41943040    40.0 MiB  own "
	    "mappings\n") != NULL, "the huge Totals row");
	s->len = 0;
	bm_stats_print(sink, s, "abc");
	CHECK(!strstr(s->buf, "\nArena 0:") && !strstr(s->buf, "Size classes") &&
	    strstr(s->buf, "Boot base b0"));
	s->len = 0;
	bm_stats_print(sink, s, "J");
	int depth = 0, min = 0;
	for (size_t i = 0; i < s->len; i++) {
		depth += s->buf[i] == '{' || s->buf[i] == '[';
		depth -= s->buf[i] == '}' || s->buf[i] == ']';
		min = MIN(min, depth);
	}
	CHECK(depth == 0 && min == 0 && s->buf[0] == '{');
	CHECK(strstr(s->buf, "\"huge_peak_bytes\": ") != NULL);
	CHECK(strstr(s->buf, "\"small\": {\n") != NULL);
	bm_free(big);
	bm_free(keep);
	return CHECK_OK;
}

static const struct check_s checks[] = {
	CHECK_ENTRY(test_tables),
	CHECK_ENTRY(test_names),
	CHECK_ENTRY(test_errors),
	CHECK_ENTRY(test_gather),
	CHECK_ENTRY(test_emit),
	CHECK_ENTRY(test_report),
};

int main(int argc, char **argv) {
	return check_main(checks, sizeof(checks) / sizeof(checks[0]), argc,
	    argv);
}
