/*
 * api_introspect.c: glibc's introspection calls as programs see them, run
 * under LD_PRELOAD by test/api/run (and under glibc with BM_LIB=): the lines
 * malloc_stats() prints, in glibc's order and format, with the peaks of the
 * mmap lines counting blocks that were mapped and freed; and malloc_stats()
 * is not a cancellation point: a thread with a pending deferred cancel
 * prints all of it and returns (glibc writes it with cancellation off).
 */
#include "check.h"

#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>

#define MiB ((size_t)1024 * 1024)
#define NBIG 3
#define BIG (64 * MiB)   /* an own mapping under glibc and basemalloc */

/* Run malloc_stats() with fd 2 sent to a temporary file; its text in buf.
 * Returns the length, or -1. */
static long stats_capture(void (*call)(void), char *buf, size_t cap)
{
	char path[] = "/tmp/bm-introspect-XXXXXX";
	int fd = mkstemp(path), saved = dup(2);
	if (fd < 0 || saved < 0)
		return -1;
	unlink(path);
	fflush(stderr);
	dup2(fd, 2);
	call();
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	ssize_t n = pread(fd, buf, cap - 1, 0);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	return (long)n;
}

/* "label = %10u": the label, then a number right-aligned in 10 columns. */
static int stats_value(const char *line, const char *label, unsigned long *v)
{
	size_t n = strlen(label);
	if (strncmp(line, label, n) != 0 || strlen(line) < n + 10)
		return -1;
	char *end;
	*v = strtoul(line + n, &end, 10);
	return *end == '\0' && (strlen(line) == n + 10 || line[n] != ' ') ? 0
	    : -1;
}

static void stats_call(void)
{
	malloc_stats();
}

/* glibc's lines: per arena "Arena N:", system and in-use bytes; then the
 * totals with the peaks of mmapped regions and bytes. */
static int malloc_stats_lines(void)
{
	static char buf[65536];
	void *big[NBIG];
	for (int i = 0; i < NBIG; i++)
		CHECK((big[i] = malloc(BIG)) != NULL);
	for (int i = 0; i < NBIG; i++)
		free(big[i]);
	void *keep = malloc(100);
	CHECK(keep != NULL);
	CHECK(stats_capture(stats_call, buf, sizeof(buf)) > 0);
	char *save = NULL, *line = strtok_r(buf, "\n", &save);
	unsigned long v, regions = 0, bytes = 0;
	int arenas = 0;
	while (line != NULL && strncmp(line, "Arena ", 6) == 0) {
		CHECK(atoi(line + 6) == arenas && line[strlen(line) - 1] == ':',
		    "'%s' (arena %d expected)", line, arenas);
		line = strtok_r(NULL, "\n", &save);
		CHECK(line && stats_value(line, "system bytes     = ", &v) == 0,
		    "'%s'", line ? line : "");
		line = strtok_r(NULL, "\n", &save);
		CHECK(line && stats_value(line, "in use bytes     = ", &v) == 0,
		    "'%s'", line ? line : "");
		line = strtok_r(NULL, "\n", &save);
		arenas++;
	}
	CHECK(arenas >= 1, "no 'Arena 0:' section");
	CHECK(line && strcmp(line, "Total (incl. mmap):") == 0, "'%s'",
	    line ? line : "");
	static const char *const total[] = { "system bytes     = ",
	    "in use bytes     = ", "max mmap regions = ", "max mmap bytes   = " };
	for (int i = 0; i < 4; i++) {
		line = strtok_r(NULL, "\n", &save);
		CHECK(line && stats_value(line, total[i], &v) == 0,
		    "'%s' where '%s' belongs", line ? line : "(end)", total[i]);
		if (i == 2)
			regions = v;
		if (i == 3)
			bytes = v;
	}
	line = strtok_r(NULL, "\n", &save);
	CHECK(line == NULL, "more after the totals: '%s'", line);
	CHECK(regions >= NBIG, "max mmap regions %lu after %d live at once",
	    regions, NBIG);
	CHECK(bytes >= NBIG * BIG, "max mmap bytes %lu after %zu live at once",
	    bytes, NBIG * BIG);
	free(keep);
	return CHECK_OK;
}

static _Atomic int cancel_reached;

static void *cancelled_stats(void *arg)
{
	(void)arg;
	pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, NULL);
	pthread_setcanceltype(PTHREAD_CANCEL_DEFERRED, NULL);
	pthread_cancel(pthread_self());
	malloc_stats();
	atomic_store(&cancel_reached, 1);
	pthread_testcancel();
	return NULL;
}

static void *stats_thread_result;

static void stats_in_thread(void)
{
	pthread_t t;
	void *keep = malloc(100);
	if (pthread_create(&t, NULL, cancelled_stats, NULL) == 0)
		pthread_join(t, &stats_thread_result);
	free(keep);
}

/* A pending cancel does not stop malloc_stats() half-way: it prints every
 * line and returns; the thread ends at its next cancellation point. */
static int malloc_stats_not_cancellation_point(void)
{
	static char buf[65536];
	long n = stats_capture(stats_in_thread, buf, sizeof(buf));
	CHECK(n >= 0);
	CHECK(stats_thread_result == PTHREAD_CANCELED, "thread not cancelled");
	CHECK(atomic_load(&cancel_reached) == 1, "malloc_stats() did not "
	    "return (cancelled inside it); it printed %ld bytes: '%.60s'", n,
	    buf);
	CHECK(strstr(buf, "Total (incl. mmap):\n") != NULL &&
	    strstr(buf, "\nmax mmap bytes   = ") != NULL &&
	    buf[n - 1] == '\n', "incomplete: '%s'", buf);
	return CHECK_OK;
}

static const struct check_s checks[] = {
	CHECK_ENTRY(malloc_stats_lines),
	CHECK_ENTRY(malloc_stats_not_cancellation_point),
};

int main(int argc, char **argv)
{
	return check_main(checks, sizeof(checks) / sizeof(checks[0]), argc,
	    argv);
}
