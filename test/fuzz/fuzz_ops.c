/*
 * fuzz_ops.c: libFuzzer target over basemalloc's API. The src modules are
 * compiled into the fuzzer (the fuzzer itself keeps libc's malloc; the bm_*
 * calls are a separate heap). The input is a sequence of operations on 64
 * slots: malloc, calloc, realloc, memalign / aligned_alloc / posix_memalign,
 * free, free on another thread, allocation on another thread, usable_size,
 * rewrite, trim. A model records each live block's requested size,
 * alignment and fill byte; every operation checks against it: contents kept
 * (before free and across realloc), calloc zeroed, alignment honoured,
 * usable size >= requested, and no two live blocks overlap. A violation
 * aborts (libFuzzer saves the input).
 */
#define FUZZ_NAME "fuzz_ops"
#include "fuzz.h"
#include "../../include/basemalloc.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { SLOTS = 64, MAX_HUGE = 2 };

struct slot_s {
	unsigned char *p;
	size_t n, usable, align;
	unsigned char fill;
	int huge;
};

static struct slot_s slots[SLOTS];
static int live_huge;

/* The input, consumed byte by byte (zeros past the end). */
struct input_s {
	const uint8_t *d;
	size_t n, i;
};

static unsigned in_byte(struct input_s *in)
{
	return in->i < in->n ? in->d[in->i++] : 0;
}

static size_t in_size(struct input_s *in, int *huge)
{
	unsigned k = in_byte(in), a = in_byte(in), b = in_byte(in);
	size_t v = (size_t)a | (size_t)b << 8;
	*huge = 0;
	switch (k % 16) {
	case 0: return 0;
	case 1: case 2: case 3: case 4: case 5: case 6: return v % 512;
	case 7: case 8: case 9: return v % 16384 + 1;
	case 10: case 11: return (v << 4) % (1 << 20);
	case 12: {  /* around a power of two */
		size_t n = ((size_t)1 << (v % 21)) + (v >> 5) % 64;
		return n >= 32 ? n - 32 : n;
	}
	case 13: return (size_t)a * 4096 + b;  /* page multiples and near */
	case 14:
		if (live_huge < MAX_HUGE && a % 8 == 0) {
			*huge = 1;
			return ((size_t)32 << 20) + v * 16;
		}
		return v;
	default: return v % 64;
	}
}

/* Bytes checked / written: all of small blocks, head and tail of big ones. */
#define EDGE 4096

static void fill(unsigned char *p, size_t n, unsigned char b)
{
	if (n <= 2 * EDGE) {
		memset(p, b, n);
		return;
	}
	memset(p, b, EDGE);
	memset(p + n - EDGE, b, EDGE);
}

/* n bytes at p are all b: the first is b and each equals the next. */
static int all_equal(const unsigned char *p, size_t n, unsigned char b)
{
	return n == 0 || (p[0] == b && memcmp(p, p + 1, n - 1) == 0);
}

static int holds(const unsigned char *p, size_t n, unsigned char b)
{
	if (n <= 2 * EDGE)
		return all_equal(p, n, b);
	return all_equal(p, EDGE, b) && all_equal(p + n - EDGE, EDGE, b);
}

static void check_block(const struct slot_s *s, const char *when)
{
	FUZZ_ASSERT(holds(s->p, s->n, s->fill), "%s: block %p (%zu bytes) changed",
	    when, (void *)s->p, s->n);
}

/* A new block p of n bytes (aligned to align) fits in the model. */
static void admit(struct slot_s *s, void *p, size_t n, size_t align, int huge,
    unsigned char fill_byte)
{
	uintptr_t a = (uintptr_t)p;
	size_t usable = bm_malloc_usable_size(p);
	FUZZ_ASSERT(a % align == 0 && a % 16 == 0, "%p not aligned to %zu", p, align);
	FUZZ_ASSERT(usable >= n, "usable %zu < requested %zu", usable, n);
	for (int i = 0; i < SLOTS; i++) {
		const struct slot_s *o = &slots[i];
		if (o == s || o->p == NULL)
			continue;
		uintptr_t b = (uintptr_t)o->p;
		FUZZ_ASSERT(a + usable <= b || b + o->usable <= a,
		    "[%p, +%zu) overlaps live [%p, +%zu)", p, usable,
		    (void *)o->p, o->usable);
	}
	s->p = p;
	s->n = n;
	s->usable = usable;
	s->align = align;
	s->huge = huge;
	s->fill = fill_byte;
	live_huge += huge;
	fill(s->p, n, fill_byte);
}

static void release(struct slot_s *s)
{
	live_huge -= s->huge;
	s->p = NULL;
	s->huge = 0;
}

/* The other thread: frees or allocates what it is handed, synchronously. */
static pthread_mutex_t peer_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t peer_cv = PTHREAD_COND_INITIALIZER;
static void *peer_ptr;
static size_t peer_size;
static int peer_cmd;  /* 0 idle, 1 free peer_ptr, 2 malloc peer_size */

static void *peer_main(void *unused)
{
	(void)unused;
	pthread_mutex_lock(&peer_mu);
	for (;;) {
		while (peer_cmd == 0)
			pthread_cond_wait(&peer_cv, &peer_mu);
		if (peer_cmd == 1)
			bm_free(peer_ptr);
		else
			peer_ptr = bm_malloc(peer_size);
		peer_cmd = 0;
		pthread_cond_broadcast(&peer_cv);
	}
	return NULL;
}

static void *peer_do(int cmd, void *p, size_t n)
{
	static pthread_t peer;
	static int started;
	if (!started) {
		FUZZ_ASSERT(pthread_create(&peer, NULL, peer_main, NULL) == 0, "peer");
		started = 1;
	}
	pthread_mutex_lock(&peer_mu);
	peer_ptr = p;
	peer_size = n;
	peer_cmd = cmd;
	pthread_cond_broadcast(&peer_cv);
	while (peer_cmd != 0)
		pthread_cond_wait(&peer_cv, &peer_mu);
	p = peer_ptr;
	pthread_mutex_unlock(&peer_mu);
	return p;
}

static void op_alloc(struct input_s *in, struct slot_s *s, unsigned how)
{
	int huge;
	size_t n = in_size(in, &huge), align = 16;
	unsigned char b = (unsigned char)in_byte(in);
	void *p = NULL;
	switch (how) {
	case 0: p = bm_malloc(n); break;
	case 1: {
		size_t k = 1 + in_byte(in) % 8;
		p = bm_calloc(k, n / k);
		n = n / k * k;
		if (p != NULL)
			FUZZ_ASSERT(holds(p, n, 0), "calloc(%zu, %zu) not zeroed",
			    k, n / k);
		break;
	}
	case 2:
		align = (size_t)1 << (in_byte(in) % 22);
		p = bm_memalign(align, n);
		align = align < 16 ? 16 : align;
		break;
	case 3:
		align = (size_t)8 << (in_byte(in) % 14);
		FUZZ_ASSERT(bm_posix_memalign((void **)&p, align, n) == 0,
		    "posix_memalign(%zu, %zu)", align, n);
		align = align < 16 ? 16 : align;
		break;
	case 4:
		align = (size_t)16 << (in_byte(in) % 10);
		p = bm_aligned_alloc(align, n);
		break;
	default:
		p = peer_do(2, NULL, n);
		break;
	}
	FUZZ_ASSERT(p != NULL, "allocation %u of %zu bytes failed", how, n);
	admit(s, p, n, align, huge, b);
}

static void op_realloc(struct input_s *in, struct slot_s *s)
{
	int huge;
	size_t n = in_size(in, &huge);
	unsigned char b = (unsigned char)in_byte(in);
	check_block(s, "before realloc");
	if (n == 0)
		n = 1;  /* realloc(p, 0) frees: that is op_free's job */
	size_t old_n = s->n, keep = n < old_n ? n : old_n;
	unsigned char old = s->fill;
	void *q = bm_realloc(s->p, n);
	FUZZ_ASSERT(q != NULL, "realloc to %zu failed", n);
	/* What fill wrote and the new size keeps: all of a small block; the
	 * head of a big one, and its tail when it grew. */
	size_t head = old_n <= 2 * EDGE ? keep : (keep < EDGE ? keep : EDGE);
	FUZZ_ASSERT(holds(q, head, old), "realloc(%zu -> %zu) lost the head",
	    old_n, n);
	if (old_n > 2 * EDGE && keep == old_n)
		FUZZ_ASSERT(holds((unsigned char *)q + old_n - EDGE, EDGE, old),
		    "realloc(%zu -> %zu) lost the tail", old_n, n);
	release(s);
	admit(s, q, n, 16, huge, b);
}

static void op_free(struct slot_s *s, int remote)
{
	check_block(s, "before free");
	if (remote)
		peer_do(1, s->p, 0);
	else
		bm_free(s->p);
	release(s);
}

static void one_op(struct input_s *in)
{
	unsigned op = in_byte(in), k = in_byte(in) % SLOTS;
	struct slot_s *s = &slots[k];
	if (s->p == NULL) {
		op_alloc(in, s, op % 6);
		return;
	}
	switch (op % 8) {
	case 0: case 1: op_realloc(in, s); break;
	case 2: case 3: op_free(s, 0); break;
	case 4: op_free(s, 1); break;
	case 5:
		FUZZ_ASSERT(bm_malloc_usable_size(s->p) == s->usable,
		    "usable size of %p changed", (void *)s->p);
		break;
	case 6:
		check_block(s, "on rewrite");
		s->fill = (unsigned char)in_byte(in);
		fill(s->p, s->n, s->fill);
		break;
	default:
		if (in_byte(in) % 16 == 0)
			bm_malloc_trim(0);
		check_block(s, "after trim");
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input_s in = { data, size, 0 };
	while (in.i < in.n)
		one_op(&in);
	for (int i = 0; i < SLOTS; i++) {
		if (slots[i].p != NULL)
			op_free(&slots[i], 0);
	}
	return 0;
}
