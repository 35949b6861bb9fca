/*
 * test_secret: the kernel's random bytes (os_random), SipHash-2-4 against
 * the reference vectors of its paper, and the process secret: secret_mix
 * is a function of its inputs, and a new secret gives other values.
 */
#include "test.h"
#include "os.h"
#include "secret.h"

#include <errno.h>

static void test_random(void) {
	test_begin("os: random bytes from the kernel, errno kept");
	uint64_t a[4] = { 0 }, b[4] = { 0 };
	errno = 1234;
	CHECK(os_random(a, sizeof(a)) == 0);
	CHECK(errno == 1234);
	CHECK(os_random(b, sizeof(b)) == 0);
	CHECK(memcmp(a, b, sizeof(a)) != 0);
	CHECK((a[0] | a[1] | a[2] | a[3]) != 0);
	test_end();
}

static void test_siphash_vectors(void) {
	test_begin("secret: SipHash-2-4 gives the paper's outputs");
	unsigned char key[16], msg[64];
	for (int i = 0; i < 16; i++)
		key[i] = (unsigned char)i;
	for (int i = 0; i < 64; i++)
		msg[i] = (unsigned char)i;
	uint64_t k0, k1;
	memcpy(&k0, key, 8);
	memcpy(&k1, key + 8, 8);
	/* The example of the paper's appendix: 15 bytes 00..0e. */
	CHECK(secret_siphash(k0, k1, msg, 15) == 0xa129ca6149be45e5ull);
	/* The reference implementation's first vector (empty message). */
	CHECK(secret_siphash(k0, k1, msg, 0) == 0x726fdb47dd0e0e31ull);
	test_end();
}

static void test_mix(void) {
	test_begin("secret: secret_mix depends on both inputs and the secret");
	secret_boot();
	uint64_t x = secret_mix(1, 2);
	CHECK(secret_mix(1, 2) == x);
	CHECK(secret_mix(2, 1) != x);
	CHECK(secret_mix(1, 3) != x);
	CHECK(secret_mix(0, 0) != 0);
	secret_boot();
	CHECK(secret_mix(1, 2) != x);
	test_end();
}

static void test_rng(void) {
	test_begin("secret: the generator covers its range");
	uint64_t st = secret_mix(7, 7), seen = 0;
	unsigned buckets[16] = { 0 };
	for (int i = 0; i < 16000; i++) {
		uint64_t r = secret_rng_next(&st);
		seen |= r;
		buckets[r % 16]++;
	}
	CHECK(seen == UINT64_MAX);
	for (int i = 0; i < 16; i++)
		CHECKF(buckets[i] > 800 && buckets[i] < 1200, "bucket %d: %u", i,
		    buckets[i]);
	test_end();
}

int main(void) {
	test_random();
	test_siphash_vectors();
	test_mix();
	test_rng();
	return test_finish();
}
