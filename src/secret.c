/*
 * secret: the 128-bit process secret and SipHash-2-4 over it (written from
 * the algorithm's description in Aumasson and Bernstein's paper: four
 * 64-bit state words, two compression rounds per message word, four
 * finalisation rounds). No locks: the secret is set once at bootstrap.
 */
#include "secret.h"
#include "log.h"
#include "os.h"

#include <string.h>

static uint64_t secret_k0, secret_k1;

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

typedef struct {
	uint64_t v0, v1, v2, v3;
} sip_state_t;

static void sip_round(sip_state_t *s) {
	s->v0 += s->v1;
	s->v1 = ROTL(s->v1, 13);
	s->v1 ^= s->v0;
	s->v0 = ROTL(s->v0, 32);
	s->v2 += s->v3;
	s->v3 = ROTL(s->v3, 16);
	s->v3 ^= s->v2;
	s->v0 += s->v3;
	s->v3 = ROTL(s->v3, 21);
	s->v3 ^= s->v0;
	s->v2 += s->v1;
	s->v1 = ROTL(s->v1, 17);
	s->v1 ^= s->v2;
	s->v2 = ROTL(s->v2, 32);
}

static void sip_absorb(sip_state_t *s, uint64_t m) {
	s->v3 ^= m;
	sip_round(s);
	sip_round(s);
	s->v0 ^= m;
}

uint64_t secret_siphash(uint64_t k0, uint64_t k1, const void *msg,
    size_t len) {
	sip_state_t s = {
		k0 ^ 0x736f6d6570736575ull, k1 ^ 0x646f72616e646f6dull,
		k0 ^ 0x6c7967656e657261ull, k1 ^ 0x7465646279746573ull,
	};
	const unsigned char *in = msg;
	size_t whole = len & ~(size_t)7;
	for (size_t i = 0; i < whole; i += 8) {
		uint64_t m;
		memcpy(&m, in + i, 8);
		sip_absorb(&s, m);
	}
	uint64_t last = (uint64_t)(len & 0xff) << 56;
	for (size_t i = whole; i < len; i++)
		last |= (uint64_t)in[i] << (8 * (i - whole));
	sip_absorb(&s, last);
	s.v2 ^= 0xff;
	for (int r = 0; r < 4; r++)
		sip_round(&s);
	return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}

uint64_t secret_mix(uint64_t a, uint64_t b) {
	uint64_t m[2] = { a, b };
	return secret_siphash(secret_k0, secret_k1, m, sizeof(m));
}

void secret_boot(void) {
	uint64_t k[2];
	if (os_random(k, sizeof(k)) != 0) {
		log_warn("no random bytes from the kernel: free-list keys are "
		    "derived from the clock and addresses");
		uint64_t local = 0;
		k[0] = os_now_ns() ^ (uintptr_t)&local;
		k[1] = secret_siphash(k[0], (uintptr_t)&secret_boot, &k[0],
		    sizeof(k[0]));
	}
	secret_k0 = k[0];
	secret_k1 = k[1];
}
