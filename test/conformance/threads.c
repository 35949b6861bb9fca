/*
 * threads.c: the threaded behaviours of glibc's malloc tests
 * (tst-aligned-alloc-random-thread[-cross], tst-malloc-random,
 * tst-malloc-thread-exit, tst-malloc-tcache-leak, tst-memalign-3,
 * tst-malloc-stats-cancellation), of
 * snmalloc's func tests (first_operation, multi_setspecific, protect_fork,
 * memory's double_alloc) and mimalloc's zero_aligned_first, written anew:
 * a thread's first call may be any call, blocks move between threads,
 * threads come and go without leaking, fork works from atfork handlers
 * that allocate. Run on glibc and under the preload. (tst-mallocfork, a
 * fork from a signal handler, is mallocfork.c.)
 */
#include "conf.h"

#include <pthread.h>
#include <sys/resource.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);

static pthread_t spawn(void *(*fn)(void *), void *arg)
{
	pthread_t t;
	if (pthread_create(&t, NULL, fn, arg) != 0) {
		printf("  # pthread_create failed\n");
		exit(CHECK_FAILED);
	}
	return t;
}

/* ---- tst-aligned-alloc-random-thread[-cross] and tst-malloc-random ---- */

enum { RT_THREADS = 8, RT_ALLOCS = 2048, RT_ITER = 4 };
static void *rt_blocks[RT_THREADS][RT_ALLOCS];
static size_t rt_sizes[RT_THREADS][RT_ALLOCS];
static pthread_barrier_t rt_barrier;
static int rt_cross;
static _Atomic int rt_failed;

/* One block the way tst-aligned_alloc-lib's malloc does: aligned_alloc
 * with a random power-of-two alignment up to 16384, __libc_calloc or
 * __libc_malloc, a third each. */
static void *rt_alloc(uint64_t *rng, size_t size)
{
	switch (check_rand(rng) % 3) {
	case 1: {
		size_t a = (size_t)1 << (check_rand(rng) % 15);
		void *p = aligned_alloc(a, size);
		if (p != NULL && !conf_aligned(p, a))
			rt_failed = 1;
		return p;
	}
	case 2: {
		unsigned char *p = __libc_calloc(1, size);
		if (p != NULL && check_all_bytes(p, size, 0) >= 0)
			rt_failed = 1;
		return p;
	}
	default:
		return __libc_malloc(size);
	}
}

static void rt_fill(int id, uint64_t *rng)
{
	for (int i = 0; i < RT_ALLOCS; i++) {
		size_t msb = (size_t)1 << (check_rand(rng) % 16);
		size_t size = msb + check_rand(rng) % msb;
		unsigned char *p = rt_alloc(rng, size);
		if (p == NULL) {
			rt_failed = 1;
			continue;
		}
		p[size - 1] = (unsigned char)i;
		p[0] = (unsigned char)id;
		rt_blocks[id][i] = p;
		rt_sizes[id][i] = size;
	}
}

static void rt_drain(int id)
{
	for (int i = 0; i < RT_ALLOCS; i++) {
		unsigned char *p = rt_blocks[id][i];
		size_t size = rt_sizes[id][i];
		if (p != NULL && (p[0] != (unsigned char)id ||
		    (size > 1 && p[size - 1] != (unsigned char)i)))
			rt_failed = 1;
		free(p);
		rt_blocks[id][i] = NULL;
	}
}

static void *rt_thread(void *arg)
{
	int id = (int)(intptr_t)arg, half = RT_THREADS / 2;
	uint64_t rng = check_seed() + (uint64_t)id * 7919;
	if (id < half)
		rt_fill(id, &rng);
	pthread_barrier_wait(&rt_barrier);
	if (id < half) {
		if (rt_cross)
			rt_fill(id + half, &rng);
		else
			rt_drain(id);
	} else {
		if (rt_cross)
			rt_drain(id - half);
		else
			rt_fill(id, &rng);
	}
	pthread_barrier_wait(&rt_barrier);
	if (id >= half)
		rt_drain(id);
	return NULL;
}

static int random_threads(int cross)
{
	rt_cross = cross;
	pthread_barrier_init(&rt_barrier, NULL, RT_THREADS);
	for (int it = 0; it < RT_ITER; it++) {
		pthread_t t[RT_THREADS];
		for (int i = 0; i < RT_THREADS; i++)
			t[i] = spawn(rt_thread, (void *)(intptr_t)i);
		for (int i = 0; i < RT_THREADS; i++)
			pthread_join(t[i], NULL);
		CHECK(!rt_failed, "a block was NULL, misaligned, not zeroed or overwritten");
	}
	return CHECK_OK;
}

static int random_threads_own_frees(void)
{
	return random_threads(0);
}

static int random_threads_cross_frees(void)
{
	return random_threads(1);
}

/* ---- tst-malloc-thread-exit ---- */

static _Atomic int te_rounds_left;

static void *te_malloc_first(void *arg)
{
	void *p = malloc(32);
	pthread_barrier_wait(arg);
	free(conf_ptr(p));
	return p == NULL ? arg : NULL;
}

static void *te_wait_first(void *arg)
{
	pthread_barrier_wait(arg);
	void *p = malloc(32);
	free(conf_ptr(p));
	return p == NULL ? arg : NULL;
}

static void *te_outer(void *arg)
{
	(void)arg;
	while (te_rounds_left-- > 0) {
		pthread_barrier_t b;
		pthread_t t[4];
		pthread_barrier_init(&b, NULL, 5);
		for (int i = 0; i < 4; i++)
			t[i] = spawn(i % 2 == 0 ? te_malloc_first : te_wait_first, &b);
		pthread_barrier_wait(&b);
		for (int i = 0; i < 4; i++) {
			void *r;
			pthread_join(t[i], &r);
			if (r != NULL)
				return r;
		}
		pthread_barrier_destroy(&b);
	}
	return NULL;
}

/* Two threads each start and join rounds of four threads, two of which
 * allocate before a barrier and two after; every allocation succeeds, and
 * under the preload the arenas stay within the threads alive at once. */
static int thread_exit_churn(void)
{
	CHECK(mallopt(M_ARENA_MAX, 8) != 0, "mallopt(M_ARENA_MAX, 8) failed");
	te_rounds_left = 400;
	pthread_t outer[2];
	for (int i = 0; i < 2; i++)
		outer[i] = spawn(te_outer, NULL);
	for (int i = 0; i < 2; i++) {
		void *r;
		pthread_join(outer[i], &r);
		CHECK(r == NULL, "malloc(32) failed in a short-lived thread");
	}
	if (conf_preloaded()) {
		long n = conf_ctl_unsigned("arenas.narenas");
		CHECK(n >= 1 && n <= 11, "%ld arenas for at most 11 live threads", n);
	}
	return CHECK_OK;
}

/* ---- tst-malloc-tcache-leak ---- */

static void *tl_worker(void *arg)
{
	(void)arg;
	void *p = malloc(32);
	__asm__ volatile("" ::: "memory");
	free(p);
	return malloc(32);
}

/* Thousands of threads that each allocate, free, and hand a block back to
 * be freed after they exit must not grow the bytes in use by more than a
 * byte per thread. */
static int thread_cache_does_not_leak(void)
{
	enum { THREADS = 3000 };
	void *keep = calloc(1, sizeof(pthread_t));
	CHECK(keep != NULL);
	struct mallinfo2 before = mallinfo2();
	CHECK(before.uordblks != 0);
	for (int i = 0; i < THREADS; i++) {
		void *r;
		pthread_join(spawn(tl_worker, NULL), &r);
		CHECK(r != NULL);
		free(r);
	}
	struct mallinfo2 after = mallinfo2();
	CHECK(after.uordblks <= before.uordblks + THREADS,
	    "in use %zu before, %zu after %d threads", before.uordblks,
	    after.uordblks, THREADS);
	free(keep);
	return CHECK_OK;
}

/* ---- tst-memalign-3 ---- */

static void *ma_thread(void *arg)
{
	static const size_t cases[][2] = { { 24, 32 }, { 24, 64 }, { 128, 128 }, { 500, 128 } };
	int *reused = arg;
	for (int i = 0; i < 4; i++) {
		void *p1 = memalign(cases[i][1], cases[i][0]);
		if (p1 == NULL || !conf_aligned(p1, cases[i][1]))
			return arg;
		size_t u = malloc_usable_size(p1);
		free(p1);
		void *p2 = memalign(cases[i][1], u);
		if (p2 == NULL || !conf_aligned(p2, cases[i][1]))
			return arg;
		free(p2);
		*reused += p1 == p2;
	}
	return NULL;
}

/* tst-memalign-3 is tst-memalign-2 on a new thread (glibc 2.37): there an
 * aligned block just freed comes back to the same request. The reuse is
 * asserted under the preload only (glibc 2.36 does not reuse). */
static int memalign_reuse_on_new_thread(void)
{
	int reused = 0;
	void *r;
	pthread_join(spawn(ma_thread, &reused), &r);
	CHECK(r == NULL, "memalign failed or misaligned on a new thread");
	if (conf_preloaded())
		CHECK(reused == 4, "%d of 4 aligned blocks reused", reused);
	return CHECK_OK;
}

/* ---- snmalloc first_operation, mimalloc zero_aligned_first ---- */

struct fo_arg {
	size_t size;
	int kind;
	void *block;
	int failed;
};

static void *fo_thread(void *arg)
{
	struct fo_arg *a = arg;
	unsigned char *p = NULL;
	switch (a->kind) {
	case 0:
		p = malloc(a->size);
		break;
	case 1:
		p = calloc(1, a->size);
		if (p != NULL && check_all_bytes(p, a->size, 0) >= 0)
			a->failed = 1;
		break;
	case 2:
		free(a->block);
		return NULL;
	case 3:
		p = realloc(NULL, a->size);
		break;
	case 4:
		p = memalign(64, a->size);
		if (p != NULL && !conf_aligned(p, 64))
			a->failed = 1;
		break;
	}
	if (p == NULL)
		a->failed = 1;
	else if (a->size > 0)
		memset(p, 0x5a, a->size);
	free(p);
	return NULL;
}

/* For sizes around every power of two up to 16 MiB, new threads whose very
 * first allocator call is malloc, calloc, realloc(NULL), memalign or the
 * free of a block the main thread allocated. */
static int first_call_of_a_thread(void)
{
	size_t sizes[128];
	int n = 0;
	static const size_t base[] = { 0, 1, 3, 5, 7 };
	for (int i = 0; i < 5; i++)
		sizes[n++] = base[i];
	for (unsigned e = 1; e < 24; e += 2)
		for (size_t m = 1; m <= 7; m += 2) {
			sizes[n++] = (m << e) + (e % 4 == 1 ? 1 : 0);
			sizes[n++] = (m << e) - 1;
		}
	for (int i = 0; i < n; i++) {
		struct fo_arg args[6];
		pthread_t t[6];
		for (int k = 0; k < 6; k++) {
			args[k].size = sizes[i];
			args[k].kind = k < 5 ? k : 2;
			args[k].failed = 0;
			args[k].block = args[k].kind == 2 ? malloc(sizes[i]) : NULL;
			t[k] = spawn(fo_thread, &args[k]);
		}
		for (int k = 0; k < 6; k++) {
			pthread_join(t[k], NULL);
			CHECK(!args[k].failed, "first call %d of a thread, size %zu", args[k].kind, sizes[i]);
		}
	}
	return CHECK_OK;
}

static void *za_thread(void *arg)
{
	(void)arg;
	void *p = memalign(16, 0);
	int ok = p != NULL && conf_aligned(p, 16);
	free(p);
	void *q = NULL;
	ok = ok && posix_memalign(&q, 32, 0) == 0 && conf_aligned(q, 32);
	free(q);
	return ok ? NULL : (void *)1;
}

/* mimalloc's zero_aligned_first: a zero-size aligned allocation as the
 * first call of a fresh thread. */
static int zero_aligned_first_call(void)
{
	void *r;
	pthread_join(spawn(za_thread, NULL), &r);
	CHECK(r == NULL);
	return CHECK_OK;
}

/* ---- snmalloc multi_setspecific ---- */

static pthread_key_t ss_key;

static void ss_dtor(void *v)
{
	(void)v;
}

static void *ss_thread(void *arg)
{
	(void)arg;
	pthread_setspecific(ss_key, (void *)1);
	return NULL;
}

/* With 33 keys taken, a thread's first allocation happens inside
 * pthread_setspecific (glibc callocs the second-level key block); the
 * thread still exits cleanly and, under the preload, gives its arena back. */
static int first_alloc_inside_setspecific(void)
{
	for (int i = 0; i < 33; i++)
		CHECK(pthread_key_create(&ss_key, ss_dtor) == 0);
	long before = conf_ctl_unsigned("arenas.abandoned");
	pthread_join(spawn(ss_thread, NULL), NULL);
	if (conf_preloaded()) {
		long after = conf_ctl_unsigned("arenas.abandoned");
		CHECK(before >= 0 && after == before + 1,
		    "abandoned arenas %ld before, %ld after the thread", before, after);
	}
	void *p = malloc(64);
	CHECK(p != NULL);
	free(p);
	return CHECK_OK;
}

/* ---- snmalloc protect_fork (as seen from libc) ---- */

static _Atomic int pf_stop;

static void pf_handler(void)
{
	void *p = malloc(100);
	free(p);
}

static void *pf_worker(void *arg)
{
	uint64_t rng = (uint64_t)(intptr_t)arg;
	void *slots[64] = { 0 };
	while (!pf_stop) {
		int k = (int)(check_rand(&rng) % 64);
		free(slots[k]);
		slots[k] = malloc(check_rand(&rng) % 5000);
	}
	for (int k = 0; k < 64; k++)
		free(slots[k]);
	return NULL;
}

/* pthread_atfork handlers that allocate in prepare, parent and child,
 * registered after the allocator booted, while two threads allocate: every
 * fork completes and every child allocates. */
static int fork_with_allocating_atfork_handlers(void)
{
	CHECK(pthread_atfork(pf_handler, pf_handler, pf_handler) == 0);
	pthread_t t[2];
	for (int i = 0; i < 2; i++)
		t[i] = spawn(pf_worker, (void *)(intptr_t)(i + 1));
	for (int i = 0; i < 40; i++) {
		pid_t pid = fork();
		CHECK(pid >= 0);
		if (pid == 0) {
			void *p = malloc(1000), *q = calloc(10, 1000);
			_exit(p != NULL && q != NULL ? 0 : 1);
		}
		int status;
		CHECK(waitpid(pid, &status, 0) == pid);
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child %d", i);
	}
	pf_stop = 1;
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	return CHECK_OK;
}

/* ---- snmalloc memory.cc test_double_alloc ---- */

enum { DA_N = 4096 };
static void *da_sets[2][DA_N];
static pthread_barrier_t da_barrier;

static void *da_thread(void *arg)
{
	int me = (int)(intptr_t)arg;
	long bad = 0;
	for (int round = 0; round < 4; round++) {
		for (int i = 0; i < DA_N; i++) {
			da_sets[me][i] = malloc(20);
			if (da_sets[me][i] == NULL)
				bad++;
			else
				memset(da_sets[me][i], me + 1, 20);
		}
		pthread_barrier_wait(&da_barrier);
		for (int i = 0; i < DA_N; i++) {
			unsigned char *p = da_sets[1 - me][i];
			if (p != NULL && check_all_bytes(p, 20, (unsigned char)(2 - me)) >= 0)
				bad++;
			free(p);
		}
		pthread_barrier_wait(&da_barrier);
	}
	return (void *)bad;
}

/* Two threads allocate 20-byte blocks; each then frees the other's (every
 * free remote), four rounds; no block is shared or overwritten. */
static int blocks_freed_by_the_other_thread(void)
{
	pthread_barrier_init(&da_barrier, NULL, 2);
	pthread_t t[2];
	for (int i = 0; i < 2; i++)
		t[i] = spawn(da_thread, (void *)(intptr_t)i);
	for (int i = 0; i < 2; i++) {
		void *r;
		pthread_join(t[i], &r);
		CHECK(r == NULL, "%ld bad blocks", (long)(intptr_t)r);
	}
	return CHECK_OK;
}

/* ---- tst-malloc-thread-fail ---- */

enum { TF_THREADS = 8, TF_FUNCS = 8 };
static int tf_func;
static size_t tf_size, tf_align;
static pthread_barrier_t tf_start, tf_end;
static _Atomic int tf_bad;

/* One allocation by function tf_func (malloc, realloc from 16 bytes,
 * aligned_alloc, memalign, posix_memalign, valloc, pvalloc, calloc); a
 * block not aligned as promised, a posix_memalign error other than ENOMEM
 * or a calloc block that is not zero marks the run bad. */
static void *tf_alloc(void)
{
	size_t page = conf_page(), align = 16;
	unsigned char *p = NULL;
	switch (tf_func) {
	case 0: p = malloc(tf_size); break;
	case 1:
		p = realloc(NULL, 16);
		if (p != NULL) {
			unsigned char *q = realloc(p, tf_size);
			if (q == NULL)
				free(p);
			p = q;
		}
		break;
	case 2: p = aligned_alloc(tf_align, tf_size); align = tf_align; break;
	case 3: p = memalign(tf_align, tf_size); align = tf_align; break;
	case 4: {
		void *v = NULL;
		int r = posix_memalign(&v, tf_align, tf_size);
		if (r != 0 && r != ENOMEM)
			tf_bad = 1;
		p = r == 0 ? v : NULL;
		align = tf_align;
		break;
	}
	case 5: p = valloc(tf_size); align = page; break;
	case 6: p = pvalloc(tf_size); align = page; break;
	case 7:
		p = calloc(1, tf_size);
		if (p != NULL && check_all_bytes(p, tf_size, 0) >= 0)
			tf_bad = 1;
		break;
	}
	if (p != NULL && !conf_aligned(p, align))
		tf_bad = 1;
	return p;
}

static void *tf_thread(void *arg)
{
	(void)arg;
	void **head = NULL, **e;
	pthread_barrier_wait(&tf_start);
	while ((e = tf_alloc()) != NULL) {
		*e = head;
		head = e;
	}
	pthread_barrier_wait(&tf_end);
	while (head != NULL) {
		void **next = *head;
		free(head);
		head = next;
	}
	return NULL;
}

/* In a child limited to 200 MB of address space, eight threads and the
 * main one allocate with tf_func until it fails, then free everything;
 * the child exits 0 unless a thread could not start or a block was bad. */
static int tf_run_one(void)
{
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		struct rlimit lim;
		pthread_attr_t attr;
		pthread_t t[TF_THREADS];
		if (getrlimit(RLIMIT_AS, &lim) != 0)
			_exit(2);
		lim.rlim_cur = 200 * MiB;
		if (setrlimit(RLIMIT_AS, &lim) != 0)
			_exit(3);
		pthread_attr_init(&attr);
		pthread_attr_setstacksize(&attr, 256 * KiB);
		pthread_barrier_init(&tf_start, NULL, TF_THREADS + 1);
		pthread_barrier_init(&tf_end, NULL, TF_THREADS + 1);
		for (int i = 0; i < TF_THREADS; i++)
			if (pthread_create(&t[i], &attr, tf_thread, NULL) != 0)
				_exit(4);
		tf_thread(NULL);
		for (int i = 0; i < TF_THREADS; i++)
			pthread_join(t[i], NULL);
		void *again = malloc(tf_size);
		_exit(tf_bad ? 5 : again == NULL ? 6 : 0);
	}
	int status;
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "function %d, size %zu, alignment %zu: status %#x", tf_func,
	    tf_size, tf_align, status);
	return CHECK_OK;
}

/* tst-malloc-thread-fail: every allocation function runs out of memory
 * cleanly in nine threads at once (NULL or ENOMEM, never a crash or a
 * misaligned or dirty block), for 144 bytes and a page, and the aligned
 * ones for 512 bytes, a page and 17 pages at alignment 128; the heap
 * allocates again after everything was freed. */
static int allocation_failure_in_threads(void)
{
	static const size_t plain[] = { 144, 4096 }, aligned[] = { 512, 4096, 17 * 4096 };
	CHECK(mallopt(M_ARENA_MAX, 2) != 0);
	for (tf_func = 0; tf_func < TF_FUNCS; tf_func++) {
		int sensitive = tf_func >= 2 && tf_func <= 4;
		const size_t *sizes = sensitive ? aligned : plain;
		size_t n = sensitive ? 3 : 2;
		tf_align = sensitive ? 128 : 0;
		for (size_t i = 0; i < n; i++) {
			tf_size = sizes[i];
			CHECK(tf_run_one() == CHECK_OK);
		}
	}
	return CHECK_OK;
}

/* ---- tst-malloc-stats-cancellation ---- */

static int sc_pipe[2];

/* Read fd 2's pipe to its end; the text, NUL-terminated, in a static. */
static void *sc_reader(void *arg)
{
	static char text[1 << 16];
	size_t n = 0;
	ssize_t r;
	(void)arg;
	while (n < sizeof(text) - 1 &&
	    (r = read(sc_pipe[0], text + n, sizeof(text) - 1 - n)) > 0)
		n += (size_t)r;
	text[n] = '\0';
	return text;
}

static void *sc_stats(void *gate)
{
	pthread_barrier_wait(gate);   /* not a cancellation point */
	malloc_stats();               /* must finish with a cancel pending */
	fputs("after malloc_stats\n", stderr);   /* a cancellation point */
	return NULL;
}

/* With a cancellation pending, malloc_stats prints its whole report (to
 * the last line, "max mmap bytes") and the thread is cancelled at the next
 * cancellation point, not inside it. */
static int malloc_stats_with_cancel_pending(void)
{
	pthread_barrier_t gate;
	pthread_t reader, t;
	void *rv, *text;
	CHECK(pipe(sc_pipe) == 0 && dup2(sc_pipe[1], 2) == 2);
	close(sc_pipe[1]);
	reader = spawn(sc_reader, NULL);
	CHECK(pthread_barrier_init(&gate, NULL, 2) == 0);
	t = spawn(sc_stats, &gate);
	CHECK(pthread_cancel(t) == 0);
	pthread_barrier_wait(&gate);
	CHECK(pthread_join(t, &rv) == 0);
	close(2);
	CHECK(pthread_join(reader, &text) == 0);
	CHECK(rv == PTHREAD_CANCELED, "the thread was not cancelled");
	CHECK(strstr(text, "max mmap bytes") != NULL, "report cut short: %.200s", (char *)text);
	CHECK(strstr(text, "after malloc_stats") == NULL, "cancelled too late");
	return CHECK_OK;
}

static const struct check_s checks[] = {
	CHECK_ENTRY(random_threads_own_frees),
	CHECK_ENTRY(random_threads_cross_frees),
	CHECK_ENTRY(thread_exit_churn),
	CHECK_ENTRY(thread_cache_does_not_leak),
	CHECK_ENTRY(memalign_reuse_on_new_thread),
	CHECK_ENTRY(first_call_of_a_thread),
	CHECK_ENTRY(zero_aligned_first_call),
	CHECK_ENTRY(first_alloc_inside_setspecific),
	CHECK_ENTRY(fork_with_allocating_atfork_handlers),
	CHECK_ENTRY(blocks_freed_by_the_other_thread),
	CHECK_ENTRY(allocation_failure_in_threads),
	CHECK_ENTRY(malloc_stats_with_cancel_pending),
};

int main(int argc, char **argv)
{
	return check_main(checks, sizeof(checks) / sizeof(checks[0]), argc, argv);
}
