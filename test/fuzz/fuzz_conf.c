/*
 * fuzz_conf.c: libFuzzer target over the BASEMALLOC_CONF parser
 * (conf_parse, linked from src/conf.c and src/log.c). Each input is parsed
 * from the defaults; an independent model of the documented syntax
 * ("key:value" items split on ',', empty items skipped, a bad item warned
 * about and ignored, the last good value of a key wins) predicts every
 * option's value and the number of warnings, and the parser must agree.
 * Then the values, printed back as "key:value,...", must parse to the same
 * values with no warning (round trip). A disagreement aborts.
 */
#define FUZZ_NAME "fuzz_conf"
#include "fuzz.h"
#include "../../src/conf.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { NOPT_MAX = 32, VAL_MAX = 512 };

/* The model: what the documentation says about each option's values. */
enum kind { K_BOOL, K_LONG, K_SIZE, K_THP, K_STR16, K_STR256 };
struct model_opt {
	const char *name;
	enum kind kind;
};
static const struct model_opt model_opts[] = {
	{ "metadata_thp", K_THP },
	{ "dirty_decay_ms", K_LONG },
	{ "dirty_max", K_SIZE },
	{ "abort_on_invalid", K_BOOL },
	{ "stats_print", K_BOOL },
	{ "stats_opts", K_STR16 },
	{ "stats_file", K_STR256 },
	{ "junk", K_BOOL },
	{ "background_thread", K_BOOL },
	{ "prof", K_BOOL },
	{ "prof_sample", K_SIZE },
	{ "prof_final", K_BOOL },
	{ "prof_leak", K_BOOL },
	{ "prof_gdump", K_SIZE },
	{ "prof_prefix", K_STR256 },
};
#define NMODEL (sizeof(model_opts) / sizeof(model_opts[0]))

static int all_digits(const char *s, size_t n)
{
	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

/* Decimal value of n digits into out (as text); 0 if it exceeds max. */
static int digits_value(const char *s, size_t n, unsigned __int128 max,
    unsigned __int128 *out)
{
	unsigned __int128 v = 0;
	for (size_t i = 0; i < n; i++) {
		v = v * 10 + (unsigned)(s[i] - '0');
		if (v > max)
			return 0;
	}
	*out = v;
	return 1;
}

/* The value's canonical text (what conf_value_format prints), or 0 when the
 * value is bad for the option. */
static int model_value(enum kind k, const char *v, size_t n, char *out)
{
	unsigned __int128 x;
	switch (k) {
	case K_BOOL:
		if ((n == 4 && memcmp(v, "true", 4) == 0) ||
		    (n == 5 && memcmp(v, "false", 5) == 0)) {
			memcpy(out, v, n);
			out[n] = '\0';
			return 1;
		}
		return 0;
	case K_THP: {
		static const char *names[] = { "disabled", "auto", "always" };
		for (int i = 0; i < 3; i++)
			if (strlen(names[i]) == n && memcmp(v, names[i], n) == 0) {
				strcpy(out, names[i]);
				return 1;
			}
		return 0;
	}
	case K_LONG: {
		int neg = n > 0 && v[0] == '-';
		if (!all_digits(v + neg, n - neg) || !digits_value(v + neg, n - neg,
		    (unsigned __int128)LONG_MAX + neg, &x))
			return 0;
		if (neg && x > 1)
			return 0;  /* the smallest value is -1 */
		snprintf(out, VAL_MAX, "%s%llu", neg && x ? "-" : "",
		    (unsigned long long)x);
		return 1;
	}
	case K_SIZE: {
		unsigned shift = 0;
		char c = n > 0 ? v[n - 1] : 0;
		if (c == 'k' || c == 'K') shift = 10;
		if (c == 'm' || c == 'M') shift = 20;
		if (c == 'g' || c == 'G') shift = 30;
		size_t dn = n - (shift != 0);
		if (!all_digits(v, dn) || !digits_value(v, dn,
		    (unsigned __int128)(SIZE_MAX >> shift), &x))
			return 0;
		snprintf(out, VAL_MAX, "%llu", (unsigned long long)(x << shift));
		return 1;
	}
	case K_STR16:
	case K_STR256: {
		size_t cap = k == K_STR16 ? 16 : 256;
		if (n >= cap)
			return 0;
		memcpy(out, v, n);
		out[n] = '\0';  /* an embedded NUL ends the string */
		return 1;
	}
	}
	return 0;
}

/* Apply one item to the model; returns 1 when it warns. */
static int model_item(const char *s, size_t n, char vals[][VAL_MAX])
{
	const char *colon = memchr(s, ':', n);
	if (colon == NULL)
		return 1;
	size_t kn = (size_t)(colon - s);
	for (size_t i = 0; i < NMODEL; i++) {
		if (strlen(model_opts[i].name) != kn ||
		    memcmp(s, model_opts[i].name, kn) != 0)
			continue;
		char tmp[VAL_MAX];
		if (!model_value(model_opts[i].kind, colon + 1, n - kn - 1, tmp))
			return 1;
		strcpy(vals[i], tmp);
		return 0;
	}
	return 1;
}

static unsigned model_parse(const char *s, size_t n, char vals[][VAL_MAX])
{
	unsigned warnings = 0;
	size_t start = 0;
	for (size_t i = 0; i <= n; i++) {
		if (i < n && s[i] != ',')
			continue;
		if (i > start)
			warnings += model_item(s + start, i - start, vals);
		start = i + 1;
	}
	return warnings;
}

/* The parser's current values, by model order. */
static void parser_values(char vals[][VAL_MAX])
{
	for (unsigned i = 0; conf_name(i) != NULL; i++) {
		for (size_t m = 0; m < NMODEL; m++) {
			if (strcmp(conf_name(i), model_opts[m].name) != 0)
				continue;
			size_t len = conf_value_format(i, vals[m], VAL_MAX);
			FUZZ_ASSERT(len < VAL_MAX && vals[m][len] == '\0',
			    "option %s formats badly", conf_name(i));
		}
	}
}

/* Run f with fd 2 pointed at /dev/null (the parser warns there). */
static void quietly(const char *s, size_t n)
{
	static int devnull = -1, saved = -1;
	if (devnull < 0) {
		devnull = open("/dev/null", O_WRONLY);
		saved = dup(2);
	}
	dup2(devnull, 2);
	conf_parse(s, n);
	dup2(saved, 2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char expect[NMODEL][VAL_MAX], got[NMODEL][VAL_MAX];
	static char line[NMODEL * (VAL_MAX + 32)];
	const char *s = (const char *)data;
	unsigned nopts = 0;
	while (conf_name(nopts) != NULL)
		nopts++;
	FUZZ_ASSERT(nopts == NMODEL, "the table has %u options, the model %zu",
	    nopts, NMODEL);
	conf_reset();
	parser_values(expect);
	unsigned warnings = model_parse(s, size, expect);
	quietly(s, size);
	parser_values(got);
	FUZZ_ASSERT(conf_warning_count() == warnings, "%u warnings, model %u",
	    conf_warning_count(), warnings);
	for (size_t m = 0; m < NMODEL; m++)
		FUZZ_ASSERT(strcmp(expect[m], got[m]) == 0, "%s = \"%s\", model \"%s\"",
		    model_opts[m].name, got[m], expect[m]);
	/* Round trip: print the values back and parse them from the defaults. */
	size_t len = 0;
	for (size_t m = 0; m < NMODEL; m++) {
		if (strchr(got[m], ',') != NULL)
			continue;  /* a ',' in a string value cannot be written */
		len += (size_t)snprintf(line + len, sizeof(line) - len, "%s%s:%s",
		    len ? "," : "", model_opts[m].name, got[m]);
	}
	conf_reset();
	quietly(line, len);
	FUZZ_ASSERT(conf_warning_count() == 0, "round trip of \"%s\" warned", line);
	parser_values(expect);
	for (size_t m = 0; m < NMODEL; m++)
		FUZZ_ASSERT(strchr(got[m], ',') != NULL ||
		    strcmp(expect[m], got[m]) == 0, "round trip: %s \"%s\" -> \"%s\"",
		    model_opts[m].name, got[m], expect[m]);
	conf_reset();
	return 0;
}
