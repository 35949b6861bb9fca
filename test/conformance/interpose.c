/*
 * interpose.c: a program with a malloc of its own (glibc's tst-interpose-*
 * situation): it defines malloc, free, calloc and realloc, and nothing else.
 * Every block libc hands it must then come from those four, on glibc and
 * with basemalloc preloaded: strdup, getline and stdio's buffers call
 * malloc and realloc through the dynamic linker, and glibc's reallocarray
 * is realloc after an overflow check, so it calls the program's realloc
 * too. A block from anywhere else reaching this free fails the check.
 * The allocator here is a bump allocator over a static arena with a
 * header per block; free marks the header, so a double free is caught
 * too. Run on glibc and under the preload by test/conformance/run.
 */
#include "conf.h"

#include <pthread.h>

#define IP_ARENA ((size_t)64 << 20)
#define IP_MAGIC 0x1b7e5a11c0ffee00ull
#define IP_FREED 0x0dead0dead0dead0ull

struct ip_header {
	uint64_t magic;
	uint64_t size;
};

static _Alignas(16) unsigned char ip_arena[IP_ARENA];
static size_t ip_top;
static int ip_lock;
static unsigned long ip_bad_frees;

static void ip_take(void)
{
	while (__atomic_exchange_n(&ip_lock, 1, __ATOMIC_ACQUIRE))
		;
}

static void ip_drop(void)
{
	__atomic_store_n(&ip_lock, 0, __ATOMIC_RELEASE);
}

/* Whether p is a live block of this allocator. */
static int ip_owns(const void *p)
{
	const unsigned char *c = p;
	if (c < ip_arena + sizeof(struct ip_header) || c >= ip_arena + IP_ARENA)
		return 0;
	const struct ip_header *h = (const struct ip_header *)c - 1;
	return h->magic == IP_MAGIC;
}

static void *ip_alloc(size_t n)
{
	size_t need = sizeof(struct ip_header) + ((n + 15) & ~(size_t)15);
	if (n > IP_ARENA) {
		errno = ENOMEM;
		return NULL;
	}
	ip_take();
	if (IP_ARENA - ip_top < need) {
		ip_drop();
		errno = ENOMEM;
		return NULL;
	}
	struct ip_header *h = (struct ip_header *)(ip_arena + ip_top);
	ip_top += need;
	h->magic = IP_MAGIC;
	h->size = n;
	ip_drop();
	return h + 1;
}

void *malloc(size_t n)
{
	return ip_alloc(n);
}

void free(void *p)
{
	if (p == NULL)
		return;
	if (!ip_owns(p)) {
		__atomic_add_fetch(&ip_bad_frees, 1, __ATOMIC_RELAXED);
		return;
	}
	((struct ip_header *)p - 1)->magic = IP_FREED;
}

void *calloc(size_t n, size_t s)
{
	if (s != 0 && n > SIZE_MAX / s) {
		errno = ENOMEM;
		return NULL;
	}
	return ip_alloc(n * s);  /* the arena is never reused: still zero */
}

void *realloc(void *p, size_t n)
{
	if (p == NULL)
		return ip_alloc(n);
	if (!ip_owns(p)) {
		__atomic_add_fetch(&ip_bad_frees, 1, __ATOMIC_RELAXED);
		return NULL;
	}
	size_t old = ((struct ip_header *)p - 1)->size;
	void *q = ip_alloc(n);
	if (q != NULL) {
		memcpy(q, p, old < n ? old : n);
		free(p);
	}
	return q;
}

/* tst-interpose-*'s premise: reallocarray is realloc with an overflow
 * check, so with realloc interposed it hands out the program's blocks. */
static int reallocarray_calls_the_programs_realloc(void)
{
	char *p = reallocarray(NULL, 10, 10);
	CHECK(p != NULL && ip_owns(p), "reallocarray(NULL, 10, 10) = %p, not the program's", (void *)p);
	memset(p, 0x5c, 100);
	char *q = reallocarray(p, 20, 10);
	CHECK(q != NULL && ip_owns(q), "reallocarray(p, 20, 10) = %p, not the program's", (void *)q);
	CHECK(check_all_bytes(q, 100, 0x5c) < 0);
	conf_set_errno(0);
	CHECK(reallocarray(q, conf_opaque(SIZE_MAX / 2), 3) == NULL && conf_errno() == ENOMEM);
	free(q);
	CHECK(ip_bad_frees == 0, "%lu frees of blocks not the program's", ip_bad_frees);
	return CHECK_OK;
}

/* libc's own allocations (strdup, getline, a FILE and its buffer, an
 * open_memstream buffer) come from the program's malloc and realloc. */
static int libc_allocations_use_the_programs_malloc(void)
{
	char *s = strdup("interposed");
	CHECK(s != NULL && ip_owns(s));
	free(s);
	FILE *f = tmpfile();
	CHECK(f != NULL);
	for (int i = 0; i < 20000; i++)
		fputc('a' + i % 26, f);
	fputc('\n', f);
	rewind(f);
	char *line = NULL;
	size_t cap = 0;
	CHECK(getline(&line, &cap, f) == 20001 && ip_owns(line));
	free(line);
	fclose(f);
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	CHECK(m != NULL);
	for (int i = 0; i < 5000; i++)
		fprintf(m, "%d,", i);
	fclose(m);
	CHECK(buf != NULL && ip_owns(buf) && len > 5000);
	free(buf);
	CHECK(ip_bad_frees == 0, "%lu frees of blocks not the program's", ip_bad_frees);
	return CHECK_OK;
}

static void *ip_thread(void *arg)
{
	(void)arg;
	char *p = reallocarray(NULL, 3, 7);
	char *s = strdup("thread");
	int ok = p != NULL && ip_owns(p) && s != NULL && ip_owns(s);
	free(p);
	free(s);
	return ok ? arg : &ip_top;
}

/* tst-interpose-thread: the same from a new thread, and fork works. */
static int thread_and_fork(void)
{
	pthread_t t;
	void *r;
	CHECK(pthread_create(&t, NULL, ip_thread, NULL) == 0);
	CHECK(pthread_join(t, &r) == 0);
	CHECK(r == NULL, "the thread got blocks not the program's");
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		char *p = reallocarray(NULL, 4, 4);
		_exit(p != NULL && ip_owns(p) ? 55 : 1);
	}
	int st;
	CHECK(waitpid(pid, &st, 0) == pid);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 55, "child status %d", st);
	CHECK(ip_bad_frees == 0, "%lu frees of blocks not the program's", ip_bad_frees);
	return CHECK_OK;
}

static const struct check_s checks[] = {
	CHECK_ENTRY(reallocarray_calls_the_programs_realloc),
	CHECK_ENTRY(libc_allocations_use_the_programs_malloc),
	CHECK_ENTRY(thread_and_fork),
};

int main(int argc, char **argv)
{
	return check_main(checks, sizeof(checks) / sizeof(checks[0]), argc, argv);
}
