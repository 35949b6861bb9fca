/*
 * test_slab: one slab over a mapped run, without an arena. Blocks are
 * carved a page at a time, are distinct, inside the run and on block
 * boundaries (slab_block_valid refuses interior and outside pointers);
 * `used` counts the blocks out; a freed block carries the slab's key and is
 * found on the free lists, an allocated one has it cleared; remote frees
 * pushed by several threads at once are all collected; a full slab asks to
 * be queued exactly once.
 */
#include "check.h"
#include "os.h"
#include "slab.h"

#include <pthread.h>

#define RUN ((size_t)64 << 10)

static slab_t the_slab;

/* A slab of blocks of bs bytes over a fresh 64 KiB run. */
static slab_t *slab_new(size_t bs) {
	void *run = os_map(RUN);
	if (run == NULL)
		return NULL;
	memset(&the_slab, 0, sizeof(the_slab));
	the_slab.ext.addr = (uintptr_t)run;
	the_slab.ext.size = RUN;
	the_slab.ext.kind = EXTENT_SLAB;
	slab_init(&the_slab, 3, bs);
	return &the_slab;
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

/* slab: carving, block validity and `used` */
static int test_carve(void) {
	static void *blocks[RUN / 16];
	size_t sizes[] = { 16, 48, 80, 1024, 1280, 4096, 16384 };
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		size_t bs = sizes[k];
		slab_t *s = slab_new(bs);
		CHECK(s != NULL);
		CHECK(s->nblocks == RUN / bs && s->used == 0 && s->bump == 0);
		CHECK(slab_alloc(s) == NULL, "a fresh slab has a free block");
		CHECK(slab_extend(s) == 0 && s->bump > 0 && s->bump <= s->nblocks);
		uint32_t n;
		CHECK_DO(take_all(s, blocks, &n));
		CHECK(n == s->nblocks && s->used == n && s->bump == n,
		    "bs %zu: %u blocks, used %u, bump %u of %u", bs, n, s->used,
		    s->bump, s->nblocks);
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

/* slab: a freed block carries the key and is found on the lists */
static int test_free_key(void) {
	static void *blocks[RUN / 64];
	slab_t *s = slab_new(64);
	uint32_t n;
	CHECK(s != NULL && slab_key(s) != 0 && (slab_key(s) & 1) == 1);
	CHECK_DO(take_all(s, blocks, &n));
	slab_free_local(s, blocks[5]);
	CHECK(((uintptr_t *)blocks[5])[1] == slab_key(s));
	CHECK(slab_has_free_block(s, blocks[5]));
	CHECK(!slab_has_free_block(s, blocks[6]));
	CHECK(s->used == n - 1);
	CHECK(slab_alloc(s) == blocks[5] && ((void **)blocks[5])[1] == NULL);
	CHECK(s->used == n);
	slab_t other = *s;
	other.block_size = 128;
	CHECK(slab_key(&other) != slab_key(s), "the key ignores the block size");
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
	slab_t *s = slab_new(16);
	CHECK(s != NULL);
	CHECK_DO(take_all(s, freer_blocks, &freer_n));
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
	CHECK(slab_collect(s) == freer_n && s->used == 0);
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
	CHECK_ENTRY(test_free_key),
	CHECK_ENTRY(test_remote),
};

int main(int argc, char **argv) {
	os_boot();
	slab_boot();
	return check_main(checks, sizeof(checks) / sizeof(checks[0]), argc,
	    argv);
}
