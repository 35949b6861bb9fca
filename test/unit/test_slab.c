/*
 * test_slab: one slab over a mapped run, without an arena. Blocks are
 * carved a page at a time, are distinct, inside the run and on block
 * boundaries; the block test (carved, on a block boundary) is exact for
 * every small class and offset; `used` counts the blocks out; every block
 * on a list carries the slab's key (a fresh one per slab) and an encoded
 * link (never a plain pointer), an allocated one has the key cleared;
 * remote frees pushed by several threads at once are all collected; a full
 * slab asks to be queued exactly once; a corrupted link is reported and
 * dropped, never followed or written through.
 */
#include "check.h"
#include "conf.h"
#include "os.h"
#include "secret.h"
#include "slab.h"
#include "sz.h"

#include <pthread.h>

#define RUN ((size_t)64 << 10)
#define BIG_RUN ((size_t)256 << 10)

static slab_t the_slab;

/* A slab of blocks of bs bytes over a fresh run of size bytes. */
static slab_t *slab_over(slab_t *s, size_t bs, size_t size) {
	void *run = os_map(size);
	if (run == NULL)
		return NULL;
	memset(s, 0, sizeof(*s));
	s->ext.addr = (uintptr_t)run;
	s->ext.size = size;
	s->ext.kind = EXTENT_SLAB;
	slab_init(s, 3, bs);
	return s;
}

static slab_t *slab_new(size_t bs) {
	return slab_over(&the_slab, bs, RUN);
}

static uint32_t carved_blocks(const slab_t *s) {
	return atomic_load(&s->carved) / s->block_size;
}

/* Every block of s, allocated; returns how many (and checks each). */
static int take_all(slab_t *s, void **out, uint32_t *n) {
	*n = 0;
	for (;;) {
		void *p = slab_alloc(s);
		if (p == NULL && slab_extend(s) != 0)
			break;
		if (p == NULL)
			continue;
		CHECK(slab_block_valid(s, p), "%p is not a block start", p);
		CHECK(((void **)p)[1] == NULL, "an allocated block keeps the key");
		out[(*n)++] = p;
	}
	return CHECK_OK;
}

/* A slab of bs-byte blocks in *out, all of them taken into blocks (*n). */
static int slab_taken(size_t bs, void **blocks, uint32_t *n, slab_t **out) {
	*out = slab_new(bs);
	CHECK(*out != NULL);
	return take_all(*out, blocks, n);
}

/* slab: carving, block validity and `used` */
static int test_carve(void) {
	static void *blocks[RUN / 16];
	size_t sizes[] = { 16, 48, 80, 1024, 1280, 4096, 16384 };
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		size_t bs = sizes[k];
		slab_t *s = slab_new(bs);
		CHECK(s != NULL);
		CHECK(s->nblocks == RUN / bs && slab_used(s) == 0 &&
		    carved_blocks(s) == 0);
		CHECK(slab_alloc(s) == NULL, "a fresh slab has a free block");
		CHECK(slab_extend(s) == 0 && carved_blocks(s) > 0 &&
		    carved_blocks(s) <= s->nblocks);
		uint32_t n;
		CHECK_DO(take_all(s, blocks, &n));
		CHECK(n == s->nblocks && slab_used(s) == n && carved_blocks(s) == n,
		    "bs %zu: %u blocks, used %u, carved %u of %u", bs, n, slab_used(s),
		    carved_blocks(s), s->nblocks);
		size_t out = 0, order = 0;
		for (uint32_t i = 0; i < n; i++) {
			uintptr_t off = (uintptr_t)blocks[i] - s->ext.addr;
			out += off + bs > RUN;
			order += i > 0 && blocks[i] <= blocks[i - 1];
		}
		CHECK(out == 0 && order == 0, "bs %zu: %zu outside, %zu out of "
		    "order (or repeated)", bs, out, order);
		CHECK(!slab_block_valid(s, (char *)blocks[0] + 8));
		CHECK(!slab_block_valid(s, (char *)s->ext.addr + RUN));
		CHECK(!slab_block_valid(s, (char *)s->ext.addr - bs));
		CHECK(slab_extend(s) == ENOMEM);
		os_unmap((void *)s->ext.addr, RUN);
	}
	return CHECK_OK;
}

/* slab: the block test is exact: a carved offset on a block boundary, for
 * every small class and every offset of a 256 KiB run (and beyond it) */
static int test_block_valid(void) {
	for (unsigned ind = 0; ind < SZ_NSMALL; ind++) {
		slab_t s;
		size_t bs = sz_index2size(ind);
		CHECK(slab_over(&s, bs, BIG_RUN) != NULL);
		while (slab_extend(&s) == 0)
			;
		uint32_t carved = atomic_load(&s.carved);
		CHECK(carved == (BIG_RUN / bs) * bs, "class %zu carved %u", bs,
		    carved);
		unsigned char *base = (unsigned char *)s.ext.addr;
		size_t bad = 0;
		for (size_t off = 0; off < BIG_RUN + 2 * bs; off++) {
			bool want = off % bs == 0 && off < carved;
			bad += slab_block_valid(&s, base + off) != want;
		}
		bad += slab_block_valid(&s, base - bs);
		bad += slab_block_valid(&s, NULL);
		bad += slab_block_valid(&s, (void *)UINTPTR_MAX);
		CHECK(bad == 0, "class %zu: %zu offsets misjudged", bs, bad);
		os_unmap(base, BIG_RUN);
	}
	return CHECK_OK;
}

/* slab: a block not yet carved is no block, even on a boundary */
static int test_never_carved(void) {
	slab_t *s = slab_new(64);
	CHECK(s != NULL && slab_extend(s) == 0);
	CHECK(atomic_load(&s->carved) == PAGE);
	CHECK(slab_block_valid(s, (char *)s->ext.addr + PAGE - 64));
	CHECK(!slab_block_valid(s, (char *)s->ext.addr + PAGE),
	    "a block past the carved bound passes");
	os_unmap((void *)s->ext.addr, RUN);
	return CHECK_OK;
}

/* slab: free blocks hold the key and an encoded link, not a pointer */
static int test_links(void) {
	slab_t *s = slab_new(64);
	CHECK(s != NULL && (slab_key(s) & 1) == 1);
	CHECK(slab_extend(s) == 0);
	unsigned n = 0, plain = 0, keyless = 0;
	for (void *b = s->free; b != NULL; b = slab_next(s, b)) {
		uintptr_t w0 = ((uintptr_t *)b)[0];
		plain += w0 - s->ext.addr < s->ext.size;
		keyless += ((uintptr_t *)b)[1] != slab_key(s);
		n++;
	}
	CHECK(n == PAGE / 64, "%u blocks on the list", n);
	CHECK(plain == 0, "%u links stored as pointers into the slab", plain);
	CHECK(keyless == 0, "%u carved blocks without the key", keyless);
	slab_t other;
	CHECK(slab_over(&other, 64, RUN) != NULL);
	CHECK(slab_key(&other) != slab_key(s) && other.link_key != s->link_key);
	CHECK(s->link_key != slab_key(s));
	uintptr_t old_key = slab_key(&other);
	slab_init(&other, 3, 64);
	CHECK(slab_key(&other) != old_key, "a slab set up again keeps its key");
	os_unmap((void *)other.ext.addr, RUN);
	os_unmap((void *)s->ext.addr, RUN);
	return CHECK_OK;
}

/* slab: a freed block carries the key and is found on the lists */
static int test_free_key(void) {
	static void *blocks[RUN / 64];
	slab_t *s;
	uint32_t n;
	CHECK_DO(slab_taken(64, blocks, &n, &s));
	CHECK(slab_key(s) != 0 && (slab_key(s) & 1) == 1);
	slab_free_local(s, blocks[5]);
	CHECK(((uintptr_t *)blocks[5])[1] == slab_key(s));
	CHECK(slab_has_free_block(s, blocks[5]));
	CHECK(!slab_has_free_block(s, blocks[6]));
	CHECK(slab_used(s) == n - 1);
	CHECK(slab_alloc(s) == blocks[5] && ((void **)blocks[5])[1] == NULL);
	CHECK(slab_used(s) == n);
	os_unmap((void *)s->ext.addr, RUN);
	return CHECK_OK;
}

/* slab: a link overwritten after free is reported and not followed */
static int test_corrupt(void) {
	static void *blocks[RUN / 64];
	slab_t *s;
	uint32_t n;
	CHECK_DO(slab_taken(64, blocks, &n, &s));
	slab_free_local(s, blocks[9]);
	slab_free_local(s, blocks[3]);
	((void **)blocks[3])[0] = blocks[20];  /* a plain pointer, as a UAF
	                                        * write would plant it */
	opt_abort_on_invalid = false;
	void *p = slab_alloc(s);
	opt_abort_on_invalid = true;
	CHECK(p == blocks[3], "the head was not handed out");
	CHECK(s->free == NULL, "the list after the bad link was followed");
	os_unmap((void *)s->ext.addr, RUN);
	return CHECK_OK;
}

/* slab: a remote list whose last link is off a block boundary is cut
 * before collection writes through it */
static int test_corrupt_tail(void) {
	static void *blocks[RUN / 64];
	slab_t *s;
	uint32_t n;
	CHECK_DO(slab_taken(64, blocks, &n, &s));
	char *a = blocks[2], *bad = (char *)blocks[7] + 8;
	CHECK(!slab_free_remote(s, a));
	/* A forged link (the attacker knows the link key) to the middle of a
	 * block, whose own link decodes to the end of the list. */
	*(uintptr_t *)a = slab_link(s, a, (uintptr_t)bad);
	uint64_t bad_word = slab_link(s, bad, 0), saved;
	memcpy(&saved, bad, 8);
	memcpy(bad, &bad_word, 8);
	opt_abort_on_invalid = false;
	uint32_t got = slab_collect(s);
	opt_abort_on_invalid = true;
	CHECK(got == 1 && s->free == (void *)a, "collected %u", got);
	CHECK(memcmp(bad, &bad_word, 8) == 0, "collection wrote through the "
	    "bad link");
	CHECK(slab_alloc(s) == a && s->free == NULL);
	memcpy(bad, &saved, 8);
	os_unmap((void *)s->ext.addr, RUN);
	return CHECK_OK;
}

#define NFREERS 4
static void *freer_blocks[RUN / 16];
static uint32_t freer_n;
static _Atomic unsigned queue_asks;

static void *freer(void *arg) {
	uintptr_t id = (uintptr_t)arg;
	for (uint32_t i = (uint32_t)id; i < freer_n; i += NFREERS)
		atomic_fetch_add(&queue_asks, slab_free_remote(&the_slab,
		    freer_blocks[i]));
	return NULL;
}

/* slab: remote frees from several threads are all collected */
static int test_remote(void) {
	slab_t *s;
	CHECK_DO(slab_taken(16, freer_blocks, &freer_n, &s));
	atomic_store_explicit(&s->full, 1, memory_order_seq_cst);
	pthread_t t[NFREERS];
	for (uintptr_t i = 0; i < NFREERS; i++)
		CHECK(pthread_create(&t[i], NULL, freer, (void *)i) == 0);
	for (int i = 0; i < NFREERS; i++)
		pthread_join(t[i], NULL);
	CHECK(atomic_load(&queue_asks) == 1, "a full slab asked to be queued "
	    "%u times", atomic_load(&queue_asks));
	size_t keyed = 0;
	for (uint32_t i = 0; i < freer_n; i++)
		keyed += ((uintptr_t *)freer_blocks[i])[1] == slab_key(s);
	CHECK(keyed == freer_n, "%zu of %u remote frees carry the key", keyed,
	    freer_n);
	CHECK(slab_has_free_block(s, freer_blocks[freer_n / 2]));
	CHECK(slab_collect(s) == freer_n && slab_used(s) == 0);
	CHECK(slab_collect(s) == 0);
	uint32_t again;
	static void *second[RUN / 16];
	CHECK_DO(take_all(s, second, &again));
	CHECK(again == freer_n, "%u of %u blocks came back", again, freer_n);
	os_unmap((void *)s->ext.addr, RUN);
	return CHECK_OK;
}

static const struct check_s checks[] = {
	CHECK_ENTRY(test_carve),
	CHECK_ENTRY(test_block_valid),
	CHECK_ENTRY(test_never_carved),
	CHECK_ENTRY(test_links),
	CHECK_ENTRY(test_free_key),
	CHECK_ENTRY(test_corrupt),
	CHECK_ENTRY(test_corrupt_tail),
	CHECK_ENTRY(test_remote),
};

int main(int argc, char **argv) {
	os_boot();
	sz_boot();
	secret_boot();
	return check_main(checks, sizeof(checks) / sizeof(checks[0]), argc,
	    argv);
}
