/*
 * ulimit.c: real memory exhaustion. Each check caps its address space
 * (RLIMIT_AS, what `ulimit -v` sets) at its current size plus LIMIT_MIB,
 * allocates until the allocator says no, checks that the refusal is NULL
 * with errno ENOMEM from every call (posix_memalign: ENOMEM; realloc: NULL
 * with the old block intact), that everything it got is intact, frees it
 * all, and does it again: later rounds must get at least half as much (glibc
 * gets 80%: fragmentation), and then blocks of every kind (a huge one too)
 * must still be had, by this thread, a second one and a forked child. Runs under the
 * preload and, as the baseline, under glibc.
 */
#include "rel.h"

#include <sys/resource.h>

#define LIMIT_MIB 384
/* Small blocks: a lower cap, or filling it page by page takes too long. */
#define LIMIT_SMALL_MIB 96
static size_t limit_mib = LIMIT_MIB;

/* Cap the address space at the current size + limit_mib. */
static int cap_address_space(void)
{
	long vsz = rel_status_kib("VmSize:");
	if (vsz < 0)
		return 0;
	struct rlimit r;
	if (getrlimit(RLIMIT_AS, &r) != 0)
		return 0;
	r.rlim_cur = (rlim_t)vsz * 1024 + (rlim_t)limit_mib * MiB;
	return setrlimit(RLIMIT_AS, &r) == 0;
}

/* Lift the cap again (the hard limit was left alone). */
static int uncap_address_space(void)
{
	struct rlimit r;
	if (getrlimit(RLIMIT_AS, &r) != 0)
		return 0;
	r.rlim_cur = r.rlim_max;
	return setrlimit(RLIMIT_AS, &r) == 0;
}

/* Blocks chained through their first word; the second word is a tag. */
struct chain_s {
	void **head;
	size_t count, bytes;
};

static void *alloc_call(unsigned how, size_t n)
{
	void *p = NULL;
	switch (how % 6) {
	case 0: return malloc(n);
	case 1: return calloc(1, n);
	case 2: return memalign(64, n);
	case 3:
		if (posix_memalign(&p, 32, n) == 0)
			return p;
		errno = ENOMEM;
		return NULL;
	case 4: return aligned_alloc(16, n);
	default: return realloc(NULL, n);
	}
}

/* Allocate size(i) blocks until one fails; 1 if the failure was proper. */
static int fill_until_null(struct chain_s *c, size_t (*size)(uint64_t *),
    uint64_t *rng)
{
	for (unsigned i = 0;; i++) {
		size_t n = size(rng);
		errno = 0;
		void **b = alloc_call(i, n);
		if (b == NULL)
			return errno == ENOMEM;
		b[0] = c->head;
		b[1] = (void *)(uintptr_t)(n ^ 0xa5a5);
		c->head = b;
		c->count++;
		c->bytes += n;
	}
}

/* Free the chain after checking each block's tag; 1 if all were intact. */
static int free_chain(struct chain_s *c)
{
	int ok = 1;
	while (c->head != NULL) {
		void **b = c->head;
		size_t n = (uintptr_t)b[1] ^ 0xa5a5;
		if (n < 16 || malloc_usable_size(b) < n)
			ok = 0;
		c->head = b[0];
		free(b);
	}
	c->count = c->bytes = 0;
	return ok;
}

static size_t sz_small(uint64_t *rng) { return 16 + check_rand(rng) % 240; }
static size_t sz_large(uint64_t *rng) { return 20000 + check_rand(rng) % 300000; }
static size_t sz_huge(uint64_t *rng) { return (33 << 20) + check_rand(rng) % (8 << 20); }
static size_t sz_mixed(uint64_t *rng)
{
	uint64_t r = check_rand(rng);
	switch (r % 8) {
	case 0: return sz_large(rng);
	case 1: return r % 64 == 1 ? sz_huge(rng) : 4096 + r % 20000;
	default: return sz_small(rng);
	}
}

/* While everything is taken, every call refuses a request that cannot fit. */
static int refusals_are_proper(void)
{
	const size_t big = limit_mib * MiB;
	void *p = NULL, *old = malloc(100);
	if (old == NULL)
		return 1;  /* nothing left even for this: nothing to resize */
	memset(old, 0x3c, 100);
	for (unsigned how = 0; how < 6; how++) {
		errno = 0;
		if (alloc_call(how, big) != NULL || errno != ENOMEM)
			return 0;
	}
	p = (void *)0x1;
	if (posix_memalign(&p, 4096, big) != ENOMEM || (p != (void *)0x1 && p != NULL))
		return 0;
	errno = 0;
	if (valloc(big) != NULL || errno != ENOMEM || pvalloc(big) != NULL)
		return 0;
	errno = 0;
	if (realloc(old, big) != NULL || errno != ENOMEM ||
	    check_all_bytes(old, 100, 0x3c) >= 0)
		return 0;
	free(old);
	return 1;
}

static int exhaust(size_t (*size)(uint64_t *), const char *what,
    size_t after_mib)
{
	struct chain_s c = { NULL, 0, 0 };
	uint64_t rng = check_seed();
	size_t first;
	/* stdio's buffer now, not at the top of a full heap (glibc's brk heap
	 * could not shrink past it). */
	printf("  # %s: cap %zu MiB\n", what, limit_mib);
	CHECK(cap_address_space(), "setrlimit");
	CHECK(fill_until_null(&c, size, &rng), "%s: first refusal not ENOMEM", what);
	CHECK(c.bytes > limit_mib * MiB / 4, "%s: only %zu bytes before "
	    "the limit", what, c.bytes);
	CHECK(refusals_are_proper(), "%s: a call refused wrongly at the limit", what);
	first = c.bytes;
	printf("  # %s: %zu blocks, %zu MiB before NULL\n", what, c.count,
	    c.bytes >> 20);  /* the buffer exists: no allocation here */
	CHECK(free_chain(&c), "%s: a block was damaged", what);
	for (int round = 0; round < 2; round++) {
		rng = check_seed() + 1 + round;
		CHECK(fill_until_null(&c, size, &rng), "%s: refusal %d", what, round);
		CHECK(c.bytes >= first / 2, "%s: round %d got %zu bytes, "
		    "first got %zu: freed memory is not reused", what, round,
		    c.bytes, first);
		CHECK(free_chain(&c), "%s: a block was damaged", what);
	}
	/* What was freed serves other kinds of blocks: after_mib in one. */
	void *big = malloc(after_mib * MiB);
	CHECK(big != NULL, "%s: everything freed, yet malloc(%zu MiB) fails "
	    "under a %zu MiB cap", what, after_mib, limit_mib);
	free(big);
	CHECK(uncap_address_space());
	CHECK(rel_heap_alive(), "%s: the heap is stuck after exhaustion", what);
	return CHECK_OK;
}

static int check_exhaust_small(void)
{
	limit_mib = LIMIT_SMALL_MIB;
	return exhaust(sz_small, "small", 4);  /* glibc manages < 7 MiB here */
}

/* After large blocks are freed, a huge block of a third of the cap (its own
 * mapping) must fit: the freed runs have to be address space again. */
static int check_exhaust_large(void)
{
	return exhaust(sz_large, "large", LIMIT_MIB / 3);
}
static int check_exhaust_huge(void) { return exhaust(sz_huge, "huge", 1); }
static int check_exhaust_mixed(void) { return exhaust(sz_mixed, "mixed", 1); }

/* Exhaustion while other threads allocate too: all of them get NULL
 * (never a crash), free, and go on. */
static pthread_barrier_t start_line;

static void *exhaust_thread(void *v)
{
	struct chain_s c = { NULL, 0, 0 };
	uint64_t rng = (uintptr_t)v;
	intptr_t ok = 1;
	pthread_barrier_wait(&start_line);
	for (int round = 0; round < 3; round++) {
		ok &= fill_until_null(&c, sz_mixed, &rng);
		ok &= free_chain(&c);
	}
	return (void *)ok;
}

static int check_exhaust_threads(void)
{
	enum { NT = 4 };
	pthread_t t[NT];
	pthread_barrier_init(&start_line, NULL, NT + 1);
	for (uintptr_t i = 0; i < NT; i++)
		CHECK(pthread_create(&t[i], NULL, exhaust_thread, (void *)(i + 1)) == 0);
	CHECK(cap_address_space());
	pthread_barrier_wait(&start_line);
	for (int i = 0; i < NT; i++) {
		void *ok;
		pthread_join(t[i], &ok);
		CHECK(ok == (void *)1, "thread %d saw a wrong refusal or damage", i);
	}
	CHECK(uncap_address_space());
	CHECK(rel_heap_alive());
	return CHECK_OK;
}

int main(int argc, char **argv)
{
	static const struct check_s checks[] = {
		CHECK_ENTRY(check_exhaust_small),
		CHECK_ENTRY(check_exhaust_large),
		CHECK_ENTRY(check_exhaust_huge),
		CHECK_ENTRY(check_exhaust_mixed),
		CHECK_ENTRY(check_exhaust_threads),
	};
	return check_main(checks, sizeof(checks) / sizeof(checks[0]), argc, argv);
}
