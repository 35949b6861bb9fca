/*
 * introspect.c: what glibc's malloc exports beyond the allocation calls,
 * and what a process sees of the allocator from outside: every malloc-family
 * name glibc exports resolves to the preload (a name it missed would run
 * glibc's code on basemalloc's blocks), the compat names old binaries bind
 * to (cfree, the hook variables), mallopt's answers
 * (tst-mallopt), mallinfo/mallinfo2 (tst-mallinfo2, tst-mxfast),
 * malloc_info (tst-malloc_info), and that the heap never moves the program
 * break (tst-interpose-*, tst-malloc-alternate-path). Written anew; run on
 * glibc and under the preload.
 */
#include "conf.h"

#include <pthread.h>
#include <sys/mman.h>

/* mallinfo is deprecated in favour of mallinfo2; the tests call it on purpose. */
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

/* The malloc-family functions glibc 2.36 exports at a default version. */
static const char *const glibc_names[] = {
	"malloc", "free", "calloc", "realloc", "reallocarray", "memalign",
	"aligned_alloc", "posix_memalign", "valloc", "pvalloc",
	"malloc_usable_size", "malloc_trim", "mallopt", "mallinfo",
	"mallinfo2", "malloc_stats", "malloc_info", "__libc_malloc",
	"__libc_free", "__libc_calloc", "__libc_realloc", "__libc_memalign",
	"__libc_valloc", "__libc_pvalloc", "__libc_mallopt", "__libc_mallinfo",
};

static int owner_is(const char *owner, const char *lib)
{
	return strstr(owner, lib) != NULL;
}

/* Every name glibc exports for its malloc is the preload's under the
 * preload, and libc's without it. */
static int glibc_names_resolve_to_the_allocator(void)
{
	const char *lib = conf_preloaded() ? "libbasemalloc" : "libc.so";
	for (size_t i = 0; i < sizeof(glibc_names) / sizeof(glibc_names[0]); i++) {
		const char *owner = check_symbol_owner(glibc_names[i]);
		CHECK(owner_is(owner, lib), "%s resolves to '%s'", glibc_names[i], owner);
	}
	return CHECK_OK;
}

/* tst-free-sized, tst-free-aligned-sized: free_sized and free_aligned_sized
 * (C23; glibc added them in 2025, so 2.36 has no such symbol) take
 * NULL and free a block, which the next same-size request gets back. Under
 * glibc the check asserts the symbols are absent. */
static int free_sized_forms(void)
{
	void (*fs)(void *, size_t) = (void (*)(void *, size_t))dlsym(RTLD_DEFAULT, "free_sized");
	void (*fas)(void *, size_t, size_t) =
	    (void (*)(void *, size_t, size_t))dlsym(RTLD_DEFAULT, "free_aligned_sized");
	if (!conf_preloaded()) {
		CHECK(fs == NULL && fas == NULL, "glibc 2.36 has free_sized");
		return CHECK_OK;
	}
	CHECK(fs != NULL && fas != NULL);
	fs(NULL, 0);
	fas(NULL, 0, 0);
	void *p = malloc(128);
	CHECK(p != NULL);
	fs(p, 128);
	void *q = malloc(128);
	CHECK(q == p, "the block free_sized freed was not reused");
	free(q);
	p = aligned_alloc(128, 1024);
	CHECK(p != NULL && conf_aligned(p, 128));
	fas(p, 128, 1024);
	q = aligned_alloc(128, 1024);
	CHECK(q == p, "the block free_aligned_sized freed was not reused");
	free(q);
	return CHECK_OK;
}

/* cfree left glibc's API in 2.26 but binaries linked before still call
 * cfree@GLIBC_2.2.5; under the preload it must free our blocks, not run
 * glibc's free on them. */
extern void compat_cfree(void *);
__asm__(".symver compat_cfree, cfree@GLIBC_2.2.5");
static int compat_cfree_frees(void)
{
	/* the address the program's own reference was bound to */
	void *volatile p = (void *)compat_cfree;
	Dl_info info;
	CHECK(dladdr(p, &info) != 0 && info.dli_fname != NULL);
	CHECK(owner_is(info.dli_fname, conf_preloaded() ? "libbasemalloc" : "libc.so"),
	    "cfree@GLIBC_2.2.5 resolves to '%s'", info.dli_fname);
	for (int i = 0; i < 1000; i++) {
		void *b = malloc((size_t)i * 40);
		CHECK(b != NULL);
		compat_cfree(b);
	}
	void *b = malloc(100);
	CHECK(b != NULL);
	free(b);
	return CHECK_OK;
}

/* tst-compathooks-off: since 2.34 libc's malloc never calls the hook
 * variables old binaries still set; neither does the preload. */
extern void *(*volatile compat_malloc_hook)(size_t, const void *);
extern void (*volatile compat_free_hook)(void *, const void *);
__asm__(".symver compat_malloc_hook, __malloc_hook@GLIBC_2.2.5");
__asm__(".symver compat_free_hook, __free_hook@GLIBC_2.2.5");
static int hook_calls;
static void *count_malloc_hook(size_t n, const void *caller)
{
	(void)n;
	(void)caller;
	hook_calls++;
	return NULL;
}
static void count_free_hook(void *p, const void *caller)
{
	(void)p;
	(void)caller;
	hook_calls++;
}
static int compat_hooks_are_not_called(void)
{
	compat_malloc_hook = count_malloc_hook;
	compat_free_hook = count_free_hook;
	void *p = malloc(0);
	CHECK(p != NULL);
	p = realloc(p, 0);
	p = calloc(512, 1);
	CHECK(p != NULL);
	free(p);
	p = memalign(0x100, 0x100);
	CHECK(p != NULL);
	free(p);
	compat_malloc_hook = NULL;
	compat_free_hook = NULL;
	CHECK(hook_calls == 0, "%d hook calls", hook_calls);
	return CHECK_OK;
}

/* tst-mallopt, tst-malloc-thread-exit, tst-malloc-thread-fail: mallopt
 * answers 1 for every parameter glibc knows (and, like glibc 2.36, for an
 * unknown one), 0 for M_MXFAST outside 0..160; __libc_mallopt is the same. */
extern int __libc_mallopt(int, int);
static int mallopt_answers(void)
{
	static const struct { int param, value; const char *key; } cases[] = {
		{ M_CHECK_ACTION, 1, "M_CHECK_ACTION 1" },
		{ M_MMAP_MAX, 64 * 1024, "M_MMAP_MAX 65536" },
		{ M_MMAP_THRESHOLD, 64 * 1024, "M_MMAP_THRESHOLD 65536" },
		{ M_MMAP_THRESHOLD, -1, "M_MMAP_THRESHOLD -1" },
		{ M_MXFAST, 0, "M_MXFAST 0" },
		{ M_MXFAST, 160, "M_MXFAST 160" },
		{ M_MXFAST, 161, "M_MXFAST 161" },
		{ M_MXFAST, -1, "M_MXFAST -1" },
		{ M_PERTURB, 0xa5, "M_PERTURB 0xa5" },
		{ M_PERTURB, 0, "M_PERTURB 0" },
		{ M_TOP_PAD, 64 * 1024, "M_TOP_PAD 65536" },
		{ M_TRIM_THRESHOLD, -1, "M_TRIM_THRESHOLD -1" },
		{ M_ARENA_MAX, 8, "M_ARENA_MAX 8" },
		{ M_ARENA_MAX, 2, "M_ARENA_MAX 2" },
		{ M_ARENA_TEST, 1, "M_ARENA_TEST 1" },
		{ 12345, 1, "param 12345" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char key[64];
		int r = mallopt(cases[i].param, cases[i].value);
		int r2 = __libc_mallopt(cases[i].param, cases[i].value);
		snprintf(key, sizeof(key), "mallopt(%s)", cases[i].key);
		conf_obs(key, "%d %d", r, r2);
		CHECK(r == r2);
	}
	CHECK(mallopt(M_ARENA_MAX, 8) == 1 && mallopt(M_MXFAST, 161) == 0);
	void *p = malloc(100);
	CHECK(p != NULL && malloc_usable_size(p) >= 100);
	free(p);
	return CHECK_OK;
}

/* tst-mallinfo2: the fields are size_t, and allocations of 160 to 3040
 * bytes that stay live raise uordblks by at least their total; mallinfo
 * and __libc_mallinfo tell the same in int. */
extern struct mallinfo __libc_mallinfo(void);
static int mallinfo2_counts_live_bytes(void)
{
	static void *keep[20];
	struct mallinfo2 before = mallinfo2();
	CHECK(sizeof(before.arena) == sizeof(size_t));
	size_t total = 0;
	for (int i = 1; i < 20; i++) {
		keep[i] = malloc(160 * (size_t)i);
		CHECK(keep[i] != NULL);
		total += 160 * (size_t)i;
	}
	struct mallinfo2 after = mallinfo2();
	CHECK(after.uordblks >= before.uordblks + total,
	    "uordblks %zu -> %zu for %zu live bytes", before.uordblks,
	    after.uordblks, total);
	CHECK(after.arena >= after.uordblks, "arena %zu < uordblks %zu",
	    after.arena, after.uordblks);
	struct mallinfo m = mallinfo(), l = __libc_mallinfo();
	CHECK((size_t)m.uordblks >= before.uordblks + total);
	CHECK((size_t)l.uordblks >= before.uordblks + total);
	for (int i = 1; i < 20; i++)
		free(keep[i]);
	return CHECK_OK;
}

/* What mallinfo2 calls the arena is memory still held: after 40 MB of
 * 100 KB blocks are freed and malloc_trim(0) gives them back, arena and
 * fordblks are back near where they were (glibc trims its heap top; a
 * figure of address space mapped would stay 40 MB up). */
static int mallinfo2_falls_after_trim(void)
{
	enum { N = 400, SIZE = 100 * 1000 };
	static char *blocks[N];
	struct mallinfo2 before = mallinfo2();
	for (int i = 0; i < N; i++) {
		blocks[i] = malloc(SIZE);
		CHECK(blocks[i] != NULL);
		memset(blocks[i], i, SIZE);
	}
	struct mallinfo2 full = mallinfo2();
	CHECK(full.arena >= before.arena + (size_t)N * SIZE / 2,
	    "arena %zu -> %zu with %d live blocks of %d", before.arena,
	    full.arena, N, SIZE);
	for (int i = 0; i < N; i++)
		free(blocks[i]);
	malloc_trim(0);
	struct mallinfo2 after = mallinfo2();
	CHECK(after.arena <= before.arena + ((size_t)8 << 20),
	    "arena %zu before, %zu after free and trim", before.arena,
	    after.arena);
	CHECK(after.fordblks <= ((size_t)8 << 20), "fordblks %zu after trim",
	    after.fordblks);
	return CHECK_OK;
}

/* tst-mxfast: a freed 3-byte block below a live 512-byte one is not
 * counted as a fastbin block (smblks) - glibc's tcache takes it, and
 * basemalloc has no fastbins. */
static int mallinfo_smblks_zero(void)
{
	char *volatile p1 = malloc(3);
	char *volatile p2 = malloc(512);
	free(p1);
	struct mallinfo m = mallinfo();
	conf_obs("mallinfo().smblks", "%d", m.smblks);
	CHECK(m.smblks == 0);
	free(p2);
	return CHECK_OK;
}

/* ---- tst-malloc_info ---- */

static pthread_barrier_t mi_barrier;

struct mi_node {
	struct mi_node *next;
	long pad[4];
};

static void *mi_thread(void *arg)
{
	(void)arg;
	struct mi_node *head = NULL;
	for (size_t bytes = 0; bytes < 16 * MiB; bytes += sizeof(*head)) {
		struct mi_node *n = malloc(sizeof(*n));
		if (n == NULL)
			return (void *)1;
		n->next = head;
		head = n;
	}
	pthread_barrier_wait(&mi_barrier);
	pthread_barrier_wait(&mi_barrier);
	while (head != NULL) {
		struct mi_node *next = head->next;
		free(head);
		head = next;
	}
	return NULL;
}

/* malloc_info(0, fp) on a memory stream: 0 and one well-formed <malloc>
 * document; its closing lines present. */
static int mi_report(const char *when)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&buf, &len);
	CHECK(fp != NULL);
	int r = malloc_info(0, fp);
	CHECK(fclose(fp) == 0);
	CHECK(r == 0, "malloc_info %s: %d", when, r);
	CHECK(len > 0 && strncmp(buf, "<malloc version=\"1\">\n", 21) == 0,
	    "malloc_info %s starts '%.30s'", when, buf != NULL ? buf : "");
	CHECK(len > 10 && strcmp(buf + len - 10, "</malloc>\n") == 0,
	    "malloc_info %s does not end with </malloc>", when);
	CHECK(strstr(buf, "<heap nr=\"0\">") != NULL);
	free(buf);
	return CHECK_OK;
}

/* tst-malloc_info: the report while four threads hold 16 MiB each in small
 * blocks, and after they freed them and exited; options other than 0 are
 * EINVAL. */
static int malloc_info_with_threads(void)
{
	pthread_t t[4];
	pthread_barrier_init(&mi_barrier, NULL, 5);
	for (int i = 0; i < 4; i++)
		CHECK(pthread_create(&t[i], NULL, mi_thread, NULL) == 0);
	pthread_barrier_wait(&mi_barrier);
	int r = mi_report("after allocation");
	pthread_barrier_wait(&mi_barrier);
	for (int i = 0; i < 4; i++) {
		void *ret;
		pthread_join(t[i], &ret);
		CHECK(ret == NULL);
	}
	CHECK(r == CHECK_OK);
	CHECK(mi_report("after deallocation") == CHECK_OK);
	int e = malloc_info(1, stdout);
	conf_obs("malloc_info(1, stdout)", "%s", conf_errno_name(e));
	CHECK(e == EINVAL);
	return CHECK_OK;
}

/* ---- tst-interpose-* ---- */

static void *initial_brk;
__attribute__((constructor)) static void record_brk(void)
{
	initial_brk = sbrk(0);
}

static int brk_unchanged(void)
{
	return !conf_preloaded() || sbrk(0) == initial_brk;
}

static void line_of(int number, char *buf, size_t len)
{
	for (size_t i = 0; i + 2 < len; i++)
		buf[i] = (char)('A' + (number + i) % 26);
	buf[len - 2] = '\n';
	buf[len - 1] = '\0';
}

/* Write lines of 0 to 8201 bytes through stdio, read them back with
 * getline (libc's realloc path), fork a child; 0 when all went right. */
static void *stdio_round(void *arg)
{
	static const int lengths[] = { 0, 45, 80, 2, 8201, 0, 17, -1 };
	(void)arg;
	FILE *fp = tmpfile();
	if (fp == NULL)
		return (void *)1;
	for (int i = 0; lengths[i] >= 0; i++) {
		char buf[8300];
		line_of(i, buf, (size_t)lengths[i] + 2);
		fputs(buf, fp);
	}
	rewind(fp);
	char *line = NULL;
	size_t cap = 0;
	for (int i = 0; lengths[i] >= 0; i++) {
		char want[8300];
		line_of(i, want, (size_t)lengths[i] + 2);
		if (getline(&line, &cap, fp) != lengths[i] + 1 || strcmp(line, want) != 0)
			return (void *)2;
	}
	if (getline(&line, &cap, fp) != -1)
		return (void *)3;
	free(line);
	fclose(fp);
	pid_t pid = fork();
	if (pid == 0)
		_exit(55);
	int status;
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 55)
		return (void *)4;
	return NULL;
}

/* tst-interpose-nothread / -thread: libc's own allocations (stdio buffers,
 * getline) go through the interposed malloc, in the main thread and in a
 * new one, and under the preload the program break never moves. */
static int libc_internal_allocations_interposed(void)
{
	CHECK(brk_unchanged(), "brk moved before the test");
	void *r = stdio_round(NULL);
	CHECK(r == NULL, "main thread: step %ld failed", (long)(intptr_t)r);
	pthread_t t;
	CHECK(pthread_create(&t, NULL, stdio_round, NULL) == 0);
	pthread_join(t, &r);
	CHECK(r == NULL, "thread: step %ld failed", (long)(intptr_t)r);
	CHECK(brk_unchanged(), "brk moved from %p to %p", initial_brk, sbrk(0));
	return CHECK_OK;
}

/* tst-malloc-alternate-path: with a mapping placed just past the break so
 * that sbrk fails, small and 10 MB allocations still succeed and the break
 * stays where it was. */
static int malloc_without_brk(void)
{
	void *cur = sbrk(0);
	size_t page = conf_page();
	void *next = (void *)(((uintptr_t)cur + page - 1) & ~(uintptr_t)(page - 1));
	void *wall = mmap(next, page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	CHECK(wall == next, "could not map at the break: %p", wall);
	CHECK(sbrk((intptr_t)page) == (void *)-1);
	for (size_t i = 0; i < page / 16; i++)
		CHECK(malloc(16) != NULL);
	void *big = malloc(10 * MiB);
	CHECK(big != NULL);
	memset(big, 1, 10 * MiB);
	CHECK(sbrk(0) == cur);
	free(big);
	return CHECK_OK;
}

static const struct check_s checks[] = {
	CHECK_ENTRY(glibc_names_resolve_to_the_allocator),
	CHECK_ENTRY(compat_cfree_frees),
	CHECK_ENTRY(free_sized_forms),
	CHECK_ENTRY(compat_hooks_are_not_called),
	CHECK_ENTRY(mallopt_answers),
	CHECK_ENTRY(mallinfo2_counts_live_bytes),
	CHECK_ENTRY(mallinfo2_falls_after_trim),
	CHECK_ENTRY(mallinfo_smblks_zero),
	CHECK_ENTRY(malloc_info_with_threads),
	CHECK_ENTRY(libc_internal_allocations_interposed),
	CHECK_ENTRY(malloc_without_brk),
};

int main(int argc, char **argv)
{
	return check_main(checks, sizeof(checks) / sizeof(checks[0]), argc, argv);
}
