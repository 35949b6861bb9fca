/*
 * progs.c: the programs test/prof/run profiles under LD_PRELOAD, one per
 * mode (argument 1); each allocates from functions of known names, writes
 * what it can check itself as "PASS ..." / "FAIL ..." lines and leaves the
 * dumps for run's parser. DIR (argument 2) is where dumps go.
 *   leak DIR     leak_here keeps 32 MiB in 1 KiB blocks; clean_here
 *                allocates 64 MiB and frees it (prof_leak reports the first)
 *   clean DIR    only clean_here: nothing of the program's is left
 *   fork DIR     parent_site keeps 16 MiB, then a child adds child_site's
 *                16 MiB and dumps DIR/child.heap; the parent dumps
 *                DIR/parent.heap after the child exited
 *   threads DIR  4 threads keep 8 MiB each (thread_site); handoff_site's
 *                blocks are freed by another thread; dump DIR/threads.heap
 *   gdump DIR    grows to 64 MiB in 1 MiB steps (prof_gdump writes dumps)
 *   ctl DIR      bm_ctl: the counters and prof.dump's forms
 *   ops DIR      random malloc/calloc/realloc/memalign/free with contents
 *                checked (run with prof_sample:1: every block sampled)
 */
#ifndef _GNU_SOURCE  /* the runners pass -D_GNU_SOURCE */
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../include/basemalloc.h"

/* bm_ctl comes from the preloaded library (a weak reference: the program
 * links without it). */
#pragma weak bm_ctl

#define MIN_(a, b) ((a) < (b) ? (a) : (b))

static int failures;
#define EXPECT(cond, ...) do { \
	if (cond) { printf("PASS "); printf(__VA_ARGS__); printf("\n"); } \
	else { failures++; printf("FAIL "); printf(__VA_ARGS__); \
	    printf(" (%s)\n", #cond); } \
} while (0)

static void *keep[1 << 20];
static size_t nkeep;

__attribute__((noinline)) static void leak_here(size_t total) {
	for (size_t b = 0; b < total; b += 1024) {
		keep[nkeep] = malloc(1024);
		memset(keep[nkeep++], 1, 1024);
	}
	__asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) static void clean_here(size_t total) {
	void *tmp[1024];
	for (size_t b = 0; b < total; b += 1024 * 1024) {
		for (int i = 0; i < 1024; i++)
			tmp[i] = malloc(1024);
		for (int i = 0; i < 1024; i++)
			free(tmp[i]);
	}
	__asm__ volatile("" ::: "memory");
}

static int dump(const char *dir, const char *name) {
	char path[4096];
	const char *p = path;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return bm_ctl("prof.dump", NULL, NULL, &p, sizeof(p));
}

__attribute__((noinline)) static void parent_site(void) {
	leak_here(16 << 20);
}

__attribute__((noinline)) static void child_site(void) {
	leak_here(16 << 20);
}

static void mode_fork(const char *dir) {
	parent_site();
	pid_t pid = fork();
	if (pid == 0) {
		child_site();
		_exit(dump(dir, "child.heap") == 0 ? 0 : 3);
	}
	int st;
	EXPECT(waitpid(pid, &st, 0) == pid && WIFEXITED(st) &&
	    WEXITSTATUS(st) == 0, "fork: the child dumped and exited 0");
	EXPECT(dump(dir, "parent.heap") == 0, "fork: the parent dumped");
}

typedef struct {
	pthread_barrier_t *bar;
	void **handoff;
} thread_arg_t;

__attribute__((noinline)) static void thread_site(void **mine, size_t n) {
	for (size_t i = 0; i < n; i++) {
		mine[i] = malloc(4096);
		memset(mine[i], 2, 64);
	}
	__asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) static void handoff_site(void **out, size_t n) {
	for (size_t i = 0; i < n; i++)
		out[i] = malloc(2048);
	__asm__ volatile("" ::: "memory");
}

enum { HANDOFF = 4096, PER_THREAD = 2048 };

static void *thread_main(void *arg) {
	thread_arg_t *t = arg;
	static _Thread_local void *mine[PER_THREAD];
	thread_site(mine, PER_THREAD);
	pthread_barrier_wait(t->bar);    /* thread 0 has filled handoff */
	if (t->handoff != NULL) {
		for (int i = 0; i < HANDOFF; i++)
			free(t->handoff[i]);
	}
	pthread_barrier_wait(t->bar);
	pthread_barrier_wait(t->bar);    /* main has dumped */
	return NULL;
}

static void mode_threads(const char *dir) {
	static void *handoff[HANDOFF];
	pthread_barrier_t bar;
	pthread_t tid[4];
	thread_arg_t args[4];
	pthread_barrier_init(&bar, NULL, 5);
	handoff_site(handoff, HANDOFF);
	for (int i = 0; i < 4; i++) {
		args[i].bar = &bar;
		args[i].handoff = i == 1 ? handoff : NULL;
		pthread_create(&tid[i], NULL, thread_main, &args[i]);
	}
	pthread_barrier_wait(&bar);
	pthread_barrier_wait(&bar);
	EXPECT(dump(dir, "threads.heap") == 0, "threads: dumped while they live");
	pthread_barrier_wait(&bar);
	for (int i = 0; i < 4; i++)
		pthread_join(tid[i], NULL);
}

static void mode_gdump(void) {
	for (int i = 0; i < 64; i++)
		leak_here(1 << 20);
}

/* A profiler counter ("stats.prof.*", from a fresh snapshot); a name that
 * does not answer is a failure (and 0). */
static uint64_t counter(const char *name) {
	uint64_t v = 0, e = 1;
	size_t len = sizeof(v);
	char full[64];
	snprintf(full, sizeof(full), "stats.%s", name);
	bm_ctl("epoch", NULL, NULL, &e, sizeof(e));
	int err = bm_ctl(full, &v, &len, NULL, 0);
	EXPECT(err == 0 && len == sizeof(v), "ctl: %s answers (%d)", name, err);
	return err == 0 ? v : 0;
}

static void mode_ctl(const char *dir) {
	uint64_t live0 = counter("prof.live"), stacks0 = counter("prof.stacks");
	leak_here(8 << 20);
	uint64_t samples = counter("prof.samples"), live = counter("prof.live");
	uint64_t bytes = counter("prof.live_bytes");
	uint64_t stacks = counter("prof.stacks"), dropped = counter("prof.dropped");
	EXPECT(samples > 0 && live > live0 && live <= samples,
	    "ctl: prof.samples %lu >= prof.live %lu > %lu", (unsigned long)samples,
	    (unsigned long)live, (unsigned long)live0);
	EXPECT(bytes >= (live - live0) * 1024 && stacks > stacks0 && dropped == 0,
	    "ctl: live_bytes %lu, stacks %lu, dropped %lu", (unsigned long)bytes,
	    (unsigned long)stacks, (unsigned long)dropped);
	uint64_t before = counter("prof.dumps");
	EXPECT(bm_ctl("prof.dump", NULL, NULL, NULL, 0) == 0,
	    "ctl: prof.dump without newp writes the next automatic name");
	const char *null = NULL;
	EXPECT(bm_ctl("prof.dump", NULL, NULL, &null, sizeof(null)) == 0,
	    "ctl: prof.dump with a NULL path too");
	int named = dump(dir, "named.heap");
	EXPECT(named == 0, "ctl: prof.dump to a path");
	EXPECT(bm_ctl("prof.dump", NULL, NULL, &null, 3) == EINVAL,
	    "ctl: prof.dump with a bad length is EINVAL");
	EXPECT(named == 0 && dump("/nonexistent/dir", "x.heap") == ENOENT,
	    "ctl: prof.dump to a path that cannot be created: ENOENT");
	uint64_t after = counter("prof.dumps");
	EXPECT(after == before + 3, "ctl: prof.dumps counts 3 (%lu to %lu)",
	    (unsigned long)before, (unsigned long)after);
	size_t n = nkeep;
	for (size_t i = 0; i < n; i++)
		free(keep[i]);
	nkeep = 0;
	live = counter("prof.live");
	stacks = counter("prof.stacks");
	EXPECT(live == live0 && stacks == stacks0, "ctl: after its blocks are "
	    "freed, live samples are back to %lu (%lu)", (unsigned long)live0,
	    (unsigned long)live);
}

static uint64_t rng = 88172645463325252ull;
static uint64_t next(void) {
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

typedef struct {
	unsigned char *p;
	size_t size;
	unsigned char tag;
} slot_t;

static int slot_ok(const slot_t *s) {
	for (size_t i = 0; i < s->size; i++)
		if (s->p[i] != s->tag)
			return 0;
	return 1;
}

static size_t op_size(void) {
	switch (next() % 4) {
	case 0: return next() % 64;
	case 1: return next() % 4096;
	case 2: return next() % 70000;
	default: return next() % (3 << 20);
	}
}

/* One random operation on slot s. */
static int op(slot_t *s, int *bad) {
	if (s->p != NULL && !slot_ok(s))
		(*bad)++;
	size_t n = op_size();
	unsigned k = (unsigned)(next() % 5);
	if (k == 0 || s->p == NULL) {
		free(s->p);
		s->p = k == 1 ? calloc(1, n) : malloc(n);
		if (k == 1)
			for (size_t i = 0; i < n; i++)
				*bad += s->p[i] != 0;
	} else if (k == 2) {
		unsigned char *q = realloc(s->p, n);
		for (size_t i = 0; i < MIN_(s->size, n); i++)
			*bad += q[i] != s->tag;
		s->p = q;
	} else if (k == 3) {
		free(s->p);
		s->p = memalign((size_t)16 << (next() % 9), n);
		*bad += ((uintptr_t)s->p & 15) != 0;
	} else {
		*bad += malloc_usable_size(s->p) < s->size;
		free(s->p);
		s->p = NULL;
		n = 0;
	}
	s->size = n;
	s->tag = (unsigned char)next();
	if (s->p != NULL)
		memset(s->p, s->tag, n);
	return s->p != NULL || n == 0;
}

static void mode_ops(void) {
	static slot_t slots[256];
	int bad = 0, oom = 0;
	uint64_t live0 = counter("prof.live");
	for (int i = 0; i < 6000; i++)
		oom += !op(&slots[next() % 256], &bad);
	for (int i = 0; i < 256; i++)
		free(slots[i].p);
	EXPECT(bad == 0 && oom == 0, "ops: 6000 operations with every block "
	    "sampled keep contents, zeroes, alignment (%d bad, %d failed)", bad,
	    oom);
	uint64_t live = counter("prof.live"), samples = counter("prof.samples");
	EXPECT(live == live0, "ops: live samples back to %lu (%lu)",
	    (unsigned long)live0, (unsigned long)live);
	EXPECT(samples > 4000, "ops: %lu samples", (unsigned long)samples);
}

int main(int argc, char **argv) {
	if (argc < 3) {
		fprintf(stderr, "usage: progs MODE DIR\n");
		return 2;
	}
	const char *m = argv[1], *dir = argv[2];
	setvbuf(stdout, NULL, _IONBF, 0);   /* no buffer among the samples */
	if (strcmp(m, "leak") == 0) {
		leak_here(32 << 20);
		clean_here(64 << 20);
	} else if (strcmp(m, "clean") == 0) {
		clean_here(64 << 20);
	} else if (strcmp(m, "fork") == 0) {
		mode_fork(dir);
	} else if (strcmp(m, "threads") == 0) {
		mode_threads(dir);
	} else if (strcmp(m, "gdump") == 0) {
		mode_gdump();
	} else if (strcmp(m, "ctl") == 0) {
		mode_ctl(dir);
	} else if (strcmp(m, "ops") == 0) {
		mode_ops();
	} else {
		return 2;
	}
	return failures != 0;
}
