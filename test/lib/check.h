/*
 * check.h: the one harness of every C/C++ test suite (header only): the unit
 * tests that link the modules (test/unit) and the LD_PRELOAD-level ones.
 * A check is a function returning CHECK_OK; CHECK() prints the failed
 * condition and returns CHECK_FAILED; CHECK_DO() runs a helper check and
 * returns its failure; NOT_APPLICABLE() returns CHECK_NA. check_main() runs
 * every check in its own forked child with a watchdog (BM_CHECK_WATCHDOG
 * seconds, default 120), so a crash or a hang fails that one check, and
 * prints one line per check: "PASS name", "FAIL name: why" or "N/A name";
 * it exits 1 if any failed. Notes a check prints start with "  # ".
 * Also: a deterministic PRNG, fill/verify patterns, RSS and /proc reads that
 * make no allocator call, preload detection.
 */
#ifndef BM_TEST_CHECK_H
#define BM_TEST_CHECK_H

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#ifdef __cplusplus
extern "C" {
#endif

enum { CHECK_OK = 0, CHECK_FAILED = 1, CHECK_NA = 77 };

/* A check still running after this many seconds is taken as hung (unless
 * BM_CHECK_WATCHDOG says otherwise). Generous: the machine may be shared;
 * this only turns a deadlock into a failure. */
#define CHECK_WATCHDOG_S 120

/* Print "  # file:line: cond [detail]" and fail the current check. The
 * optional arguments are a printf format and its values. */
#define CHECK(cond, ...) do { \
	if (!(cond)) { \
		printf("  # %s:%d: %s ", __FILE__, __LINE__, #cond); \
		check_note(0, "" __VA_ARGS__); \
		return CHECK_FAILED; \
	} \
} while (0)

/* Run a helper that returns CHECK_OK or CHECK_FAILED (having printed why);
 * return its failure from the calling check. */
#define CHECK_DO(call) do { \
	int check_r_ = (call); \
	if (check_r_ != CHECK_OK) \
		return check_r_; \
} while (0)

#define NOT_APPLICABLE(why) do { \
	printf("  # not applicable: %s\n", why); \
	fflush(stdout); \
	return CHECK_NA; \
} while (0)

/* Print the detail of a failed CHECK (fmt may be ""), end the line. */
static inline void check_note(int unused, const char *fmt, ...)
{
	va_list ap;
	(void)unused;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

typedef int (*check_fn_t)(void);
struct check_s {
	const char *name;
	check_fn_t fn;
};
#define CHECK_ENTRY(f) { #f, f }

/* Bytes of a value of a bm_ctl type as README's names table spells it
 * ("bool", "unsigned", "long", "size_t", "uint64_t", "const char *"); 0 for
 * any other. */
static inline size_t check_ctl_type_size(const char *type)
{
	if (strcmp(type, "bool") == 0)
		return sizeof(bool);
	if (strcmp(type, "unsigned") == 0)
		return sizeof(unsigned);
	if (strcmp(type, "long") == 0)
		return sizeof(long);
	if (strcmp(type, "size_t") == 0 || strcmp(type, "uint64_t") == 0)
		return 8;
	if (strcmp(type, "const char *") == 0)
		return sizeof(const char *);
	return 0;
}

/* 1 when the runner preloaded basemalloc (BM_TEST_PRELOAD=1). */
static inline int check_expect_preload(void)
{
	const char *s = getenv("BM_TEST_PRELOAD");
	return s != NULL && strcmp(s, "1") == 0;
}

/* The shared object that defines symbol name (as the program resolves it). */
static inline const char *check_symbol_owner(const char *name)
{
	Dl_info info;
	void *sym = dlsym(RTLD_DEFAULT, name);
	if (sym == NULL || dladdr(sym, &info) == 0 || info.dli_fname == NULL)
		return "";
	return info.dli_fname;
}

/* Read the start of file path (a /proc file) into buf as a string, without
 * an allocator call (open/read): a test may poll it while it waits for
 * memory to go back without calling the allocator. 0, or -1. */
static inline int check_read_proc(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, size - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return 0;
}

/* Resident set size in KiB (/proc/self/statm's second field), or -1; no
 * allocator call. */
static inline long check_rss_kib(void)
{
	char buf[128];
	if (check_read_proc("/proc/self/statm", buf, sizeof(buf)) != 0)
		return -1;
	char *s = strchr(buf, ' ');
	return s != NULL ? strtol(s, NULL, 10) * (sysconf(_SC_PAGESIZE) / 1024)
	    : -1;
}

/* splitmix64: a deterministic PRNG; state is any 64-bit seed. */
static inline uint64_t check_rand(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* The seed: BM_TEST_SEED from the environment, else a fixed default. */
static inline uint64_t check_seed(void)
{
	const char *s = getenv("BM_TEST_SEED");
	return s != NULL ? strtoull(s, NULL, 0) : 0x5eedba5eULL;
}

/* The pattern keyed by tag is a sequence of 64-bit words, stored little
 * endian: word w is check_pattern_word(tag, w), byte i is byte i % 8 of
 * word i / 8. */
static inline uint64_t check_pattern_word(uint64_t tag, size_t w)
{
	uint64_t x = (tag * 0x100000001b3ULL) ^ ((uint64_t)w * 0x9e3779b97f4a7c15ULL);
	x *= 0xbf58476d1ce4e5b9ULL;
	return x ^ (x >> 29);
}

static inline unsigned char check_pattern_byte(uint64_t tag, size_t i)
{
	return (unsigned char)(check_pattern_word(tag, i / 8) >> ((i % 8) * 8));
}

static inline void check_fill(void *p, size_t n, uint64_t tag)
{
	unsigned char *c = (unsigned char *)p;
	size_t w;
	for (w = 0; w < n / 8; w++) {
		uint64_t x = check_pattern_word(tag, w);
		memcpy(c + w * 8, &x, 8);
	}
	for (size_t i = w * 8; i < n; i++)
		c[i] = check_pattern_byte(tag, i);
}

/* Offset of the first byte that differs from the pattern, or -1. */
static inline long check_verify(const void *p, size_t n, uint64_t tag)
{
	const unsigned char *c = (const unsigned char *)p;
	size_t w;
	for (w = 0; w < n / 8; w++) {
		uint64_t x = check_pattern_word(tag, w), y;
		memcpy(&y, c + w * 8, 8);
		if (x != y)
			break;
	}
	for (size_t i = w * 8; i < n; i++)
		if (c[i] != check_pattern_byte(tag, i))
			return (long)i;
	return -1;
}

/* Offset of the first byte of p[0..n) that is not b, or -1. */
static inline long check_all_bytes(const void *p, size_t n, unsigned char b)
{
	const unsigned char *c = (const unsigned char *)p;
	uint64_t word = 0x0101010101010101ULL * b, x;
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		memcpy(&x, c + i, 8);
		if (x != word)
			break;
	}
	for (; i < n; i++)
		if (c[i] != b)
			return (long)i;
	return -1;
}

static inline int check_selected(const char *name, int argc, char **argv)
{
	if (argc < 2)
		return 1;
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], name) == 0)
			return 1;
	return 0;
}

/* Run one check in a child process; print its verdict; 1 if it failed. */
static inline int check_run_one(const struct check_s *c, unsigned timeout_s)
{
	int status;
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid < 0) {
		printf("FAIL %s: fork: %s\n", c->name, strerror(errno));
		return 1;
	}
	if (pid == 0) {
		alarm(timeout_s);
		int r = c->fn();
		fflush(stdout);
		_exit(r);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			printf("FAIL %s: waitpid: %s\n", c->name, strerror(errno));
			return 1;
		}
	if (WIFEXITED(status) && WEXITSTATUS(status) == CHECK_OK) {
		printf("PASS %s\n", c->name);
		return 0;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == CHECK_NA) {
		printf("N/A %s\n", c->name);
		return 0;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == CHECK_FAILED)
		printf("FAIL %s\n", c->name);
	else if (WIFEXITED(status))
		printf("FAIL %s: exit status %d\n", c->name, WEXITSTATUS(status));
	else if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM)
		printf("FAIL %s: timed out after %u s (hang or deadlock)\n", c->name, timeout_s);
	else if (WIFSIGNALED(status))
		printf("FAIL %s: killed by signal %d (%s)\n", c->name,
		    WTERMSIG(status), strsignal(WTERMSIG(status)));
	return 1;
}

/* Run the checks (all, or those named in argv); returns the exit status. */
static inline int check_main(const struct check_s *checks, size_t n, int argc,
    char **argv)
{
	int failed = 0;
	const char *w = getenv("BM_CHECK_WATCHDOG");
	unsigned watchdog = w != NULL && atoi(w) > 0 ? (unsigned)atoi(w) :
	    CHECK_WATCHDOG_S;
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (size_t i = 0; i < n; i++)
		if (check_selected(checks[i].name, argc, argv))
			failed += check_run_one(&checks[i], watchdog);
	return failed != 0;
}

#ifdef __cplusplus
}
#endif
#endif
