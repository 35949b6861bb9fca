/*
 * rel.h: what the reliability programs share (header only, on top of
 * test/lib/check.h): the fault-injection control reached through bm_ctl
 * (looked up at run time, so the programs also build and run under glibc),
 * a "the heap is still alive" probe (a second thread allocates and frees
 * blocks of the first, then a forked child allocates: a lock left held
 * shows up as a hang, caught by the check's watchdog), /proc readers for
 * VmRSS / VmHWM, and a block table whose contents are verified on free.
 */
#ifndef BM_TEST_REL_H
#define BM_TEST_REL_H

#include "check.h"

#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/wait.h>

#define KiB ((size_t)1024)
#define MiB ((size_t)1024 * 1024)

typedef int (*rel_ctl_fn)(const char *, void *, size_t *, void *, size_t);

/* bm_ctl of the preloaded library, or NULL under glibc. */
static inline rel_ctl_fn rel_ctl(void)
{
	return (rel_ctl_fn)dlsym(RTLD_DEFAULT, "bm_ctl");
}

/* Make the n-th OS map from now fail (0 = none): 0, or an errno value
 * (ENOENT when the library is not a fault-injection build). */
static inline int rel_fault_inject(uint64_t n)
{
	rel_ctl_fn ctl = rel_ctl();
	if (ctl == NULL)
		return ENOSYS;
	return ctl("debug.fault_inject", NULL, NULL, &n, sizeof(n));
}

/* bm_ctl "arenas.narenas" (an unsigned), or -1 (glibc, or an error). */
static inline long rel_narenas(void)
{
	rel_ctl_fn ctl = rel_ctl();
	unsigned n = 0;
	size_t len = sizeof(n);
	if (ctl == NULL || ctl("arenas.narenas", &n, &len, NULL, 0) != 0)
		return -1;
	return (long)n;
}

/* A /proc/self/status figure in KiB ("VmRSS:", "VmHWM:"), or -1. */
static inline long rel_status_kib(const char *key)
{
	char line[256];
	long kib = -1;
	size_t klen = strlen(key);
	FILE *f = fopen("/proc/self/status", "r");
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, key, klen) == 0) {
			kib = strtol(line + klen, NULL, 10);
			break;
		}
	}
	fclose(f);
	return kib;
}

/* Fill / verify a block cheaply: the whole of it up to 4 KiB, else its
 * first and last 2 KiB and 64 bytes of every 256 KiB between. */
static inline void rel_fill(void *v, size_t n, uint64_t tag)
{
	unsigned char *p = (unsigned char *)v;
	if (n <= 4096) {
		check_fill(p, n, tag);
		return;
	}
	check_fill(p, 2048, tag);
	for (size_t off = 256 * KiB; off + 2048 + 64 <= n; off += 256 * KiB)
		check_fill(p + off, 64, tag ^ off);
	check_fill(p + n - 2048, 2048, ~tag);
}

/* 0 when the block still holds what rel_fill wrote. */
static inline int rel_verify(const void *v, size_t n, uint64_t tag)
{
	const unsigned char *p = (const unsigned char *)v;
	if (n <= 4096)
		return check_verify(p, n, tag) >= 0;
	if (check_verify(p, 2048, tag) >= 0)
		return 1;
	for (size_t off = 256 * KiB; off + 2048 + 64 <= n; off += 256 * KiB)
		if (check_verify(p + off, 64, tag ^ off) >= 0)
			return 1;
	return check_verify(p + n - 2048, 2048, ~tag) >= 0;
}

struct rel_alive_arg {
	void **blocks;   /* the caller's blocks, freed by the helper thread */
	size_t n;
	int ok;
};

/* Allocate and free blocks of every kind (small, large, huge). */
static inline int rel_churn(void)
{
	static const size_t sizes[] = { 1, 24, 200, 3000, 16384, 20000,
	    300 * 1024, 2 * 1024 * 1024, 40 * 1024 * 1024 };
	void *p[sizeof(sizes) / sizeof(sizes[0])];
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		p[i] = malloc(sizes[i]);
		if (p[i] == NULL)
			return 0;
		rel_fill(p[i], sizes[i], 77 + i);
	}
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		if (rel_verify(p[i], sizes[i], 77 + i))
			return 0;
		free(p[i]);
	}
	return 1;
}

static inline void *rel_alive_thread(void *v)
{
	struct rel_alive_arg *a = (struct rel_alive_arg *)v;
	for (size_t i = 0; i < a->n; i++)
		free(a->blocks[i]);
	a->ok = rel_churn();
	return NULL;
}

/* The heap still works for everyone: this thread, a second thread that
 * frees this thread's blocks (remote frees, this arena's page lock) and
 * allocates, and a forked child (every lock taken and released). A held
 * lock hangs here; the check's watchdog turns the hang into a failure. */
static inline int rel_heap_alive(void)
{
	static const size_t sizes[] = { 16, 512, 8192, 100000, 1 << 20, 33 << 20 };
	enum { NS = sizeof(sizes) / sizeof(sizes[0]) };
	void *blocks[NS];
	struct rel_alive_arg a = { blocks, NS, 0 };
	pthread_t t;
	int status;
	if (!rel_churn())
		return 0;
	for (size_t i = 0; i < NS; i++)
		if ((blocks[i] = malloc(sizes[i])) == NULL)
			return 0;
	if (pthread_create(&t, NULL, rel_alive_thread, &a) != 0)
		return 0;
	pthread_join(t, NULL);
	if (!a.ok)
		return 0;
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0)
		return 0;
	if (pid == 0)
		_exit(rel_churn() ? 0 : 1);
	if (waitpid(pid, &status, 0) != pid)
		return 0;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

#endif
