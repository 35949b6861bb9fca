/*
 * conf: the options table. Each option has a name, a type, a default and a
 * doc line; conf_boot parses BASEMALLOC_CONF ("key:value,key:value") once by
 * scanning environ (never getenv, never allocating). An unknown key or a bad
 * value prints one warning naming it and keeps the default.
 * Options are plain globals written only during conf_boot (single-threaded
 * bootstrap), read-only afterwards: no lock.
 */
#ifndef BM_CONF_H
#define BM_CONF_H

#include "common.h"

typedef enum {
	METADATA_THP_DISABLED = 0,
	METADATA_THP_AUTO = 1,
	METADATA_THP_ALWAYS = 2,
} metadata_thp_t;

/* The options (defaults documented in conf.c's table). */
extern metadata_thp_t opt_metadata_thp;
extern long opt_dirty_decay_ms;      /* purge dirty pages older than this; 0 = at once, -1 = never by time */
extern size_t opt_dirty_max;         /* an arena purges at once past this many dirty bytes */
extern bool opt_abort_on_invalid;    /* abort after reporting an invalid free */
extern bool opt_stats_print;         /* print the stats report at exit */
extern char opt_stats_opts[16];      /* options for the report at exit ("J" = JSON) */
extern char opt_stats_file[256];     /* write the report here instead of stderr */
extern bool opt_junk;                /* debug builds: fill freed small blocks with 0x5a */
extern bool opt_background_thread;   /* purge idle dirty pages from a thread started when needed */

/* Parse the value string s (not NUL-terminated: len bytes) of the environment
 * variable; warns on bad input, keeps defaults. Exposed for tests and fuzzing. */
void conf_parse(const char *s, size_t len);
/* Reset every option to its default. */
void conf_reset(void);
/* Find BASEMALLOC_CONF in environ and parse it. Call once at bootstrap. */
void conf_boot(void);
/* Number of warnings printed since the last conf_reset (for tests). */
unsigned conf_warning_count(void);
/* Iterate the table: the i-th option's name, or NULL past the end. */
const char *conf_name(unsigned i);
/* Format option i's current value into buf; returns its length. */
size_t conf_value_format(unsigned i, char *buf, size_t cap);

#endif
