/*
 * test_log: log_format against snprintf for each supported conversion,
 * truncation, and log_warn's one-line output on fd 2.
 */
#include "check.h"
#include "log.h"

#include <limits.h>
#include <sys/types.h>
#include <unistd.h>

/* Compare log_format and snprintf on one format and argument list. */
#define SAME(fmt, ...) do { \
	char a_[128], b_[128]; \
	size_t n_ = log_format(a_, sizeof(a_), fmt, __VA_ARGS__); \
	int m_ = snprintf(b_, sizeof(b_), fmt, __VA_ARGS__); \
	CHECK(strcmp(a_, b_) == 0 && n_ == (size_t)m_, \
	    "format \"%s\": got \"%s\" (%zu), want \"%s\"", fmt, a_, n_, b_); \
} while (0)

/* log: each conversion matches snprintf */
static int test_conversions(void) {
	SAME("%s|%s", "abc", "");
	SAME("%d %d %d", 0, -1, INT_MIN);
	SAME("%d", INT_MAX);
	SAME("%u %u", 0u, UINT_MAX);
	SAME("%ld %ld", LONG_MIN, LONG_MAX);
	SAME("%lu", ULONG_MAX);
	SAME("%zu %zu", (size_t)0, SIZE_MAX);
	SAME("%zd %zd", (ssize_t)-5, (ssize_t)LONG_MAX);
	SAME("%x %x", 0u, 0xdeadbeefu);
	SAME("%lx", 0x123456789abcdefUL);
	SAME("%zx", (size_t)0xfff);
	SAME("%p", (void *)0x7f00dead1000UL);
	SAME("%c%c", 'x', '!');
	SAME("100%% %s", "done");
	SAME("a%sb%dc", "-", 7);
	return CHECK_OK;
}

/* log: truncation keeps a NUL and reports the written length */
static int test_truncation(void) {
	char buf[8];
	memset(buf, 'z', sizeof(buf));
	size_t n = log_format(buf, 5, "%s", "hello world");
	CHECK(n == 4);
	CHECK(strcmp(buf, "hell") == 0);
	CHECK(buf[5] == 'z');
	n = log_format(buf, 1, "%d", 12345);
	CHECK(n == 0 && buf[0] == '\0');
	n = log_format(buf, sizeof(buf), "%s", "1234567");
	CHECK(n == 7 && strcmp(buf, "1234567") == 0);
	const char *volatile none = NULL;  /* hidden from format checking */
	n = log_format(buf, sizeof(buf), "%s", none);
	CHECK(strcmp(buf, "(null)") == 0);
	return CHECK_OK;
}

/* Run log_warn with fd 2 redirected to a pipe; return what it wrote. */
static size_t capture_warn(char *out, size_t cap) {
	int fds[2], saved = dup(2);
	if (saved < 0 || pipe(fds) != 0)
		return 0;
	dup2(fds[1], 2);
	log_warn("value %d of %s", 42, "thing");
	dup2(saved, 2);
	close(saved);
	close(fds[1]);
	ssize_t n = read(fds[0], out, cap - 1);
	close(fds[0]);
	out[n > 0 ? n : 0] = '\0';
	return n > 0 ? (size_t)n : 0;
}

/* log: log_warn writes one prefixed line to fd 2 */
static int test_warn(void) {
	char got[256];
	capture_warn(got, sizeof(got));
	CHECK(strcmp(got, "basemalloc: value 42 of thing\n") == 0, "got \"%s\"",
	    got);
	return CHECK_OK;
}

static const struct check_s checks[] = {
	CHECK_ENTRY(test_conversions),
	CHECK_ENTRY(test_truncation),
	CHECK_ENTRY(test_warn),
};

int main(int argc, char **argv) {
	return check_main(checks, sizeof(checks) / sizeof(checks[0]), argc,
	    argv);
}
