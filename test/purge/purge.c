/*
 * purge.c: memory that a program frees goes back to the kernel on time
 * (issue 11), under LD_PRELOAD. A program that keeps 96 MiB live and frees
 * 60 MiB of 64 KiB - 1 MiB blocks, then makes no allocator call at all, is
 * back at its live heap plus a few MiB within dirty_decay_ms plus a second
 * (the background purger): single-threaded, with threads that stay alive
 * but idle, and in a fork child. The purger leaves once the program freed
 * everything and nothing is dirty.
 * With background_thread:false the same memory stays (the check proves it
 * measures something). A thread that frees more than dirty_max per round
 * and allocates it again does not fault it all back in every round.
 * RSS is read with check_rss_kib (no allocator call) while waiting, polled
 * every 20 ms up to the deadline.
 */
#include "check.h"

#include <malloc.h>
#include <pthread.h>
#include <stdbool.h>
#include <sys/resource.h>
#include <time.h>

#define KiB ((size_t)1024)
#define MiB (KiB * 1024)
#define LIVE (96 * MiB)
#define FREED (60 * MiB)
#define SLACK (6 * MiB)         /* "a few MiB" over the live heap */
#define KEPT (40 * MiB)         /* what must stay without the purger */
#define POLL_NS (20 * 1000 * 1000L)
#define MAX_BLOCKS 4096
#define MIN(a, b) ((a) < (b) ? (a) : (b))

typedef int (*ctl_fn)(const char *, void *, size_t *, void *, size_t);

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Resident bytes (no allocator call); 0 when unreadable. */
static size_t rss_bytes(void)
{
	long kib = check_rss_kib();
	return kib < 0 ? 0 : (size_t)kib * KiB;
}

/* Threads of this process from /proc/self/status: no allocation. */
static long thread_count(void)
{
	char buf[4096];
	if (check_read_proc("/proc/self/status", buf, sizeof(buf)) != 0)
		return -1;
	char *t = strstr(buf, "\nThreads:");
	return t != NULL ? strtol(t + 9, NULL, 10) : -1;
}

static ctl_fn ctl(void)
{
	return (ctl_fn)dlsym(RTLD_DEFAULT, "bm_ctl");
}

/* basemalloc's decay time (ms) and whether its purger is on; false when
 * basemalloc is not the allocator. A build without the option counts as
 * on: the promise holds for every basemalloc. */
static bool purge_options(long *decay_ms, bool *on)
{
	ctl_fn c = ctl();
	size_t len = sizeof(*decay_ms);
	if (c == NULL || c("opt.dirty_decay_ms", decay_ms, &len, NULL, 0) != 0)
		return false;
	len = sizeof(*on);
	if (c("opt.background_thread", on, &len, NULL, 0) != 0)
		*on = true;
	return true;
}

/* Blocks of 64 KiB to 1 MiB adding up to total bytes, written in full;
 * returns how many. */
static int alloc_blocks(void **b, size_t total, uint64_t *rng)
{
	int n = 0;
	for (size_t sum = 0; sum < total && n < MAX_BLOCKS; n++) {
		size_t sz = 64 * KiB + check_rand(rng) % (960 * KiB);
		sz = MIN(sz, total - sum);
		if (sz < 64 * KiB)
			sz = 64 * KiB;
		b[n] = malloc(sz);
		if (b[n] == NULL)
			return -1;
		memset(b[n], 0x5a, sz);
		sum += sz;
	}
	return n;
}
/* Wait, making no allocator call, until RSS <= limit or until the deadline
 * (seconds); returns the last RSS and sets *waited. */
static size_t idle_until(size_t limit, double deadline_s, double *waited)
{
	struct timespec pause = { 0, POLL_NS };
	double t0 = now_s();
	size_t rss = rss_bytes();
	while (rss > limit && now_s() - t0 < deadline_s) {
		nanosleep(&pause, NULL);
		rss = rss_bytes();
	}
	*waited = now_s() - t0;
	return rss;
}

/* The deadline, and what the idle memory must come to (on) or stay above
 * (off, and no thread besides the program's `threads`), given the RSS of
 * the live heap alone. */
static int idle_verdict(size_t live_rss, long decay_ms, bool on, long threads)
{
	double deadline = (double)decay_ms / 1000 + 1, waited;
	CHECK(live_rss > 0, "could not read the RSS");
	if (on) {
		size_t rss = idle_until(live_rss + SLACK, deadline, &waited);
		CHECK(rss <= live_rss + SLACK, "RSS %zu MiB after %.2f s idle, live "
		    "heap %zu MiB (+%zu allowed)", rss / MiB, waited,
		    live_rss / MiB, SLACK / MiB);
		printf("  # back at live + %zd KiB after %.2f s (decay %ld ms)\n",
		    ((ssize_t)rss - (ssize_t)live_rss) / 1024, waited, decay_ms);
		return CHECK_OK;
	}
	size_t rss = idle_until(0, deadline, &waited);
	CHECK(rss >= live_rss + KEPT, "background_thread:false, yet RSS %zu MiB "
	    "after %.2f s idle (live heap %zu MiB)", rss / MiB, waited,
	    live_rss / MiB);
	CHECK(thread_count() == threads, "%ld threads with background_thread:"
	    "false, the program has %ld", thread_count(), threads);
	return CHECK_OK;
}

/* One process's share of the scenario: its live blocks, the RSS with
 * them alone, and the options. */
struct heap {
	void *live[MAX_BLOCKS];
	int nlive;
	size_t live_rss;
	long decay;
	bool on;
};

static void free_blocks(void **b, int n)
{
	for (int i = 0; i < n; i++)
		free(b[i]);
}

/* Keep LIVE bytes, free FREED bytes; the live heap's RSS. */
static int churn(struct heap *h, uint64_t *rng)
{
	void *gone[MAX_BLOCKS];
	h->nlive = alloc_blocks(h->live, LIVE, rng);
	if (h->nlive < 0)
		return CHECK_FAILED;
	h->live_rss = rss_bytes();
	int ngone = alloc_blocks(gone, FREED, rng);
	if (ngone < 0)
		return CHECK_FAILED;
	free_blocks(gone, ngone);
	return CHECK_OK;
}

/* The options into h, then the churn; CHECK_NA without basemalloc. */
static int start(struct heap *h, uint64_t seed)
{
	if (!purge_options(&h->decay, &h->on))
		NOT_APPLICABLE("basemalloc is not the allocator");
	uint64_t rng = seed;
	CHECK(churn(h, &rng) == CHECK_OK);
	return CHECK_OK;
}

static int check_idle_single(void)
{
	static struct heap h;
	int r = start(&h, check_seed());
	if (r != CHECK_OK)
		return r;
	if (idle_verdict(h.live_rss, h.decay, h.on, 1) != CHECK_OK)
		return CHECK_FAILED;
	free_blocks(h.live, h.nlive);
	return CHECK_OK;
}

/* Once the program has freed everything and nothing is dirty, the purger
 * leaves: a program that never made a thread is single-threaded again. */
static int check_purger_leaves(void)
{
	static struct heap h;
	int r = start(&h, check_seed() + 1);
	if (r != CHECK_OK)
		return r;
	if (!h.on)
		NOT_APPLICABLE("background_thread:false");
	long seen = thread_count();
	free_blocks(h.live, h.nlive);
	struct timespec pause = { 0, POLL_NS };
	double t0 = now_s(), deadline = (double)h.decay / 1000 + 1;
	while (thread_count() != 1 && now_s() - t0 < deadline)
		nanosleep(&pause, NULL);
	CHECK(seen == 2, "%ld threads while 60 MiB waited to be purged", seen);
	CHECK(thread_count() == 1, "%ld threads %.2f s after freeing all",
	    thread_count(), now_s() - t0);
	return CHECK_OK;
}

#define NTHREADS 4

struct worker {
	pthread_barrier_t *idle;
	uint64_t seed;
	void *live[MAX_BLOCKS];
	int nlive;
};

/* A quarter of the live heap and of the freed memory, then idle (blocked
 * on the barrier) until main has checked. */
static void *worker(void *arg)
{
	struct worker *w = arg;
	void *gone[MAX_BLOCKS];
	w->nlive = alloc_blocks(w->live, LIVE / NTHREADS, &w->seed);
	pthread_barrier_wait(w->idle);  /* live heaps done: main reads RSS */
	pthread_barrier_wait(w->idle);
	int ngone = alloc_blocks(gone, FREED / NTHREADS, &w->seed);
	for (int i = 0; i < ngone; i++)
		free(gone[i]);
	pthread_barrier_wait(w->idle);  /* freed */
	pthread_barrier_wait(w->idle);  /* checked: tidy up */
	free_blocks(w->live, w->nlive);
	return NULL;
}

static int check_idle_threads(void)
{
	long decay;
	bool on;
	if (!purge_options(&decay, &on))
		NOT_APPLICABLE("basemalloc is not the allocator");
	static struct worker w[NTHREADS];
	pthread_t t[NTHREADS];
	pthread_barrier_t idle;
	CHECK(pthread_barrier_init(&idle, NULL, NTHREADS + 1) == 0);
	for (int i = 0; i < NTHREADS; i++) {
		w[i].idle = &idle;
		w[i].seed = check_seed() + 10 + (uint64_t)i;
		CHECK(pthread_create(&t[i], NULL, worker, &w[i]) == 0);
	}
	pthread_barrier_wait(&idle);
	size_t live_rss = rss_bytes();
	pthread_barrier_wait(&idle);
	pthread_barrier_wait(&idle);
	int r = idle_verdict(live_rss, decay, on, NTHREADS + 1);
	pthread_barrier_wait(&idle);
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < NTHREADS; i++)
		CHECK(w[i].nlive > 0);
	return r;
}

/* A fork child (of a parent whose purger runs) gets one of its own. */
static int check_idle_fork_child(void)
{
	static struct heap h, child;
	int r = start(&h, check_seed() + 2);
	if (r != CHECK_OK)
		return r;
	fflush(stdout);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		uint64_t rng = check_seed() + 3;
		for (int i = 0; i < h.nlive; i++)
			memset(h.live[i], 0x33, 4096);  /* the child's own pages */
		if (churn(&child, &rng) != CHECK_OK)
			_exit(CHECK_FAILED);
		_exit(idle_verdict(child.live_rss, h.decay, h.on, 1));
	}
	int status;
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == CHECK_OK,
	    "the child: status %#x", status);
	free_blocks(h.live, h.nlive);
	return CHECK_OK;
}

static long minflt(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_minflt;
}

/* One round of the free-and-reallocate pattern: a 12 MiB buffer written in
 * full and freed, then 200 blocks of 1-100 KB written and freed. */
static void refill_round(uint64_t *rng)
{
	void *b[200];
	char *buf = malloc(12 * MiB);
	if (buf == NULL)
		return;
	memset(buf, 1, 12 * MiB);
	free(buf);
	for (int k = 0; k < 200; k++) {
		size_t n = 1000 + check_rand(rng) % 99001;
		b[k] = malloc(n);
		if (b[k] != NULL)
			memset(b[k], 2, n);
	}
	for (int k = 0; k < 200; k++)
		free(b[k]);
}

/* After a few rounds to settle, 40 more fault in less than one round's
 * pages in all (an allocator that purges what a round frees faults every
 * page of every round back in). */
static int check_no_refault_storm(void)
{
	uint64_t rng = check_seed() + 4;
	for (int i = 0; i < 8; i++)
		refill_round(&rng);
	long before = minflt();
	for (int i = 0; i < 40; i++)
		refill_round(&rng);
	long faults = minflt() - before;
	long round_pages = (long)((12 * MiB + 200 * 50 * KiB) / 4096);
	CHECK(faults < round_pages, "%ld page faults in 40 rounds (one round "
	    "touches about %ld pages)", faults, round_pages);
	printf("  # %ld page faults in 40 rounds\n", faults);
	return CHECK_OK;
}

/* One round of callocs of 64 KiB to 256 KiB: each must read zero, is
 * written in full, and all are freed at the end. */
static int calloc_round(uint64_t *rng, size_t *bytes)
{
	unsigned char *b[24];
	for (int k = 0; k < 24; k++) {
		size_t n = 64 * KiB + check_rand(rng) % (192 * KiB);
		b[k] = calloc(1, n);
		CHECK(b[k] != NULL);
		CHECK(check_all_bytes(b[k], n, 0) < 0, "calloc(1, %zu): not "
		    "zero", n);
		memset(b[k], 0x5c, n);
		*bytes += n;
	}
	for (int k = 0; k < 24; k++)
		free(b[k]);
	return CHECK_OK;
}

/* calloc from runs the program freed (dirty pages) zeroes them in place
 * below 256 KiB (above, it gives them back: a big zeroed buffer is often
 * touched sparsely, and the pages it does not touch stay out of RSS):
 * after a few rounds, 30 more fault in less than one round's pages (when
 * calloc hands dirty pages back to the kernel to get zero pages, the
 * program's writes fault every page of every round back in). */
static int check_calloc_no_refault(void)
{
	uint64_t rng = check_seed() + 5;
	size_t bytes = 0;
	for (int i = 0; i < 4; i++)
		CHECK(calloc_round(&rng, &bytes) == CHECK_OK);
	bytes = 0;
	long before = minflt();
	for (int i = 0; i < 30; i++)
		CHECK(calloc_round(&rng, &bytes) == CHECK_OK);
	long faults = minflt() - before, round_pages = (long)(bytes / 30 / 4096);
	CHECK(faults < round_pages, "%ld page faults in 30 rounds of calloc "
	    "(one round touches about %ld pages)", faults, round_pages);
	printf("  # %ld page faults in 30 calloc rounds\n", faults);
	return CHECK_OK;
}

/* A freed huge block's mapping may serve the next huge request (kept with
 * its first pages resident): calloc still reads zero there, and the block
 * holds what it is given. */
static int check_huge_reuse_zeroed(void)
{
	for (int round = 0; round < 4; round++) {
		size_t big = 40 * MiB, next = (36 + (size_t)round) * MiB;
		unsigned char *p = malloc(big);
		CHECK(p != NULL);
		memset(p, 0xff, big);
		free(p);
		unsigned char *q = calloc(1, next);
		CHECK(q != NULL);
		CHECK(check_all_bytes(q, 4 * MiB, 0) < 0 &&
		    check_all_bytes(q + next - 4096, 4096, 0) < 0,
		    "calloc(%zu) after freeing a written %zu: not zero", next, big);
		CHECK(malloc_usable_size(q) >= next);
		check_fill(q, next, (uint64_t)round);
		unsigned char *r = malloc(2 * MiB);
		CHECK(r != NULL);
		free(r);
		CHECK(check_verify(q, next, (uint64_t)round) < 0);
		free(q);
	}
	return CHECK_OK;
}

int main(int argc, char **argv)
{
	static const struct check_s checks[] = {
		CHECK_ENTRY(check_idle_single),
		CHECK_ENTRY(check_purger_leaves),
		CHECK_ENTRY(check_idle_threads),
		CHECK_ENTRY(check_idle_fork_child),
		CHECK_ENTRY(check_no_refault_storm),
		CHECK_ENTRY(check_huge_reuse_zeroed),
		CHECK_ENTRY(check_calloc_no_refault),
	};
	return check_main(checks, sizeof(checks) / sizeof(checks[0]), argc,
	    argv);
}
