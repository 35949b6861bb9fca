/*
 * conf.h: helpers of the conformance checks (test/conformance), on top of
 * test/lib/check.h. Every check program runs twice, once on glibc's malloc
 * and once under the preload. A check asserts what holds on both; what the
 * two must do identically it also prints as an observation line
 *   OBS <key>: <value>
 * and the runner requires the glibc run and the preloaded run to print the
 * same value for every key. Where basemalloc documents a different answer
 * from glibc 2.36 the check asserts each side's documented answer instead
 * (conf_preloaded() tells which side runs) and prints no observation.
 */
#ifndef BM_TEST_CONF_H
#define BM_TEST_CONF_H

#include "check.h"

#include <malloc.h>
#include <stdint.h>

#define KiB ((size_t)1024)
#define MiB ((size_t)1024 * 1024)

/* 1 when this run is under the preload (BM_TEST_PRELOAD=1). */
static inline int conf_preloaded(void)
{
	return check_expect_preload();
}

/* x through a volatile: the compiler neither folds nor warns about an
 * impossible request written as a constant. */
static inline size_t conf_opaque(size_t x)
{
	volatile size_t v = x;
	return v;
}

/* A pointer through a volatile, so that a use after realloc(p, 0) or a
 * failed realloc is not flagged by -Wuse-after-free. */
static inline void *conf_ptr(void *p)
{
	void *volatile v = p;
	return v;
}

/* errno read and written through a volatile pointer: GCC takes
 * posix_memalign and free as calls that leave errno alone, and would fold
 * a plain read or drop a plain store around them. */
static inline int conf_errno(void)
{
	int *volatile e = &errno;
	return *e;
}

static inline void conf_set_errno(int v)
{
	int *volatile e = &errno;
	*e = v;
}

static inline const char *conf_errno_name(int e)
{
	static char other[32];
	switch (e) {
	case 0: return "0";
	case ENOMEM: return "ENOMEM";
	case EINVAL: return "EINVAL";
	case ENOSYS: return "ENOSYS";
	default:
		snprintf(other, sizeof(other), "errno%d", e);
		return other;
	}
}

/* Print one observation the two runs must agree on. */
static inline void conf_obs(const char *key, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static inline void conf_obs(const char *key, const char *fmt, ...)
{
	va_list ap;
	printf("OBS %s: ", key);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

/* Observe a pointer result and errno as "NULL ENOMEM" or "ptr". */
static inline void conf_obs_result(const char *key, const void *p, int err)
{
	if (p == NULL)
		conf_obs(key, "NULL %s", conf_errno_name(err));
	else
		conf_obs(key, "ptr");
}

typedef int (*conf_ctl_fn)(const char *, void *, size_t *, void *, size_t);

/* An unsigned bm_ctl value, looked up at run time so that the same program
 * runs on glibc; -1 when not preloaded or on error. */
static inline long conf_ctl_unsigned(const char *name)
{
	conf_ctl_fn ctl = (conf_ctl_fn)dlsym(RTLD_DEFAULT, "bm_ctl");
	unsigned v;
	size_t len = sizeof(v);
	if (ctl == NULL || ctl(name, &v, &len, NULL, 0) != 0)
		return -1;
	return (long)v;
}

static inline size_t conf_page(void)
{
	return (size_t)sysconf(_SC_PAGESIZE);
}

static inline int conf_aligned(const void *p, size_t a)
{
	return ((uintptr_t)p & (a - 1)) == 0;
}

#endif
