/*
 * fault.c: allocation under injected OS failures. Run by test/reliability/run
 * with LD_PRELOAD=build/libbasemalloc-fault.so, where bm_ctl
 * "debug.fault_inject" makes the n-th OS map from now fail (once). For many
 * n, every allocation call must either succeed with good memory or fail the
 * way its contract says (NULL and errno ENOMEM; posix_memalign returns
 * ENOMEM), at most one call fails per injected fault, nothing crashes, no
 * lock stays held (a second thread and a forked child still allocate), and
 * allocation works again afterwards. A fault may fail no call at all when
 * basemalloc recovers from it: a base asks for a smaller block when its
 * cascade step cannot be mapped, and a huge realloc copies when mremap
 * fails; such a fault is counted as absorbed, and at least a quarter of
 * the faults must fail a call (so the injection is known to work). Each check prints "  # fault-points N"
 * (the faults it injected) for the runner's count.
 */
#include "rel.h"

#define HUGE_SZ ((size_t)33 << 20)
#define MIN(a, b) ((a) < (b) ? (a) : (b))

/* The first bytes rel_fill writes do not depend on the block's size. */
static int head_intact(const void *p, size_t n, uint64_t tag)
{
	return check_verify(p, MIN(n, 2048), tag) < 0;
}

static int fault_points, fault_absorbed;

static void note_points(void)
{
	printf("  # fault-points %d\n", fault_points);
	printf("  # fault-absorbed %d\n", fault_absorbed);
}

/* Inject the n-th map failure; 0 on success. */
static int inject(uint64_t n)
{
	if (n != 0)
		fault_points++;
	return rel_fault_inject(n);
}

static int check_fault_ctl(void)
{
	if (!check_expect_preload())
		NOT_APPLICABLE("fault injection needs the fault build preloaded");
	int err = rel_fault_inject(0);
	CHECK(err == 0, "bm_ctl(debug.fault_inject) = %d: not a fault build?", err);
	uint64_t n = 1;
	rel_ctl_fn ctl = rel_ctl();
	CHECK(ctl("debug.fault_inject", NULL, NULL, &n, 4) == EINVAL,
	    "a 4-byte value is accepted");
	CHECK(ctl("debug.fault_inject", NULL, NULL, NULL, 8) == EINVAL,
	    "a NULL value is accepted");
	return CHECK_OK;
}

/* The huge-size calls: every one of them maps at least once. */
static void *a_malloc(size_t n) { return malloc(n); }
static void *a_calloc(size_t n) { return calloc(1, n); }
static void *a_realloc(size_t n) { return realloc(NULL, n); }
static void *a_reallocarray(size_t n) { return reallocarray(NULL, 1, n); }
static void *a_aligned(size_t n) { return aligned_alloc(64 * KiB, n); }
static void *a_memalign(size_t n) { return memalign(2 * MiB, n); }
static void *a_valloc(size_t n) { return valloc(n); }
static void *a_pvalloc(size_t n) { return pvalloc(n); }
static void *a_posix(size_t n)
{
	void *p = (void *)0x1;
	int err = posix_memalign(&p, 4096, n);
	if (err == 0)
		return p;
	if (err != ENOMEM || (p != (void *)0x1 && p != NULL))
		return (void *)0x2;  /* reported as a wrong failure */
	errno = ENOMEM;
	return NULL;
}

struct api_s {
	const char *name;
	void *(*fn)(size_t);
	size_t align;
	int zeroed;
};

static const struct api_s apis[] = {
	{ "malloc", a_malloc, 16, 0 },
	{ "calloc", a_calloc, 16, 1 },
	{ "realloc(NULL)", a_realloc, 16, 0 },
	{ "reallocarray(NULL)", a_reallocarray, 16, 0 },
	{ "aligned_alloc", a_aligned, 64 * KiB, 0 },
	{ "memalign", a_memalign, 2 * MiB, 0 },
	{ "posix_memalign", a_posix, 4096, 0 },
	{ "valloc", a_valloc, 4096, 0 },
	{ "pvalloc", a_pvalloc, 4096, 0 },
};

/* Calls of api with the n-th map failing (every call maps at least once):
 * one of the first n calls fails (with ENOMEM), or none when the fault was
 * absorbed; the others and those after it succeed. *visible: 1 when a call
 * failed. */
static int huge_api_fault(const struct api_s *api, unsigned n, int *visible)
{
	enum { EXTRA = 4 };
	void *p[16];
	unsigned calls = n + EXTRA, failed = 0, at = 0;
	CHECK(inject(n) == 0);
	for (unsigned i = 0; i < calls; i++) {
		errno = 0;
		p[i] = api->fn(HUGE_SZ);
		if (p[i] == NULL) {
			CHECK(errno == ENOMEM, "%s: NULL with errno %d", api->name, errno);
			failed++;
			at = i + 1;
			continue;
		}
		CHECK(p[i] != (void *)0x2, "%s: wrong failure report", api->name);
		CHECK(((uintptr_t)p[i] & (api->align - 1)) == 0,
		    "%s returned %p, not aligned to %zu", api->name, p[i], api->align);
		if (api->zeroed)
			CHECK(check_all_bytes(p[i], 4096, 0) < 0 &&
			    check_all_bytes((char *)p[i] + HUGE_SZ - 4096, 4096, 0) < 0,
			    "%s memory is not zero", api->name);
		rel_fill(p[i], HUGE_SZ, i);
	}
	CHECK(failed <= 1 && at <= n, "%s: fault at map %u: %u calls failed "
	    "(last: call %u)", api->name, n, failed, at);
	*visible = failed == 1;
	fault_absorbed += failed == 0;
	for (unsigned i = 0; i < calls; i++) {
		if (p[i] == NULL)
			continue;
		CHECK(rel_verify(p[i], HUGE_SZ, i) == 0, "%s: block %u corrupted",
		    api->name, i);
		free(p[i]);
	}
	return CHECK_OK;
}

static int check_fault_huge_each_api(void)
{
	if (!check_expect_preload())
		NOT_APPLICABLE("needs the fault build");
	for (size_t a = 0; a < sizeof(apis) / sizeof(apis[0]); a++) {
		int seen = 0;
		for (unsigned n = 1; n <= 6; n++) {
			int visible, r = huge_api_fault(&apis[a], n, &visible);
			if (r != CHECK_OK)
				return r;
			seen += visible;
		}
		CHECK(seen >= 3, "%s failed for only %d of 6 faults", apis[a].name,
		    seen);
		CHECK(rel_heap_alive(), "after faults in %s", apis[a].name);
	}
	note_points();
	return CHECK_OK;
}

/* Growing a block that needs a new mapping fails cleanly: NULL, ENOMEM, the
 * old block untouched and still ours. */
static int realloc_grow_fails(size_t from, size_t to)
{
	unsigned char *p = malloc(from);
	CHECK(p != NULL);
	rel_fill(p, from, from);
	CHECK(inject(1) == 0);
	errno = 0;
	void *q = realloc(p, to);
	CHECK(q == NULL && errno == ENOMEM, "realloc(%zu -> %zu) = %p errno %d",
	    from, to, q, errno);
	CHECK(rel_verify(p, from, from) == 0, "old block changed (%zu -> %zu)",
	    from, to);
	CHECK(malloc_usable_size(p) >= from);
	q = realloc(p, to);
	CHECK(q != NULL, "realloc(%zu -> %zu) after the fault", from, to);
	CHECK(head_intact(q, from, from), "moved block lost its contents");
	free(q);
	return CHECK_OK;
}

static int check_fault_realloc(void)
{
	if (!check_expect_preload())
		NOT_APPLICABLE("needs the fault build");
	static const size_t moves[][2] = {
		{ 1 * MiB, HUGE_SZ },             /* large -> huge */
		{ 100, HUGE_SZ },                 /* small -> huge */
		{ 20000, 40 * MiB },
	};
	for (size_t i = 0; i < sizeof(moves) / sizeof(moves[0]); i++) {
		int r = realloc_grow_fails(moves[i][0], moves[i][1]);
		if (r != CHECK_OK)
			return r;
	}
	/* A chain of huge growths: when the n-th (mremap) fails, realloc
	 * falls back to a new mapping and a copy, so every call succeeds. */
	for (unsigned n = 1; n <= 4; n++) {
		size_t size = HUGE_SZ;
		unsigned char *p = malloc(size);
		CHECK(p != NULL);
		rel_fill(p, size, 9);
		CHECK(inject(n) == 0);
		for (unsigned i = 0; i < n + 2; i++) {
			unsigned char *q = realloc(p, size + MiB);
			CHECK(q != NULL, "huge growth %u with fault %u", i, n);
			CHECK(rel_verify(q, size, 9) == 0, "grown block corrupted");
			p = q;
			size += MiB;
			rel_fill(p, size, 9);
		}
		free(p);
	}
	CHECK(rel_heap_alive());
	note_points();
	return CHECK_OK;
}

/* A shrink whose smaller block needs a new mapping that fails keeps the
 * block, as glibc never fails a shrink: the same pointer, errno untouched,
 * the contents kept, and malloc_usable_size and free_sized with the new
 * size take it. *kept says whether it was kept (or moved: memory for the
 * smaller block was at hand, no map asked; small and large targets come
 * from reserved chunk space, so only a target needing a new chunk, here
 * 5 MiB, is known to meet the fault). */
typedef void (*free_sized_fn)(void *, size_t);

static int shrink_kept(size_t from, size_t to, int *kept)
{
	*kept = 0;
	free_sized_fn fs = (free_sized_fn)dlsym(RTLD_DEFAULT, "free_sized");
	unsigned char *p = malloc(from);
	CHECK(p != NULL && fs != NULL);
	rel_fill(p, from, from);
	CHECK(inject(1) == 0);
	errno = 1234;
	unsigned char *q = realloc(p, to);
	int err = errno;
	CHECK(inject(0) == 0);
	CHECK(q != NULL, "realloc(%zu -> %zu) failed a shrink", from, to);
	CHECK(err == 1234, "realloc(%zu -> %zu) set errno %d", from, to, err);
	CHECK(head_intact(q, to, from), "shrunk block lost its contents");
	if (q != p) {
		free(q);
		return CHECK_OK;
	}
	size_t usable = malloc_usable_size(q);
	CHECK(usable >= to, "usable %zu after a kept %zu -> %zu", usable,
	    from, to);
	fs(q, to);  /* aborts when the size is refused */
	p = malloc(from);  /* the heap is sound */
	CHECK(p != NULL);
	free(p);
	*kept = 1;
	return CHECK_OK;
}

static int check_fault_realloc_shrink(void)
{
	if (!check_expect_preload())
		NOT_APPLICABLE("needs the fault build");
	static const size_t moves[][2] = {
		{ 3000, 200 },                    /* small -> smaller class */
		{ 20000, 1000 },                  /* large -> small */
		{ 40 * MiB, 5 * MiB },            /* huge -> large */
		{ 40 * MiB, 300 },                /* huge -> small */
		{ 40 * MiB, 20000 },              /* huge -> large */
		{ 1 * MiB, 40 },                  /* large -> small */
	};
	int kept = 0;
	for (size_t i = 0; i < sizeof(moves) / sizeof(moves[0]); i++) {
		int r, k;
		if ((r = shrink_kept(moves[i][0], moves[i][1], &k)) != CHECK_OK)
			return r;
		printf("  # %zu -> %zu: %s\n", moves[i][0], moves[i][1],
		    k ? "kept" : "moved");
		kept += k;
	}
	CHECK(kept >= 1, "none of the shrinks met the fault (%d)", kept);
	CHECK(rel_heap_alive());
	return CHECK_OK;
}

/* A mixed random workload with the n-th map failing. */
struct slot_s {
	void *p;
	size_t n;
	uint64_t tag;
};

enum { SLOTS = 512 };

static size_t mixed_size(uint64_t *rng)
{
	uint64_t r = check_rand(rng), pick = r % 100;
	r >>= 8;
	if (pick < 60)
		return r % 1024;
	if (pick < 85)
		return 1024 + r % (64 * KiB);
	if (pick < 97)
		return 64 * KiB + r % (2 * MiB);
	return 32 * MiB + r % (8 * MiB);
}

static void *mixed_alloc(uint64_t *rng, size_t n, void *old)
{
	void *p = NULL;
	switch (check_rand(rng) % 6) {
	case 0: return malloc(n);
	case 1: return calloc(1, n);
	case 2: return memalign(256, n);
	case 3:
		if (posix_memalign(&p, 64, n) != 0) {
			errno = ENOMEM;
			return NULL;
		}
		return p;
	case 4: return aligned_alloc(4096, n);
	default: return realloc(old, n);
	}
}

/* One op; returns 1 if an allocation failed; counts in *huge the calls
 * that asked for a new huge block (each maps at least once). */
static int mixed_op(uint64_t *rng, struct slot_s *s, uint64_t tag, int *bad,
    unsigned *huge)
{
	size_t n = mixed_size(rng);
	int use_realloc = s->p != NULL && check_rand(rng) % 4 == 0;
	if (s->p != NULL && !use_realloc) {
		if (rel_verify(s->p, s->n, s->tag))
			*bad = 1;
		free(s->p);
		s->p = NULL;
		return 0;
	}
	if (use_realloc && n == 0)
		n = 1;  /* realloc(p, 0) frees p */
	/* Growing a huge block is an mremap whose failure realloc absorbs (it
	 * maps and copies instead): that fault would fail no call. */
	if (use_realloc && s->n >= 32 * MiB && n > s->n)
		n %= 64 * KiB;
	errno = 0;
	*huge += n >= 32 * MiB && !(use_realloc && s->n >= 32 * MiB);
	void *q = use_realloc ? realloc(s->p, n) : mixed_alloc(rng, n, NULL);
	if (q == NULL) {
		if (errno != ENOMEM)
			*bad = 2;
		if (use_realloc && rel_verify(s->p, s->n, s->tag))
			*bad = 3;  /* the failed realloc touched the block */
		return 1;
	}
	if (use_realloc && !head_intact(q, MIN(n, s->n), s->tag))
		*bad = 4;
	s->p = q;
	s->n = n;
	s->tag = tag;
	rel_fill(q, n, tag);
	return 0;
}

/* The workload with the n-th map failing, until a call fails (then
 * AFTER more operations must all succeed), or until more than n huge
 * allocations (each one maps) show the fault was absorbed. */
static int mixed_point(unsigned n, uint64_t *rng, struct slot_s *slots)
{
	enum { MAX_OPS = 400000, AFTER = 1000 };
	int bad = 0;
	unsigned failed = 0, huge = 0;
	long ops = 0, first = -1, absorbed = -1;
	CHECK(inject(n) == 0);
	for (; ops < MAX_OPS; ops++) {
		long since = first >= 0 ? first : absorbed;
		if (since >= 0 && ops >= since + AFTER)
			break;
		struct slot_s *s = &slots[check_rand(rng) % SLOTS];
		if (mixed_op(rng, s, ((uint64_t)n << 32) | (uint64_t)ops, &bad,
		    &huge)) {
			failed++;
			if (first < 0 && absorbed < 0)
				first = ops;
		}
		CHECK(bad == 0, "fault %u, op %ld: check %d failed", n, ops, bad);
		if (first < 0 && absorbed < 0 && huge > n)
			absorbed = ops;
	}
	CHECK(failed <= 1 && (failed == 1) != (absorbed >= 0), "fault at map "
	    "%u: %u calls failed in %ld ops (%u huge allocations)", n, failed,
	    ops, huge);
	fault_absorbed += absorbed >= 0;
	return CHECK_OK;
}

static int check_fault_mixed_points(void)
{
	if (!check_expect_preload())
		NOT_APPLICABLE("needs the fault build");
	const char *e = getenv("BM_FAULT_POINTS");
	unsigned points = e != NULL ? (unsigned)strtoul(e, NULL, 0) : 40;
	static struct slot_s slots[SLOTS];
	uint64_t rng = check_seed();
	int absorbed0 = fault_absorbed;
	for (unsigned n = 1; n <= points; n++) {
		int r = mixed_point(n % 40 + 1, &rng, slots);
		if (r != CHECK_OK)
			return r;
		if (n % 25 == 0)
			CHECK(rel_heap_alive(), "after %u faults", n);
	}
	for (size_t i = 0; i < SLOTS; i++) {
		CHECK(slots[i].p == NULL || rel_verify(slots[i].p, slots[i].n,
		    slots[i].tag) == 0, "slot %zu corrupted", i);
		free(slots[i].p);
	}
	CHECK(rel_heap_alive());
	/* Most faults absorbed are b0 growing for rtree nodes (each huge block
	 * at a new address needs some): a third of them in some runs. */
	CHECK((unsigned)(fault_absorbed - absorbed0) <= points * 3 / 4, "%d of "
	    "%u faults failed no call", fault_absorbed - absorbed0, points);
	note_points();
	return CHECK_OK;
}

/* A new thread whose arena (or a later slab or run) cannot be mapped. */
struct thr_s {
	unsigned n;
	int result;         /* 0 ok, 1 wrong errno, 2 more than one failure,
	                     * 3 no injection, 4 the arena was created */
	int absorbed;       /* no call failed */
	atomic_int finished;
	pthread_barrier_t *done;
};

/* Its first allocations need a new arena (the others are alive) and then
 * slabs and runs: the n-th map fails, one call returns NULL (the first one
 * when n is 1), or none if a base absorbed the fault. */
static void *new_thread_body(void *v)
{
	enum { MAXB = 4096, AFTER = 64 };
	struct thr_s *t = v;
	unsigned failed = 0, i, stop = MAXB;
	static __thread void *p[MAXB];
	t->result = inject(t->n) != 0 ? 3 : 0;
	for (i = 0; i < stop && t->result == 0; i++) {
		errno = 0;
		p[i] = malloc(i % 2 ? 48 : 20000);
		if (p[i] == NULL && errno != ENOMEM)
			t->result = 1;
		if (p[i] == NULL && failed++ == 0)
			stop = MIN(i + AFTER, MAXB);
	}
	if (t->n == 1 && p[0] != NULL)
		t->result = 4;  /* the arena itself could not be mapped */
	while (i-- > 0)
		free(p[i]);
	if (t->result == 0 && failed > 1)
		t->result = 2;
	t->absorbed = failed == 0;
	atomic_store(&t->finished, 1);
	pthread_barrier_wait(t->done);  /* stay alive: keep the arena busy */
	return NULL;
}

static int check_fault_new_thread(void)
{
	if (!check_expect_preload())
		NOT_APPLICABLE("needs the fault build");
	enum { NT = 4 };
	pthread_t th[NT];
	struct thr_s t[NT];
	pthread_barrier_t done;
	pthread_barrier_init(&done, NULL, NT + 1);
	for (unsigned i = 0; i < NT; i++) {
		t[i].n = i + 1;
		t[i].done = &done;
		atomic_init(&t[i].finished, 0);
		CHECK(pthread_create(&th[i], NULL, new_thread_body, &t[i]) == 0);
		/* One thread at a time: the fault is the process's. */
		while (!atomic_load(&t[i].finished))
			sched_yield();
		CHECK(t[i].result == 0, "thread %u (fault at map %u): %d", i,
		    t[i].n, t[i].result);
		fault_absorbed += t[i].absorbed;
	}
	pthread_barrier_wait(&done);
	for (unsigned i = 0; i < NT; i++)
		pthread_join(th[i], NULL);
	CHECK(rel_heap_alive());
	note_points();
	return CHECK_OK;
}

int main(int argc, char **argv)
{
	static const struct check_s checks[] = {
		CHECK_ENTRY(check_fault_ctl),
		CHECK_ENTRY(check_fault_huge_each_api),
		CHECK_ENTRY(check_fault_realloc),
		CHECK_ENTRY(check_fault_realloc_shrink),
		CHECK_ENTRY(check_fault_mixed_points),
		CHECK_ENTRY(check_fault_new_thread),
	};
	return check_main(checks, sizeof(checks) / sizeof(checks[0]), argc, argv);
}
