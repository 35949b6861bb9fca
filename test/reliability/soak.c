/*
 * soak.c: random operations on 8 threads for BM_SOAK_SECONDS (default 20),
 * run by test/reliability/run under a `timeout` watchdog. Each thread keeps
 * a table of blocks and, at random: allocates through one of the seven
 * calls (checking alignment, and zeroes from calloc), frees (checking the
 * block's pattern), reallocs (checking that the kept prefix survived),
 * checks malloc_usable_size, or hands the block to another thread's inbox
 * (a lock-free stack), whose owner checks and frees it. The main thread
 * samples VmRSS against the bytes of their blocks the threads touched.
 * Prints PASS/FAIL lines: soak_content (no block ever changed), soak_rss
 * (VmRSS stayed under 2 x the bytes touched + 128 MiB), soak_trim (after
 * everything is freed and malloc_trim(0), VmRSS is back within 64 MiB of
 * the start), soak_rss_steady (the second half's peak VmRSS is at most 1.5
 * times the first half's + 32 MiB: no growth), soak_arenas (no more arenas
 * than threads). Exits 1 on failure.
 */
#include "rel.h"

#include <limits.h>
#include <time.h>

enum { NTHREADS = 8, SLOTS = 2048 };
/* calloc: check the first 64 KiB for zeroes; realloc: the first 2 KiB of
 * the payload (what rel_fill writes the same way at any size). */
#define MIN_ZERO(n) ((n) < 64 * KiB ? (n) : 64 * KiB)
#define MIN_HEAD(n) ((n) < 2048 ? (n) : 2048)

/* Every block starts with this header; the pattern follows it. */
struct hdr_s {
	struct hdr_s *next;     /* inbox link */
	size_t n;
	uint64_t tag;
	size_t touched;         /* bytes of the block written so far (bound) */
};

struct worker_s {
	int id;
	uint64_t rng;
	struct hdr_s *slot[SLOTS];
	_Atomic(struct hdr_s *) inbox;
	atomic_long held;       /* bytes of its blocks this thread touched */
	long ops, handed, received;
};

static struct worker_s workers[NTHREADS];
static atomic_int soak_bad, soak_stop;

#define SOAK_FAIL(...) do { \
	if (atomic_fetch_add(&soak_bad, 1) < 5) { \
		printf("  # "); \
		check_note(0, __VA_ARGS__); \
	} \
} while (0)

static size_t soak_size(uint64_t *rng)
{
	uint64_t r = check_rand(rng), pick = r % 1000;
	r >>= 10;
	if (pick < 850)
		return sizeof(struct hdr_s) + r % 480;
	if (pick < 985)
		return sizeof(struct hdr_s) + r % (32 * KiB);
	if (pick < 999)
		return 32 * KiB + r % (1 * MiB);
	return 32 * MiB + r % (4 * MiB);
}

/* Bytes of a block of n bytes that rel_fill (after the header) touches. */
static size_t fill_touches(size_t n)
{
	return n <= 8 * KiB ? n : 8 * KiB + n / (256 * KiB) * 4 * KiB;
}

/* Fill h and account the bytes written to it: by rel_fill, and before it
 * by calloc's zeroing or realloc's copy (prior bytes). */
static void block_fill(struct worker_s *w, struct hdr_s *h, size_t n,
    uint64_t tag, size_t prior)
{
	size_t t = fill_touches(n);
	h->n = n;
	h->tag = tag;
	h->touched = t > prior ? t : prior;
	atomic_fetch_add_explicit(&w->held, (long)h->touched,
	    memory_order_relaxed);
	rel_fill(h + 1, n - sizeof(*h), tag);
}

static void block_free(struct worker_s *w, struct hdr_s *h, const char *how)
{
	if (rel_verify(h + 1, h->n - sizeof(*h), h->tag))
		SOAK_FAIL("%s: block %p of %zu bytes (tag %#llx) changed", how,
		    (void *)h, h->n, (unsigned long long)h->tag);
	atomic_fetch_sub_explicit(&w->held, (long)h->touched, memory_order_relaxed);
	free(h);
}

/* *zeroed: calloc wrote zeroes over the block (a bound: it may not have). */
static void *soak_alloc(uint64_t *rng, size_t n, size_t *align, int *zeroed)
{
	uint64_t r = check_rand(rng);
	void *p = NULL;
	*align = (size_t)16 << (r >> 8) % 8;
	*zeroed = 0;
	switch (r % 7) {
	case 0: case 1: *align = 16; return malloc(n);
	case 2:
		*align = 16;
		*zeroed = n < 32 * MiB;
		p = calloc(1, n);
		if (p != NULL && check_all_bytes(p, MIN_ZERO(n), 0) >= 0)
			SOAK_FAIL("calloc(1, %zu) = %p is not zeroed", n, p);
		return p;
	case 3: return memalign(*align, n);
	case 4: return posix_memalign(&p, *align, n) == 0 ? p : NULL;
	case 5: return aligned_alloc(*align, n);
	default: *align = 16; return realloc(NULL, n);
	}
}

/* Hand h to a random other thread. */
static void soak_hand(struct worker_s *w, struct hdr_s *h)
{
	struct worker_s *to = &workers[(w->id + 1 + check_rand(&w->rng) %
	    (NTHREADS - 1)) % NTHREADS];
	long n = (long)h->touched;
	atomic_fetch_sub_explicit(&w->held, n, memory_order_relaxed);
	atomic_fetch_add_explicit(&to->held, n, memory_order_relaxed);
	struct hdr_s *head = atomic_load_explicit(&to->inbox, memory_order_relaxed);
	do {
		h->next = head;
	} while (!atomic_compare_exchange_weak_explicit(&to->inbox, &head, h,
	    memory_order_release, memory_order_relaxed));
	w->handed++;
}

static void soak_drain(struct worker_s *w)
{
	struct hdr_s *h = atomic_exchange_explicit(&w->inbox, NULL,
	    memory_order_acquire);
	while (h != NULL) {
		struct hdr_s *next = h->next;
		block_free(w, h, "received");
		w->received++;
		h = next;
	}
}

static void soak_realloc(struct worker_s *w, struct hdr_s **s)
{
	struct hdr_s *h = *s;
	size_t n = soak_size(&w->rng), old = h->n, keep = n < old ? n : old;
	size_t old_touched = h->touched;
	uint64_t tag = h->tag;
	if (rel_verify(h + 1, old - sizeof(*h), tag))
		SOAK_FAIL("before realloc: block %p changed", (void *)h);
	struct hdr_s *q = realloc(h, n);
	if (q == NULL) {
		SOAK_FAIL("realloc(%p, %zu) failed", (void *)h, n);
		return;
	}
	if (q->n != old || q->tag != tag ||
	    check_verify(q + 1, MIN_HEAD(keep - sizeof(*q)), tag) >= 0)
		SOAK_FAIL("realloc(%zu -> %zu) lost the contents", old, n);
	atomic_fetch_sub_explicit(&w->held, (long)old_touched,
	    memory_order_relaxed);
	/* A move copies the kept bytes (huge to huge is remapped instead). */
	block_fill(w, q, n, tag + 1, old >= 32 * MiB && n >= 32 * MiB ? 0 : keep);
	*s = q;
}

static void soak_op(struct worker_s *w)
{
	struct hdr_s **s = &w->slot[check_rand(&w->rng) % SLOTS];
	uint64_t pick = check_rand(&w->rng) % 16;
	if (*s == NULL) {
		size_t n = soak_size(&w->rng), align;
		int zeroed;
		struct hdr_s *h = soak_alloc(&w->rng, n, &align, &zeroed);
		if (h == NULL || ((uintptr_t)h & (align - 1)) != 0) {
			SOAK_FAIL("allocation of %zu bytes (alignment %zu) = %p",
			    n, align, (void *)h);
			return;
		}
		block_fill(w, h, n, ((uint64_t)w->id << 56) ^ (uint64_t)w->ops,
		    zeroed ? n : 0);
		*s = h;
	} else if (pick < 2) {
		soak_realloc(w, s);
	} else if (pick < 4) {
		if (malloc_usable_size(*s) < (*s)->n)
			SOAK_FAIL("malloc_usable_size(%p) = %zu < %zu", (void *)*s,
			    malloc_usable_size(*s), (*s)->n);
	} else if (pick < 7) {
		soak_hand(w, *s);
		*s = NULL;
	} else {
		block_free(w, *s, "freed");
		*s = NULL;
	}
}

static void *soak_thread(void *v)
{
	struct worker_s *w = v;
	while (!atomic_load_explicit(&soak_stop, memory_order_relaxed)) {
		for (int i = 0; i < 256; i++, w->ops++)
			soak_op(w);
		soak_drain(w);
	}
	for (int i = 0; i < SLOTS; i++) {
		if (w->slot[i] != NULL)
			block_free(w, w->slot[i], "at the end");
		w->slot[i] = NULL;
	}
	return NULL;
}

static long held_total(void)
{
	long t = 0;
	for (int i = 0; i < NTHREADS; i++)
		t += atomic_load_explicit(&workers[i].held, memory_order_relaxed);
	return t;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Sample VmRSS against the bytes held until the deadline. Returns the worst
 * excess over the bound; half[0] / half[1]: the highest VmRSS in the first
 * and second half of the run. */
static long soak_watch(double seconds, long *max_held, long half[2])
{
	long worst = LONG_MIN;
	double start = now_s(), end = start + seconds, t;
	struct timespec pause = { 0, 100 * 1000 * 1000 };
	while ((t = now_s()) < end) {
		nanosleep(&pause, NULL);  /* a sampling period, not a wait */
		long rss = rel_status_kib("VmRSS:"), held = held_total() / 1024;
		long excess = rss - (2 * held + 128 * 1024);
		int h = t - start >= seconds / 2;
		if (rss > half[h])
			half[h] = rss;
		if (held > *max_held)
			*max_held = held;
		if (excess > worst)
			worst = excess;
	}
	return worst;
}

static int verdict(const char *name, int ok)
{
	printf("%s %s\n", ok ? "PASS" : "FAIL", name);
	return ok ? 0 : 1;
}

int main(void)
{
	const char *e = getenv("BM_SOAK_SECONDS");
	double seconds = e != NULL ? strtod(e, NULL) : 20;
	pthread_t t[NTHREADS];
	long rss0, half[2] = { 0, 0 }, max_held = 0, worst, ops = 0, handed = 0;
	int failed = 0;
	setvbuf(stdout, NULL, _IOLBF, 0);
	rss0 = rel_status_kib("VmRSS:");
	for (int i = 0; i < NTHREADS; i++) {
		workers[i].id = i;
		workers[i].rng = check_seed() + (uint64_t)i * 0x9e3779b97f4a7c15ULL;
		if (pthread_create(&t[i], NULL, soak_thread, &workers[i]) != 0)
			return verdict("soak_start", 0), 1;
	}
	worst = soak_watch(seconds, &max_held, half);
	atomic_store(&soak_stop, 1);
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < NTHREADS; i++) {
		soak_drain(&workers[i]);
		ops += workers[i].ops;
		handed += workers[i].handed;
	}
	malloc_trim(0);
	long rss_end = rel_status_kib("VmRSS:");
	printf("  # soak %.0f s: %ld ops, %ld handed between threads; held at most "
	    "%ld KiB; VmRSS at most %ld KiB in the first half, %ld in the second "
	    "(start %ld, after trim %ld)\n", seconds, ops, handed, max_held,
	    half[0], half[1], rss0, rss_end);
	failed += verdict("soak_content", atomic_load(&soak_bad) == 0 && ops > 0);
	if (worst > 0)
		printf("  # VmRSS exceeded 2 x held + 128 MiB by %ld KiB\n", worst);
	if (check_expect_preload()) {
		failed += verdict("soak_rss", worst <= 0);
		/* Steady: no growth from one half to the other (a leak would). */
		failed += verdict("soak_rss_steady", half[1] <= half[0] +
		    half[0] / 2 + 32 * 1024);
		failed += verdict("soak_trim", rss_end >= 0 &&
		    rss_end <= rss0 + 64 * 1024);
	} else {
		printf("N/A soak_rss, soak_rss_steady, soak_trim: the bounds are "
		    "basemalloc's (glibc's arenas keep more)\n");
	}
	if (check_expect_preload()) {
		long n = rel_narenas();
		printf("  # arenas %ld\n", n);
		failed += verdict("soak_arenas", n >= 1 && n <= NTHREADS + 1);
	}
	return failed != 0;
}
