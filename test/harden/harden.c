/*
 * harden.c: one memory error per mode (argv[1]), for test/harden/run (which
 * holds basemalloc to what the README's Guarantees table says of each class,
 * in both builds) and bench/hardening (which runs the same modes under
 * other allocators and tabulates what each catches).
 * Protocol, on stdout: "ADDR 0x..." (the address a report must name) just
 * before the error; if the program lives on, it prints "CHECK", checks that
 * the heap still hands out distinct working blocks ("BROKEN ..." if not)
 * and prints "SURVIVED". Modes that probe
 * whether an error is made harmless then print "HARMLESS" or what was
 * wrong ("LEAK ...", "REUSED ...", "SAME ..."). "N/A why" when a mode cannot
 * run here (the call does not exist).
 */
#include "check.h"

#include <malloc.h>
#include <pthread.h>
#include <sys/auxv.h>

#define KiB ((size_t)1024)
#define MiB ((size_t)1024 * 1024)
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

/* Hide where a pointer comes from, so that the compiler neither warns
 * about nor optimises away the deliberate error. */
static void *launder(void *p)
{
	__asm__ volatile("" : "+r"(p));
	return p;
}

static void say_addr(const void *p)
{
	dprintf(1, "ADDR %p\n", p);
}

/* After the error the heap must still hand out distinct, usable blocks. */
static int survived(void)
{
	enum { N = 64 };
	static const size_t sizes[] = { 8, 64, 200, 2000, 100 * KiB };
	printf("CHECK\n");
	for (unsigned s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		unsigned char *ps[N];
		for (int i = 0; i < N; i++) {
			ps[i] = malloc(sizes[s]);
			if (ps[i] == NULL) {
				printf("BROKEN malloc(%zu) failed after the error\n", sizes[s]);
				return 1;
			}
			check_fill(ps[i], sizes[s], 900 + (uint64_t)i);
		}
		for (int i = 0; i < N; i++) {
			if (check_verify(ps[i], sizes[s], 900 + (uint64_t)i) >= 0) {
				printf("BROKEN blocks of %zu bytes overlap after the error\n", sizes[s]);
				return 1;
			}
			free(ps[i]);
		}
	}
	printf("SURVIVED\n");
	return 0;
}

/* Run fn(arg) on a thread of its own and wait for it. */
static void on_thread(void *(*fn)(void *), void *arg)
{
	pthread_t t;
	if (pthread_create(&t, NULL, fn, arg) != 0 || pthread_join(t, NULL) != 0) {
		printf("N/A no thread\n");
		exit(0);
	}
}

static void *free_it(void *p)
{
	free(p);
	return NULL;
}

/* Free the bad pointer p, on this thread or (remote) on another one. */
static int free_bad(char *p, int remote)
{
	say_addr(p);
	if (remote)
		on_thread(free_it, launder(p));
	else
		free(launder(p));
	return survived();
}

/* Free a block of size bytes twice (on another thread when remote: the
 * freer does not own the slab). */
static int double_free(size_t size, int remote)
{
	char *p = malloc(size);
	if (remote)
		on_thread(free_it, p);
	else
		free(p);
	return free_bad(p, remote);
}

static int mode_double_free_small(void)
{
	return double_free(64, 0);
}

static int mode_double_free_remote(void)
{
	return double_free(64, 1);
}

static int mode_double_free_large(void)
{
	return double_free(100 * KiB, 0);
}

static int mode_double_free_zero(void)
{
	return double_free(0, 0);
}

static int mode_realloc_after_free(void)
{
	char *p = malloc(64);
	free(p);
	say_addr(p);
	void *q = realloc(launder(p), 128);
	(void)q;
	return survived();
}

/* The block a page further into the slab of an 8-byte block: never handed
 * out (the example). */
static int mode_free_never_handed_out(void)
{
	return free_bad((char *)malloc(8) + 4096, 0);
}

static int mode_free_never_handed_out_remote(void)
{
	return free_bad((char *)malloc(8) + 4096, 1);
}

/* The other block of the page of a fresh 2 KiB block: carved with it but
 * not handed out. */
static char *other_half(void)
{
	return (char *)((uintptr_t)malloc(2000) ^ 2048);
}

static int mode_free_carved_free(void)
{
	return free_bad(other_half(), 0);
}

static int mode_free_carved_free_remote(void)
{
	return free_bad(other_half(), 1);
}

static int mode_free_before_block(void)
{
	return free_bad((char *)malloc(64) - 8, 0);
}

static int mode_free_inside_block(void)
{
	return free_bad((char *)malloc(64) + 8, 0);
}

static int mode_free_interior_large(void)
{
	return free_bad((char *)malloc(100 * KiB) + 8, 0);
}

static int mode_free_interior_huge(void)
{
	return free_bad((char *)malloc(40 * MiB) + MiB, 0);
}

typedef void (*free_sized_fn)(void *, size_t);

static int mode_free_sized_wrong(void)
{
	free_sized_fn fs = (free_sized_fn)dlsym(RTLD_DEFAULT, "free_sized");
	if (fs == NULL) {
		printf("N/A no free_sized\n");
		return 0;
	}
	char *p = malloc(100);
	say_addr(p);
	fs(launder(p), 1000);
	return survived();
}

/* A write after free into the first word of a freed block (where most
 * allocators keep their free-list link): the target address an attacker
 * would have the next malloc return. */
static char uaf_target[256];

static int mode_uaf_write_link(void)
{
	char *p = malloc(64);
	free(p);
	say_addr(p);
	void *t = launder(uaf_target + 64);
	memcpy(p, &t, sizeof(t));
	for (int i = 0; i < 2000; i++) {
		char *q = launder(malloc(64)), *r = launder(malloc(64));
		if (q == uaf_target + 64 || r == uaf_target + 64) {
			printf("HIJACKED malloc returned the planted address\n");
			return 1;
		}
		free(q);
		free(r);
	}
	return survived();
}

/* The same into a block freed by another thread (the remote list), which
 * its owner collects when its own list runs dry. */
static int mode_uaf_write_remote_link(void)
{
	enum { N = 8192 };
	static char *blocks[N];
	char *p = malloc(64);
	on_thread(free_it, p);
	say_addr(p);
	void *t = launder(uaf_target + 64);
	memcpy(p, &t, sizeof(t));
	for (int i = 0; i < N; i++) {
		blocks[i] = launder(malloc(64));
		if (blocks[i] == uaf_target + 64) {
			printf("HIJACKED malloc returned the planted address\n");
			return 1;
		}
	}
	for (int i = 0; i < N; i++)
		free(blocks[i]);
	return survived();
}

/* Free a block of size bytes, write 8 bytes at off in it, then use its
 * size class on. */
static int uaf_write_at(size_t size, size_t off)
{
	char *p = malloc(size);
	free(p);
	say_addr(p);
	memset(launder(p) + off, 'W', 8);
	for (int i = 0; i < 2000; i++)
		free(malloc(size));
	return survived();
}

/* A write after free into the data of a freed block (past the words an
 * allocator keeps there). */
static int mode_uaf_write_data(void) { return uaf_write_at(64, 32); }

/* A write after free deep inside a freed 1 KiB block (past the first 256
 * bytes, which the hardened build checks at reuse): the documented limit
 * of the check. */
static int mode_uaf_write_deep(void) { return uaf_write_at(1024, 600); }

/* calloc of a reused 1 KiB block reads as zero in full, even where a
 * write after free the check does not look at left bytes. */
static int mode_calloc_reused(void)
{
	char *p = malloc(1024);
	memset(p, 'A', 1024);
	free(p);
	say_addr(p);
	memset(launder(p) + 600, 'W', 8);
	for (int i = 0; i < 2000; i++) {
		unsigned char *q = calloc(1, 1024);
		for (size_t k = 0; q != NULL && k < 1024; k++) {
			if (q[k] != 0) {
				printf("BROKEN calloc byte %zu reads %d\n", k, q[k]);
				return 1;
			}
		}
		free(q);
	}
	if (survived() != 0)
		return 1;
	printf("HARMLESS\n");
	return 0;
}

/* One byte, then 32 bytes, past the end of a 24-byte block whose
 * neighbours are live, then free. */
static int mode_overflow(size_t over)
{
	enum { N = 64 };
	char *ps[N];
	for (int i = 0; i < N; i++)
		ps[i] = malloc(24);
	char *p = ps[N / 2];
	say_addr(p);
	if (over == 1)
		p[24] = (char)~p[24];
	else
		memset(launder(p) + 24, 'A', over);
	free(p);
	ps[N / 2] = NULL;
	for (int i = 0; i < N; i++)
		free(ps[i]);
	return survived();
}

/* A MiB past the end of a large block (a sequential overrun). */
static int mode_overflow_large_mib(void)
{
	char *p = malloc(256 * KiB);
	say_addr(p + 256 * KiB);
	memset(launder(p), 'A', 256 * KiB + MiB);
	printf("WROTE a MiB past the block\n");
	return 0;  /* the heap is wrecked: no survival check */
}

/* One byte past a large block that realloc grew, then shrank: the block's
 * guard page must follow it, wherever it ended up. */
static int mode_overflow_large_resized(void)
{
	char *p = realloc(realloc(malloc(100 * KiB), 200 * KiB), 50 * KiB);
	size_t n = malloc_usable_size(p);
	say_addr(p + n);
	((volatile char *)launder(p))[n] = 1;
	printf("WROTE a byte past the block\n");
	free(p);
	return 0;
}

static int mode_overflow_huge_mib(void)
{
	char *p = malloc(40 * MiB);
	say_addr(p + 40 * MiB);
	memset(launder(p), 'A', 41 * MiB);
	printf("WROTE a MiB past the block\n");
	return 0;
}

static int mode_zero_size_touch(void)
{
	char *p = malloc(0);
	say_addr(p);
	*(volatile char *)launder(p) = 1;
	free(p);
	return survived();
}

/* Is the block just freed the next one handed out? */
static int mode_reuse_next(void)
{
	int same = 0;
	for (int i = 0; i < 1000; i++) {
		void *p = malloc(64);
		free(p);
		void *q = malloc(64);
		same += q == p;
		free(q);
	}
	say_addr(NULL);
	if (survived() != 0)
		return 1;
	if (same == 0)
		printf("HARMLESS\n");
	else
		printf("REUSED %d of 1000 times\n", same);
	return 0;
}

/* glibc's secrets, which a heap must not let anyone compute. */
static uint64_t secret_words[4];

static void secrets_read(void)
{
	uint64_t guard, canary;
	__asm__("mov %%fs:0x30, %0" : "=r"(guard));
	__asm__("mov %%fs:0x28, %0" : "=r"(canary));
	secret_words[0] = guard;
	secret_words[1] = canary;
	const void *rnd = (const void *)getauxval(AT_RANDOM);
	if (rnd != NULL)
		memcpy(&secret_words[2], rnd, 16);
}

enum { LEAK_N = 256 };
static uintptr_t heap_lo = UINTPTR_MAX, heap_hi;

/* v is a value a reader of the block at b can guess: small, near b, or b
 * mixed with little. */
static int guessable(uint64_t v, uintptr_t b)
{
	const uint64_t near = 1 << 24;
	return v < near || v - b + near < 2 * near || (v ^ b) < near;
}

static int heapish(uint64_t v)
{
	return v + MiB >= heap_lo && v <= heap_hi + MiB;
}

/* What the word w at the block b gives away, or NULL. */
static const char *word_leak(uint64_t w, uintptr_t b)
{
	for (int k = 0; k < 4; k++) {
		uint64_t g = secret_words[k];
		if (g == 0)
			continue;
		if (guessable(w ^ g, b) || guessable((w ^ g) | 1, b) ||
		    guessable(w - g, b))
			return k < 2 ? (k == 0 ? "glibc's pointer guard" : "the stack canary")
			    : "the AT_RANDOM bytes";
	}
	if (heapish(w))
		return "a plain heap pointer";
	if (heapish(w ^ (b >> 12)))
		return "a heap pointer mixed with its own address only";
	Dl_info info;
	if (w != 0 && dladdr((void *)(uintptr_t)w, &info) != 0)
		return "a pointer into a loaded library";
	return NULL;
}

/* Report the first word of a block that gives something away. */
static int scan_block(const char *what, uintptr_t b, size_t words)
{
	for (size_t i = 0; i < words; i++) {
		uint64_t w;
		memcpy(&w, (const char *)b + 8 * i, 8);
		const char *leak = word_leak(w, b);
		if (leak != NULL) {
			printf("LEAK word %zu of a %s block (0x%llx) gives away %s\n", i, what,
			    (unsigned long long)w, leak);
			return 1;
		}
	}
	return 0;
}

/* Read freed blocks (and fresh ones, never written) of a few sizes: none
 * of their words may let one compute glibc's secrets or a heap address. */
static int mode_uaf_read_secret(void)
{
	static const size_t sizes[] = { 16, 64, 200, 2000 };
	static char *b[LEAK_N];
	secrets_read();
	say_addr(NULL);
	int leaks = 0;
	for (unsigned s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		size_t n = sizes[s];
		for (int i = 0; i < LEAK_N; i++) {
			b[i] = malloc(n);
			memset(b[i], 0, n);
			heap_lo = MIN((uintptr_t)b[i], heap_lo);
			heap_hi = MAX((uintptr_t)b[i] + n, heap_hi);
		}
		for (int i = 0; i < LEAK_N; i += 2)
			free(b[i]);
		on_thread(free_it, b[1]);
		for (int i = 0; i < LEAK_N && !leaks; i += 2)
			leaks += scan_block("freed", (uintptr_t)launder(b[i]), MIN(n, 32) / 8);
		leaks += !leaks && scan_block("remotely freed", (uintptr_t)launder(b[1]),
		    MIN(n, 32) / 8);
		for (int i = 0; i < LEAK_N && !leaks; i += 2) {
			b[i] = malloc(n);  /* fresh: never written by the program */
			leaks += scan_block("fresh", (uintptr_t)b[i], MIN(n, 32) / 8);
		}
	}
	if (survived() != 0)
		return 1;
	if (!leaks)
		printf("HARMLESS\n");
	return 0;
}

#define MODE(name) { #name, mode_##name }
static int mode_overflow_1(void) { return mode_overflow(1); }
static int mode_overflow_32(void) { return mode_overflow(32); }

static const struct {
	const char *name;
	int (*fn)(void);
} modes[] = {
	MODE(double_free_small), MODE(double_free_remote), MODE(double_free_large),
	MODE(double_free_zero), MODE(realloc_after_free), MODE(free_never_handed_out),
	MODE(free_never_handed_out_remote), MODE(free_carved_free),
	MODE(free_carved_free_remote), MODE(free_before_block), MODE(free_inside_block),
	MODE(free_interior_large), MODE(free_interior_huge), MODE(free_sized_wrong),
	MODE(uaf_write_link), MODE(uaf_write_remote_link), MODE(uaf_write_data),
	MODE(uaf_write_deep), MODE(calloc_reused),
	MODE(uaf_read_secret), MODE(overflow_1), MODE(overflow_32),
	MODE(overflow_large_mib), MODE(overflow_large_resized), MODE(overflow_huge_mib),
	MODE(zero_size_touch),
	MODE(reuse_next),
};

int main(int argc, char **argv)
{
	const char *m = argc > 1 ? argv[1] : "";
	setvbuf(stdout, NULL, _IONBF, 0);
	free(malloc(1));  /* the allocator is up before the error */
	for (unsigned i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		if (strcmp(m, "list") == 0)
			printf("%s\n", modes[i].name);
		else if (strcmp(m, modes[i].name) == 0)
			return modes[i].fn();
	}
	if (strcmp(m, "list") == 0)
		return 0;
	printf("unknown mode '%s'\n", m);
	return 2;
}
