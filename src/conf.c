/*
 * conf: the options table and the BASEMALLOC_CONF parser.
 * Responsibility: the table made from CONF_OPTIONS (conf.h: one row per
 * option, which also defines its variable); the defaults are applied by
 * parsing their text, so a default lives in one place (a row's C initialiser
 * only mirrors it for use before conf_boot, and a unit test checks that the
 * two agree).
 * Invariants: never allocates, never uses stdio or getenv (conf_boot scans
 * environ itself); a rejected item leaves its option untouched and prints one
 * warning. Locks: none; options are written during single-threaded bootstrap
 * (or by tests) and only read afterwards.
 */
#include "conf.h"
#include "log.h"

#include <limits.h>
#include <string.h>

extern char **environ;

static const char *const conf_thp_names[] = { "disabled", "auto", "always" };

#define CONF_DEFINE(name, kind, cap, choices, min, init, def, unit, doc) \
	CONF_DECL_##kind(name, cap) = init;
CONF_OPTIONS(CONF_DEFINE)

#define CONF_ROW(name, kind, cap, choices, min, init, def, unit, doc) \
	{ #name, CONF_##kind, (void *)&opt_##name, cap, choices, min, def, \
	    unit, doc },
static const conf_opt_t conf_table[] = {
	CONF_OPTIONS(CONF_ROW)
};

#define CONF_NOPTS (sizeof(conf_table) / sizeof(conf_table[0]))
/* Longest key or value quoted in a warning. */
#define CONF_QUOTE_MAX 64

static unsigned conf_warnings;

/* True when the len bytes at s spell the NUL-terminated word w. */
static bool conf_eq(const char *s, size_t len, const char *w) {
	return strlen(w) == len && memcmp(s, w, len) == 0;
}

/* Copy at most CONF_QUOTE_MAX bytes of s into out (NUL-terminated). */
static void conf_quote(char *out, const char *s, size_t len) {
	size_t n = MIN(len, (size_t)CONF_QUOTE_MAX);
	memcpy(out, s, n);
	out[n] = '\0';
}

static void conf_warn_item(const char *what, const char *k, size_t klen,
    const char *v, size_t vlen) {
	char key[CONF_QUOTE_MAX + 1], val[CONF_QUOTE_MAX + 1];
	conf_quote(key, k, klen);
	conf_quote(val, v, vlen);
	conf_warnings++;
	log_warn("BASEMALLOC_CONF: %s \"%s\" (value \"%s\"), ignored", what, key,
	    val);
}

/* Unsigned decimal digits (at least one); 0 on success, 1 if bad or too big. */
static int conf_parse_digits(const char *s, size_t len, unsigned long *out) {
	unsigned long v = 0;
	if (len == 0)
		return 1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 1;
		unsigned d = (unsigned)(s[i] - '0');
		if (v > (ULONG_MAX - d) / 10)
			return 1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

static int conf_parse_bool(const char *s, size_t len, bool *out) {
	if (conf_eq(s, len, "true"))
		*out = true;
	else if (conf_eq(s, len, "false"))
		*out = false;
	else
		return 1;
	return 0;
}

static int conf_parse_long(const char *s, size_t len, long min, long *out) {
	bool neg = len > 0 && s[0] == '-';
	unsigned long mag;
	if (conf_parse_digits(s + neg, len - neg, &mag))
		return 1;
	if (mag > (unsigned long)LONG_MAX + neg)
		return 1;
	long v = (long)(mag - (neg && mag > 0));
	if (neg)
		v = mag > 0 ? -v - 1 : 0;
	if (v < min)
		return 1;
	*out = v;
	return 0;
}

/* Plain bytes or a K / M / G suffix (either case). */
static int conf_parse_size(const char *s, size_t len, size_t *out) {
	unsigned shift = 0;
	if (len > 0) {
		switch (s[len - 1]) {
		case 'k': case 'K': shift = 10; break;
		case 'm': case 'M': shift = 20; break;
		case 'g': case 'G': shift = 30; break;
		default: break;
		}
	}
	unsigned long v;
	if (conf_parse_digits(s, len - (shift != 0), &v))
		return 1;
	if (v > (SIZE_MAX >> shift))
		return 1;
	*out = (size_t)v << shift;
	return 0;
}

static int conf_parse_enum(const conf_opt_t *o, const char *s, size_t len,
    int *out) {
	for (size_t i = 0; i < o->cap; i++) {
		if (conf_eq(s, len, o->choices[i])) {
			*out = (int)i;
			return 0;
		}
	}
	return 1;
}

/* Store value s into option o; 0 on success, non-zero (untouched) if bad. */
static int conf_set(const conf_opt_t *o, const char *s, size_t len) {
	switch (o->type) {
	case CONF_BOOL:
		return conf_parse_bool(s, len, (bool *)o->var);
	case CONF_LONG:
		return conf_parse_long(s, len, o->min, (long *)o->var);
	case CONF_SIZE:
		return conf_parse_size(s, len, (size_t *)o->var);
	case CONF_ENUM: {
		int v;
		if (conf_parse_enum(o, s, len, &v))
			return 1;
		*(unsigned *)o->var = (unsigned)v;
		return 0;
	}
	case CONF_STRING:
		if (len >= o->cap)
			return 1;
		memcpy(o->var, s, len);
		((char *)o->var)[len] = '\0';
		return 0;
	}
	return 1;
}

static const conf_opt_t *conf_find(const char *k, size_t klen) {
	for (size_t i = 0; i < CONF_NOPTS; i++) {
		if (conf_eq(k, klen, conf_table[i].name))
			return &conf_table[i];
	}
	return NULL;
}

/* One "key:value" item (len > 0). */
static void conf_parse_item(const char *s, size_t len) {
	const char *colon = memchr(s, ':', len);
	if (colon == NULL) {
		conf_warn_item("missing ':value' in", s, len, "", 0);
		return;
	}
	size_t klen = (size_t)(colon - s);
	const char *v = colon + 1;
	size_t vlen = len - klen - 1;
	const conf_opt_t *o = conf_find(s, klen);
	if (o == NULL)
		conf_warn_item("unknown option", s, klen, v, vlen);
	else if (conf_set(o, v, vlen))
		conf_warn_item("bad value for option", s, klen, v, vlen);
}

void conf_parse(const char *s, size_t len) {
	size_t start = 0;
	for (size_t i = 0; i <= len; i++) {
		if (i < len && s[i] != ',')
			continue;
		/* Empty items (",," or a trailing comma) are skipped quietly. */
		if (i > start)
			conf_parse_item(s + start, i - start);
		start = i + 1;
	}
}

void conf_reset(void) {
	for (size_t i = 0; i < CONF_NOPTS; i++) {
		const conf_opt_t *o = &conf_table[i];
		int err = conf_set(o, o->def, strlen(o->def));
		BM_ASSERT(err == 0);
		(void)err;
	}
	conf_warnings = 0;
}

void conf_boot(void) {
	static const char key[] = "BASEMALLOC_CONF=";
	if (environ == NULL)
		return;
	for (char **e = environ; *e != NULL; e++) {
		if (strncmp(*e, key, sizeof(key) - 1) == 0) {
			const char *v = *e + sizeof(key) - 1;
			conf_parse(v, strlen(v));
			return;
		}
	}
}

unsigned conf_warning_count(void) {
	return conf_warnings;
}

const char *conf_name(unsigned i) {
	return i < CONF_NOPTS ? conf_table[i].name : NULL;
}

const conf_opt_t *conf_option(unsigned i) {
	return i < CONF_NOPTS ? &conf_table[i] : NULL;
}

size_t conf_value_format(unsigned i, char *buf, size_t cap) {
	if (i >= CONF_NOPTS) {
		if (cap > 0)
			buf[0] = '\0';
		return 0;
	}
	const conf_opt_t *o = &conf_table[i];
	switch (o->type) {
	case CONF_BOOL:
		return log_format(buf, cap, "%s",
		    *(bool *)o->var ? "true" : "false");
	case CONF_LONG:
		return log_format(buf, cap, "%ld", *(long *)o->var);
	case CONF_SIZE:
		return log_format(buf, cap, "%zu", *(size_t *)o->var);
	case CONF_ENUM:
		return log_format(buf, cap, "%s",
		    o->choices[*(unsigned *)o->var]);
	case CONF_STRING:
		return log_format(buf, cap, "%s", (const char *)o->var);
	}
	return 0;
}
