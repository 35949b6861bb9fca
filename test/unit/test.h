/*
 * test.h: the unit tests' tiny harness. A test program is a sequence of
 * groups (test_begin ... test_end); CHECK counts one check. test_end prints
 * one line per group ("ok" or "FAIL"); test_finish prints the program's
 * "N passed, N failed" line (test/unit/run sums these) and gives the exit
 * status. A group with no check is a failure (nothing was verified). Tests
 * link the modules directly and may use libc freely (they are not preloaded).
 */
#ifndef BM_TEST_H
#define BM_TEST_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TEST_MAX_REPORTS 8  /* failure messages printed per group */

static unsigned test_passed, test_failed;      /* checks, whole program */
static unsigned test_group_checks, test_group_fails;
static const char *test_group_name;

static inline void test_begin(const char *name) {
	test_group_name = name;
	test_group_checks = 0;
	test_group_fails = 0;
}

static inline void test_check(int ok, const char *file, int line,
    const char *expr, const char *detail) {
	test_group_checks++;
	if (ok) {
		test_passed++;
		return;
	}
	test_failed++;
	if (test_group_fails++ < TEST_MAX_REPORTS)
		printf("    %s:%d: check failed: %s%s%s\n", file, line, expr,
		    detail[0] ? " -- " : "", detail);
}

/* Format a failure explanation; truncation is fine (vsnprintf keeps the
 * compiler's truncation analysis out of every CHECKF site). */
static inline void test_detailf(char *buf, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static inline void test_detailf(char *buf, size_t cap, const char *fmt, ...) {
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, cap, fmt, ap);
	va_end(ap);
}

#define CHECK(e) test_check(!!(e), __FILE__, __LINE__, #e, "")

/* CHECK with a printf-style explanation printed on failure. */
#define CHECKF(e, ...) do { \
	char test_detail_[256]; \
	int test_ok_ = !!(e); \
	test_detail_[0] = '\0'; \
	if (!test_ok_) \
		test_detailf(test_detail_, sizeof(test_detail_), __VA_ARGS__); \
	test_check(test_ok_, __FILE__, __LINE__, #e, test_detail_); \
} while (0)

static inline void test_end(void) {
	if (test_group_checks == 0) {
		test_failed++;
		printf("FAIL %s (no check ran)\n", test_group_name);
	} else if (test_group_fails == 0) {
		printf("ok   %s (%u checks)\n", test_group_name, test_group_checks);
	} else {
		printf("FAIL %s (%u of %u checks failed)\n", test_group_name,
		    test_group_fails, test_group_checks);
	}
	fflush(stdout);
}

/* CHECK that, when it fails, ends the group and returns from the (void)
 * test function: for what the rest of the test cannot do without. */
#define REQUIRE(e) do { \
	int test_req_ = !!(e); \
	test_check(test_req_, __FILE__, __LINE__, #e, ""); \
	if (!test_req_) { \
		test_end(); \
		return; \
	} \
} while (0)

static inline int test_finish(void) {
	printf("%u passed, %u failed\n", test_passed, test_failed);
	fflush(stdout);
	return test_failed == 0 ? 0 : 1;
}

/* A small deterministic PRNG (xorshift64*), so runs are reproducible. */
static inline unsigned long long test_rand(unsigned long long *s) {
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ULL;
}

#endif
