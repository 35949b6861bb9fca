/*
 * test_conf: BASEMALLOC_CONF parsing. Each type, each kind of bad input (a
 * warning naming it, the default kept), the table iteration, conf_boot from
 * the environment, and that the static defaults equal the table's.
 */
#include "check.h"
#include "conf.h"

#include <unistd.h>

static char warn_text[4096];

/* conf_parse(s) with fd 2 captured into warn_text. */
static void parse_capture(const char *s) {
	int fds[2], saved = dup(2);
	warn_text[0] = '\0';
	if (saved < 0 || pipe(fds) != 0)
		return;
	dup2(fds[1], 2);
	conf_parse(s, strlen(s));
	dup2(saved, 2);
	close(saved);
	close(fds[1]);
	ssize_t n = read(fds[0], warn_text, sizeof(warn_text) - 1);
	warn_text[n > 0 ? n : 0] = '\0';
	close(fds[0]);
}

static unsigned lines(const char *s) {
	unsigned n = 0;
	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* Value of option `name` as conf_value_format prints it. */
static const char *value_of(const char *name) {
	static char buf[300];
	for (unsigned i = 0; conf_name(i) != NULL; i++) {
		if (strcmp(conf_name(i), name) == 0) {
			conf_value_format(i, buf, sizeof(buf));
			return buf;
		}
	}
	return "(missing)";
}

static int check_defaults(void) {
	CHECK(opt_metadata_thp == METADATA_THP_AUTO);
	CHECK(opt_dirty_decay_ms == 1000);
	CHECK(opt_dirty_max == (size_t)16 << 20);
	CHECK(opt_abort_on_invalid == true);
	CHECK(opt_stats_print == false);
	CHECK(opt_stats_opts[0] == '\0');
	CHECK(opt_stats_file[0] == '\0');
	CHECK(opt_junk == false);
	CHECK(opt_background_thread == true);
	CHECK(opt_prof == false && opt_prof_sample == (size_t)512 << 10);
	CHECK(opt_prof_final && !opt_prof_leak && opt_prof_gdump == 0);
	CHECK(strcmp(opt_prof_prefix, "bmprof") == 0);
	return CHECK_OK;
}

/* conf: static defaults equal the table's */
static int test_defaults(void) {
	char before[16][300];
	unsigned n = 0;
	for (; conf_name(n) != NULL && n < 16; n++)
		conf_value_format(n, before[n], sizeof(before[n]));
	CHECK(n == 15);
	CHECK_DO(check_defaults());
	conf_reset();
	CHECK_DO(check_defaults());
	for (unsigned i = 0; i < n; i++)
		CHECK(strcmp(before[i], value_of(conf_name(i))) == 0,
		    "%s: %s then %s", conf_name(i), before[i],
		    value_of(conf_name(i)));
	CHECK(strcmp(value_of("metadata_thp"), "auto") == 0);
	CHECK(strcmp(value_of("dirty_max"), "16777216") == 0);
	CHECK(conf_name(n) == NULL && conf_name(1000) == NULL);
	return CHECK_OK;
}

/* conf: every type parses */
static int test_good(void) {
	conf_reset();
	parse_capture("metadata_thp:always,dirty_decay_ms:-1,dirty_max:3M,"
	    "abort_on_invalid:false,stats_print:true,stats_opts:J,"
	    "stats_file:/tmp/x:y.txt,junk:true");
	CHECK(warn_text[0] == '\0', "unexpected warning: %s", warn_text);
	CHECK(conf_warning_count() == 0);
	CHECK(opt_metadata_thp == METADATA_THP_ALWAYS);
	CHECK(opt_dirty_decay_ms == -1);
	CHECK(opt_dirty_max == (size_t)3 << 20);
	CHECK(!opt_abort_on_invalid && opt_stats_print && opt_junk);
	CHECK(strcmp(opt_stats_opts, "J") == 0);
	CHECK(strcmp(opt_stats_file, "/tmp/x:y.txt") == 0);
	CHECK(strcmp(value_of("dirty_decay_ms"), "-1") == 0);
	CHECK(strcmp(value_of("stats_file"), "/tmp/x:y.txt") == 0);
	parse_capture("dirty_max:4096,metadata_thp:disabled,dirty_decay_ms:0");
	CHECK(opt_dirty_max == 4096);
	CHECK(opt_metadata_thp == METADATA_THP_DISABLED);
	CHECK(opt_dirty_decay_ms == 0);
	parse_capture("dirty_max:2k,dirty_max:1G");
	CHECK(opt_dirty_max == (size_t)1 << 30);
	parse_capture("dirty_max:2K");
	CHECK(opt_dirty_max == 2048);
	parse_capture(",,junk:false,");
	CHECK(!opt_junk && conf_warning_count() == 0);
	return CHECK_OK;
}

struct bad_case {
	const char *input;
	const char *named;   /* text the warning must contain */
};

/* conf: unknown keys and bad values warn once, keep defaults */
static int test_bad(void) {
	static const struct bad_case cases[] = {
		{ "nosuchkey:1", "nosuchkey" },
		{ "metadata_thp:sometimes", "sometimes" },
		{ "dirty_decay_ms:-2", "dirty_decay_ms" },
		{ "dirty_decay_ms:12x", "12x" },
		{ "dirty_decay_ms:99999999999999999999", "dirty_decay_ms" },
		{ "dirty_max:", "dirty_max" },
		{ "dirty_max:M", "dirty_max" },
		{ "dirty_max:-5", "-5" },
		{ "dirty_max:99999999999G", "dirty_max" },
		{ "abort_on_invalid:yes", "yes" },
		{ "stats_opts:0123456789abcdefXYZ", "stats_opts" },
		{ "junk", "junk" },
		{ "Junk:true", "Junk" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		conf_reset();
		parse_capture(cases[i].input);
		CHECK(conf_warning_count() == 1, "%s: %u warnings",
		    cases[i].input, conf_warning_count());
		CHECK(lines(warn_text) == 1 &&
		    strstr(warn_text, cases[i].named) != NULL,
		    "%s: warning \"%s\"", cases[i].input, warn_text);
		CHECK_DO(check_defaults());
	}
	conf_reset();
	parse_capture("bogus:1,dirty_max:64K,junk:maybe,metadata_thp:always");
	CHECK(conf_warning_count() == 2 && lines(warn_text) == 2);
	CHECK(opt_dirty_max == 65536 && opt_metadata_thp == METADATA_THP_ALWAYS);
	CHECK(!opt_junk);
	return CHECK_OK;
}

/* conf: an empty string changes nothing */
static int test_empty(void) {
	conf_reset();
	parse_capture("");
	CHECK(conf_warning_count() == 0 && warn_text[0] == '\0');
	CHECK_DO(check_defaults());
	conf_parse(NULL, 0);
	CHECK(conf_warning_count() == 0);
	return CHECK_OK;
}

/* conf: a string that does not fit is a bad value */
static int test_long_string(void) {
	char big[400];
	conf_reset();
	strcpy(big, "stats_file:");
	memset(big + 11, 'a', 300);
	big[311] = '\0';
	parse_capture(big);
	CHECK(conf_warning_count() == 1);
	CHECK(opt_stats_file[0] == '\0');
	CHECK(strlen(warn_text) < 200);
	big[11 + 255] = '\0';  /* 255 chars + NUL fits exactly */
	parse_capture(big);
	CHECK(conf_warning_count() == 1 && strlen(opt_stats_file) == 255);
	return CHECK_OK;
}

/* conf: conf_boot reads BASEMALLOC_CONF from environ */
static int test_boot(void) {
	conf_reset();
	setenv("BASEMALLOC_CONF_X", "junk:true", 1);
	setenv("BASEMALLOC_CONF", "dirty_decay_ms:250,stats_print:true", 1);
	conf_boot();
	CHECK(opt_dirty_decay_ms == 250 && opt_stats_print);
	CHECK(!opt_junk);
	conf_reset();
	unsetenv("BASEMALLOC_CONF");
	conf_boot();
	CHECK_DO(check_defaults());
	return CHECK_OK;
}

static const struct check_s checks[] = {
	CHECK_ENTRY(test_defaults),
	CHECK_ENTRY(test_good),
	CHECK_ENTRY(test_bad),
	CHECK_ENTRY(test_empty),
	CHECK_ENTRY(test_long_string),
	CHECK_ENTRY(test_boot),
};

int main(int argc, char **argv) {
	return check_main(checks, sizeof(checks) / sizeof(checks[0]), argc,
	    argv);
}
