/*
 * test_slab: a slab over memory of its own (no arena): the block test
 * (carved, on a block boundary) for every small class and offset, carving,
 * the encoded links (no plain pointer in a free block, a fresh key per
 * slab), popping and pushing, and a corrupted link reported, not followed.
 */
#include "test.h"
#include "conf.h"
#include "os.h"
#include "secret.h"
#include "slab.h"
#include "sz.h"

#define SLAB_BYTES ((size_t)256 << 10)

static unsigned char *slab_mem;

static void slab_over(slab_t *s, unsigned ind, size_t size) {
	memset(s, 0, sizeof(*s));
	s->ext.addr = (uintptr_t)slab_mem;
	s->ext.size = size;
	s->ext.kind = EXTENT_SLAB;
	slab_init(s, ind, sz_index2size(ind));
}

static void test_block_valid(void) {
	test_begin("slab: a block is a carved offset on a block boundary");
	unsigned bad = 0;
	for (unsigned ind = 0; ind < SZ_NSMALL; ind++) {
		slab_t s;
		slab_over(&s, ind, SLAB_BYTES);
		size_t bs = sz_index2size(ind);
		while (slab_extend(&s) == 0)
			;
		uint32_t carved = atomic_load(&s.carved);
		CHECKF(carved == (SLAB_BYTES / bs) * bs, "class %zu carved %u",
		    bs, carved);
		for (size_t off = 0; off < SLAB_BYTES + 2 * bs; off++) {
			bool want = off % bs == 0 && off < carved;
			bad += slab_block_valid(&s, slab_mem + off) != want;
		}
		bad += slab_block_valid(&s, slab_mem - bs);
		bad += slab_block_valid(&s, NULL);
		bad += slab_block_valid(&s, (void *)UINTPTR_MAX);
	}
	CHECKF(bad == 0, "%u offsets misjudged", bad);
	test_end();
}

static void test_links(void) {
	test_begin("slab: carved blocks hold encoded links and the key");
	slab_t s;
	slab_over(&s, sz_size2index(64), 64 << 10);
	CHECK((s.key & 1) == 1);
	REQUIRE(slab_extend(&s) == 0);
	CHECK(atomic_load(&s.carved) == PAGE);
	unsigned n = 0, plain = 0;
	for (void *b = s.free; b != NULL; b = slab_next(&s, b)) {
		uintptr_t w0 = ((uintptr_t *)b)[0], w1 = ((uintptr_t *)b)[1];
		void *next = (void *)slab_link(&s, b, w0);
		plain += w0 == (uintptr_t)next || w0 - s.ext.addr < s.ext.size;
		CHECK(w1 == slab_key(&s));
		n++;
	}
	CHECK(n == PAGE / 64);
	CHECKF(plain == 0, "%u links stored as plain pointers", plain);
	slab_t t;
	slab_over(&t, sz_size2index(64), 64 << 10);
	CHECK(t.key != s.key && t.link_key != s.link_key);
	CHECK(s.key != s.link_key);
	test_end();
}

static void test_alloc_free(void) {
	test_begin("slab: pop and push keep the count and the key");
	slab_t s;
	slab_over(&s, sz_size2index(128), 64 << 10);
	void *got[64];
	for (int i = 0; i < 64; i++) {
		got[i] = slab_alloc(&s);
		if (got[i] == NULL) {
			REQUIRE(slab_extend(&s) == 0);
			got[i] = slab_alloc(&s);
		}
		REQUIRE(got[i] != NULL && slab_block_valid(&s, got[i]));
		CHECK(((uintptr_t *)got[i])[1] == 0);
	}
	CHECK(s.used == 64);
	for (int i = 0; i < 64; i += 2)
		slab_free_local(&s, got[i]);
	CHECK(s.used == 32);
	CHECK(slab_has_free_block(&s, got[10]) && !slab_has_free_block(&s, got[11]));
	CHECK(((uintptr_t *)got[10])[1] == slab_key(&s));
	CHECK(slab_free_remote(&s, got[11]) == false);
	CHECK(slab_has_free_block(&s, got[11]));
	CHECK(slab_collect(&s) == 1 && s.used == 31);
	test_end();
}

static void test_corrupt(void) {
	test_begin("slab: a corrupted link is reported and dropped");
	slab_t s;
	slab_over(&s, sz_size2index(64), 64 << 10);
	REQUIRE(slab_extend(&s) == 0);
	void **b = slab_alloc(&s);
	REQUIRE(b != NULL);
	slab_free_local(&s, b);
	b[0] = (void *)(slab_mem + 64);  /* a plain pointer, as a UAF writes */
	opt_abort_on_invalid = false;
	void *p = slab_alloc(&s);
	CHECK(p == b);
	CHECK(s.free == NULL);  /* the list after it is dropped */
	opt_abort_on_invalid = true;
	test_end();
}

int main(void) {
	sz_boot();
	secret_boot();
	slab_mem = os_map_aligned(SLAB_BYTES, PAGE);
	if (slab_mem == NULL)
		return 1;
	test_block_valid();
	test_links();
	test_alloc_free();
	test_corrupt();
	return test_finish();
}
