/*
 * test_secret: the kernel's random bytes (os_random), SipHash-2-4 against
 * the reference vectors of its paper, and the process secret: secret_mix
 * is a function of its inputs, and a new secret gives other values.
 */
#include "check.h"
#include "os.h"
#include "secret.h"

/* os: random bytes from the kernel, errno kept */
static int test_random(void) {
	uint64_t a[4] = { 0 }, b[4] = { 0 };
	errno = 1234;
	CHECK(os_random(a, sizeof(a)) == 0);
	CHECK(errno == 1234, "errno %d", errno);
	CHECK(os_random(b, sizeof(b)) == 0);
	CHECK(memcmp(a, b, sizeof(a)) != 0, "two reads gave the same bytes");
	CHECK((a[0] | a[1] | a[2] | a[3]) != 0);
	return CHECK_OK;
}

/* secret: SipHash-2-4 gives the paper's outputs */
static int test_siphash_vectors(void) {
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
	return CHECK_OK;
}

/* secret: secret_mix depends on both inputs and on the secret */
static int test_mix(void) {
	secret_boot();
	uint64_t x = secret_mix(1, 2);
	CHECK(secret_mix(1, 2) == x);
	CHECK(secret_mix(2, 1) != x);
	CHECK(secret_mix(1, 3) != x);
	CHECK(secret_mix(0, 0) != 0);
	secret_boot();
	CHECK(secret_mix(1, 2) != x, "a new secret mixes the same");
	return CHECK_OK;
}

/* secret: the generator covers its range */
static int test_rng(void) {
	secret_boot();
	uint64_t st = secret_mix(7, 7), seen = 0;
	unsigned buckets[16] = { 0 };
	for (int i = 0; i < 16000; i++) {
		uint64_t r = secret_rng_next(&st);
		seen |= r;
		buckets[r % 16]++;
	}
	CHECK(seen == UINT64_MAX);
	for (int i = 0; i < 16; i++)
		CHECK(buckets[i] > 800 && buckets[i] < 1200, "bucket %d: %u", i,
		    buckets[i]);
	return CHECK_OK;
}

static const struct check_s checks[] = {
	CHECK_ENTRY(test_random),
	CHECK_ENTRY(test_siphash_vectors),
	CHECK_ENTRY(test_mix),
	CHECK_ENTRY(test_rng),
};

int main(int argc, char **argv) {
	return check_main(checks, sizeof(checks) / sizeof(checks[0]), argc,
	    argv);
}
