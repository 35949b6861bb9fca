/*
 * threads.c: thread churn, run under LD_PRELOAD by test/stress/run.
 * thread_churn: 20,000 short-lived threads, created two to eight at a time,
 * allocate, free some blocks, free blocks left by dead threads, and hand the
 * rest to two long-lived survivor threads that check and free them.
 * rss_bounded: 100,000 short-lived threads two at a time, each allocating and
 * leaving one block for the next; VmRSS must not grow by more than 64 MiB
 * (arenas of dead threads are reused, not leaked).
 */
#include "stress.h"

struct item_s {
	struct item_s *next;
	size_t n;
	uint64_t tag;
};

/* A mutex-protected LIFO of blocks; each block starts with its item_s. */
struct stack_s {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct item_s *head;
	long count;
	int closed;
};

static void stack_push(struct stack_s *s, struct item_s *it)
{
	pthread_mutex_lock(&s->mu);
	it->next = s->head;
	s->head = it;
	s->count++;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

/* Pop one; if wait, block until there is one or the stack is closed. */
static struct item_s *stack_pop(struct stack_s *s, int wait)
{
	pthread_mutex_lock(&s->mu);
	while (wait && s->head == NULL && !s->closed)
		pthread_cond_wait(&s->cv, &s->mu);
	struct item_s *it = s->head;
	if (it != NULL) {
		s->head = it->next;
		s->count--;
	}
	pthread_mutex_unlock(&s->mu);
	return it;
}

static struct item_s *item_new(size_t n, uint64_t tag)
{
	if (n < sizeof(struct item_s))
		n = sizeof(struct item_s);
	struct item_s *it = (struct item_s *)(void *)stress_alloc(&(uint64_t){ tag }, n);
	if (it == NULL)
		return NULL;
	it->n = n;
	it->tag = tag;
	stress_fill((unsigned char *)(it + 1), n - sizeof(*it), tag);
	return it;
}

static void item_free(struct item_s *it, const char *who)
{
	if (stress_verify((unsigned char *)(it + 1), it->n - sizeof(*it), it->tag))
		STRESS_FAIL("%s: block %p (%zu bytes) was corrupted", who, (void *)it, it->n);
	free(it);
}

static struct stack_s survivors_in = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
	NULL, 0, 0 };
static struct stack_s leftovers = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
	NULL, 0, 0 };
static atomic_long freed_by_survivors;

static void *survivor(void *arg)
{
	struct item_s *it;
	(void)arg;
	while ((it = stack_pop(&survivors_in, 1)) != NULL) {
		item_free(it, "survivor");
		atomic_fetch_add(&freed_by_survivors, 1);
	}
	return NULL;
}

static void *short_lived(void *arg)
{
	uint64_t rng = (uint64_t)(uintptr_t)arg * 0x9e3779b97f4a7c15ULL + check_seed();
	struct item_s *mine[24];
	for (int i = 0; i < 24; i++) {
		mine[i] = item_new(stress_size(&rng) / 4, check_rand(&rng));
		if (mine[i] == NULL)
			return NULL;
	}
	for (int i = 0; i < 3; i++) {
		struct item_s *old = stack_pop(&leftovers, 0);
		if (old != NULL)
			item_free(old, "next generation");
	}
	for (int i = 0; i < 24; i++) {
		if (i % 3 == 0)
			item_free(mine[i], "owner");
		else if (i % 3 == 1)
			stack_push(&survivors_in, mine[i]);
		else
			stack_push(&leftovers, mine[i]);
	}
	return NULL;
}

static int thread_churn(void)
{
	enum { TOTAL = 20000 };
	pthread_t surv[2], batch[8];
	uint64_t rng = check_seed();
	long created = 0;
	for (int i = 0; i < 2; i++)
		CHECK(pthread_create(&surv[i], NULL, survivor, NULL) == 0);
	while (created < TOTAL) {
		int b = 2 + (int)(check_rand(&rng) % 7);
		for (int i = 0; i < b; i++) {
			int rc = pthread_create(&batch[i], NULL, short_lived, (void *)(uintptr_t)(created + i));
			CHECK(rc == 0, "pthread_create #%ld: %s", created + i, strerror(rc));
		}
		for (int i = 0; i < b; i++)
			CHECK(pthread_join(batch[i], NULL) == 0);
		created += b;
	}
	pthread_mutex_lock(&survivors_in.mu);
	survivors_in.closed = 1;
	pthread_cond_broadcast(&survivors_in.cv);
	pthread_mutex_unlock(&survivors_in.mu);
	for (int i = 0; i < 2; i++)
		CHECK(pthread_join(surv[i], NULL) == 0);
	struct item_s *it;
	long rest = 0;
	while ((it = stack_pop(&leftovers, 0)) != NULL) {
		item_free(it, "main");
		rest++;
	}
	printf("  # %ld threads; survivors freed %ld blocks, main freed %ld left over\n",
	    created, atomic_load(&freed_by_survivors), rest);
	CHECK(atomic_load(&freed_by_survivors) == created * 8,
	    "survivors freed %ld of %ld", atomic_load(&freed_by_survivors), created * 8);
	CHECK(atomic_load(&stress_failures) == 0, "%d failures", atomic_load(&stress_failures));
	return CHECK_OK;
}

/* One thread of rss_bounded: a burst of allocations, one 64 KiB block, and
 * one small block left to the next generation (freed there, remotely). */
static void *rss_thread(void *arg)
{
	struct item_s *prev = stack_pop(&leftovers, 0), *keep = NULL;
	void *ps[64];
	uint64_t tag = (uint64_t)(uintptr_t)arg;
	if (prev != NULL)
		item_free(prev, "rss next generation");
	for (int i = 0; i < 64; i++) {
		ps[i] = malloc(16 + (size_t)i * 24);
		if (ps[i] == NULL)
			STRESS_FAIL("malloc failed");
		else
			memset(ps[i], i, 16 + (size_t)i * 24);
	}
	void *big = malloc(64 * KiB);
	if (big != NULL)
		memset(big, 1, 64 * KiB);
	free(big);
	keep = item_new(100, tag);
	if (keep != NULL)
		stack_push(&leftovers, keep);
	for (int i = 0; i < 64; i++)
		free(ps[i]);
	return NULL;
}

static int run_pairs(long n)
{
	pthread_t a, b;
	for (long i = 0; i < n; i += 2) {
		CHECK(pthread_create(&a, NULL, rss_thread, (void *)(uintptr_t)i) == 0, "thread %ld", i);
		CHECK(pthread_create(&b, NULL, rss_thread, (void *)(uintptr_t)(i + 1)) == 0,
		    "thread %ld", i + 1);
		CHECK(pthread_join(a, NULL) == 0 && pthread_join(b, NULL) == 0);
	}
	return CHECK_OK;
}

static int rss_bounded(void)
{
	enum { WARMUP = 2000, TOTAL = 100000 };
	CHECK(run_pairs(WARMUP) == CHECK_OK);
	long before = check_rss_kib();
	CHECK(run_pairs(TOTAL - WARMUP) == CHECK_OK);
	long after = check_rss_kib();
	struct item_s *it;
	while ((it = stack_pop(&leftovers, 0)) != NULL)
		item_free(it, "main");
	printf("  # %d threads two at a time: VmRSS %ld KiB after %d, %ld KiB at the end\n",
	    TOTAL, before, WARMUP, after);
	CHECK(before > 0 && after > 0);
	CHECK(after - before <= 64 * 1024, "VmRSS grew by %ld KiB", after - before);
	CHECK(atomic_load(&stress_failures) == 0, "%d failures", atomic_load(&stress_failures));
	return CHECK_OK;
}

static const struct check_s checks[] = {
	CHECK_ENTRY(thread_churn),
	CHECK_ENTRY(rss_bounded),
};

int main(int argc, char **argv)
{
	return stress_main("threads", checks, sizeof(checks) / sizeof(checks[0]),
	    argc, argv);
}
