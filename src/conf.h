/*
 * conf: the options table. Each option is one row of CONF_OPTIONS below
 * (name, type, default, unit, doc), which declares its variable; conf_boot
 * parses BASEMALLOC_CONF ("key:value,key:value") once by scanning environ
 * (never getenv, never allocating). An unknown key or a bad value prints one
 * warning naming it and keeps the default.
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

/*
 * The options, one row each:
 *   X(name, kind, cap, choices, min, init, def, unit, doc)
 *   name     the key in BASEMALLOC_CONF; the variable is opt_<name>
 *   kind     BOOL (bool), LONG (long), SIZE (size_t, K/M/G suffixes), ENUM
 *            (unsigned: an index into choices), STRING (char[cap])
 *   cap      STRING: buffer bytes (longer values are refused); ENUM: number
 *            of choices; else 0
 *   choices  ENUM: the names by value (an array in conf.c); else NULL
 *   min      LONG: the smallest value accepted; else 0
 *   init     the C initialiser, used before conf_boot (it must mean def:
 *            test/unit/test_conf checks that it does)
 *   def      the default, as BASEMALLOC_CONF text
 *   unit     of a number ("bytes", "ms"), "-" for none
 *   doc      what it does: README's Options table (tools/readme-tables)
 * The row also makes the bm_ctl name "opt.<name>" (src/ctl.c) and the
 * option's place in the reports' options lists.
 */
#define CONF_OPTIONS(X) \
	X(metadata_thp, ENUM, 3, conf_thp_names, 0, METADATA_THP_AUTO, \
	    "auto", "-", "`disabled`: never advise base blocks as huge pages; " \
	    "`always`: advise every block; `auto`: advise a base's blocks " \
	    "once it has enough of them (see `src/base.c`). Only matters when " \
	    "the system THP mode is `madvise`.") \
	X(dirty_decay_ms, LONG, 0, NULL, -1, 1000, "1000", "ms", \
	    "purge freed pages that have been dirty this long (checked when " \
	    "an arena frees pages, and by the background thread); `0` at " \
	    "once, `-1` never by time. One second keeps the pages of a " \
	    "program's steady churn, which are reused within milliseconds, " \
	    "while the memory of a phase that ended goes back to the kernel " \
	    "about a second later. It is also the window of an arena's recent " \
	    "demand (see Design)") \
	X(dirty_max, SIZE, 0, NULL, 0, (size_t)16 << 20, "16M", "bytes", \
	    "dirty bytes an arena may always keep until they age out (with " \
	    "more arenas than CPUs, its share: this x CPUs / arenas); beyond " \
	    "it, it keeps what its recent peak of active bytes leaves room for " \
	    "(peak - active) for the decay time, and what twice that peak " \
	    "leaves room for (2 x peak - active) for a tenth of it, and purges " \
	    "the rest at once, oldest runs first. When its active bytes fall " \
	    "below a quarter of this and an eighth of their peak (the program " \
	    "freed most of its heap) it keeps an eighth of this; that guess, " \
	    "and the purge when a thread exits, wait twice as long each time " \
	    "they prove wrong (the memory was needed again within the decay " \
	    "time)") \
	X(abort_on_invalid, BOOL, 0, NULL, 0, true, "true", "-", \
	    "abort after reporting an invalid or double free, a corrupted " \
	    "free list, a wrong size, an overflow or a write after free") \
	X(stats_print, BOOL, 0, NULL, 0, false, "false", "-", \
	    "print the statistics report at exit") \
	X(stats_opts, STRING, 16, NULL, 0, "", "", "-", \
	    "`J`: the report as JSON") \
	X(stats_file, STRING, 256, NULL, 0, "", "", "-", \
	    "write the report to this file instead of stderr") \
	X(junk, BOOL, 0, NULL, 0, false, "false", "-", \
	    "in `make debug` builds: fill freed small blocks with `0x5a` (past " \
	    "the two words the free list uses), so a use after free reads " \
	    "garbage") \
	X(background_thread, BOOL, 0, NULL, 0, true, "true", "-", \
	    "return idle memory from a thread of basemalloc's (named " \
	    "`bm-purge`, every signal blocked), started by an allocation once " \
	    "the arenas hold 64 MiB of page runs (with a positive " \
	    "`dirty_decay_ms`); it sleeps while nothing is dirty and leaves " \
	    "once they hold less and nothing is dirty. `false`: no thread; " \
	    "dirty pages are then purged only when the program calls the " \
	    "allocator. A program " \
	    "that must stay single-threaded (`unshare(CLONE_NEWUSER)`, Python " \
	    "3.12's warning on `os.fork()` in a threaded process) sets it to " \
	    "`false`") \
	X(prof, BOOL, 0, NULL, 0, false, "false", "-", \
	    "the heap profiler: sample allocations and record their call " \
	    "stacks (see \"Heap profile\")") \
	X(prof_sample, SIZE, 0, NULL, 0, (size_t)512 << 10, "512K", "bytes", \
	    "mean bytes allocated between two samples (exponentially " \
	    "distributed); `1`: every allocation") \
	X(prof_final, BOOL, 0, NULL, 0, true, "true", "-", \
	    "with `prof`: write a heap dump at exit") \
	X(prof_leak, BOOL, 0, NULL, 0, false, "false", "-", \
	    "with `prof`: print the stacks still holding sampled memory at " \
	    "exit, biggest first") \
	X(prof_gdump, SIZE, 0, NULL, 0, 0, "0", "bytes", \
	    "with `prof`: write a dump each time the estimated live heap " \
	    "passes its last peak by this many bytes (`0`: never)") \
	X(prof_prefix, STRING, 256, NULL, 0, "bmprof", "bmprof", "-", \
	    "with `prof`: dumps go to `PREFIX.pid.seq.kind.heap` (kind `f` at " \
	    "exit, `m` on demand, `u` at a new peak)")

/* The declaration of opt_<name> for each kind. */
#define CONF_DECL_BOOL(name, cap) bool opt_##name
#define CONF_DECL_LONG(name, cap) long opt_##name
#define CONF_DECL_SIZE(name, cap) size_t opt_##name
#define CONF_DECL_ENUM(name, cap) unsigned opt_##name
#define CONF_DECL_STRING(name, cap) char opt_##name[cap]
#define CONF_DECLARE(name, kind, cap, choices, min, init, def, unit, doc) \
	extern BM_HIDDEN CONF_DECL_##kind(name, cap);
CONF_OPTIONS(CONF_DECLARE)

typedef enum {
	CONF_BOOL,
	CONF_LONG,
	CONF_SIZE,
	CONF_ENUM,
	CONF_STRING,
} conf_type_t;

/* One option's row, as conf_option returns it. */
typedef struct {
	const char *name;
	conf_type_t type;
	void *var;
	size_t cap;                 /* CONF_STRING: buffer size; CONF_ENUM: count */
	const char *const *choices; /* CONF_ENUM: the names, by value */
	long min;                   /* CONF_LONG: smallest accepted value */
	const char *def;            /* the default, as BASEMALLOC_CONF text */
	const char *unit;           /* of a number, "-" for none */
	const char *doc;
} conf_opt_t;

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
/* The i-th option's row, or NULL past the end. */
const conf_opt_t *conf_option(unsigned i);
/* Format option i's current value into buf; returns its length. */
size_t conf_value_format(unsigned i, char *buf, size_t cap);

#endif
