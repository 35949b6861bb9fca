/*
 * errno.c: free() never changes errno, and a mapping the kernel will not
 * unmap is not lost (issue 9, items 3 and 4).
 *
 * free_keeps_errno: errno set to a sentinel survives free of every kind of
 * block, a free by another thread, and frees that empty slabs and make the
 * arena purge.
 *
 * huge_free_at_map_limit: a huge block (64 MiB, its own mapping) lies
 * between two mappings of the same kind, so the kernel merges the three
 * into one; then the process fills its map count to vm.max_map_count
 * (a mapping whose pages alternate between read-only and read-write).
 * Unmapping the block now needs a split the kernel refuses (ENOMEM).
 * free() must leave errno alone, and the block's pages must stay accounted
 * for (stats.pages_mapped grows by them while stats.huge.bytes drops) and
 * be used again: once the map count is back to normal, page runs for
 * large blocks come from them. A freed huge block may be kept whole as the
 * arena's spare mapping (nothing to unmap, nothing to test): a bigger one
 * freed first holds that place (run with dirty_decay_ms:-1, so it is not
 * given up by age meanwhile).
 *
 * huge_realloc_shrink_at_map_limit: the same place, realloc to 40 MiB: the
 * kernel cannot shrink the mapping in place, and realloc must still
 * succeed (glibc keeps the block as it is) with the contents; freeing the
 * result, at the limit too, keeps errno.
 *
 * posix_memalign_enomem_errno: a posix_memalign that fails returns ENOMEM
 * and leaves errno at ENOMEM, as glibc does (an impossible size, and a
 * size the address-space limit refuses).
 *
 * The accounting parts need bm_ctl (under glibc only errno is checked;
 * glibc leaves such a mapping behind, unaccounted).
 */
#include "robust.h"

#include <sys/resource.h>

#define SENTINEL 4242

typedef int (*ctl_fn)(const char *, void *, size_t *, void *, size_t);

static ctl_fn ctl(void)
{
	return (ctl_fn)dlsym(RTLD_DEFAULT, "bm_ctl");
}

/* A "stats." size_t figure after refreshing the snapshot; SIZE_MAX if none. */
static size_t stat_size(const char *name)
{
	ctl_fn f = ctl();
	uint64_t epoch = 1;
	size_t v = SIZE_MAX, len = sizeof(v);
	if (f == NULL || f("epoch", NULL, NULL, &epoch, sizeof(epoch)) != 0 ||
	    f(name, &v, &len, NULL, 0) != 0)
		return SIZE_MAX;
	return v;
}

static void *remote_free(void *p)
{
	errno = SENTINEL;
	free(p);
	return (void *)(intptr_t)(errno == SENTINEL ? 0 : errno);
}

static int free_keeps_errno(void)
{
	static const size_t sizes[] = { 16, 3000, 20 * KiB, 900 * KiB,
	    3 * MiB, 40 * MiB };
	static void *many[20000];
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		void *p = malloc(sizes[i]);
		CHECK(p != NULL);
		memset(p, 1, sizes[i]);
		errno = SENTINEL;
		free(p);
		CHECK(errno == SENTINEL, "free of %zu bytes set errno to %d",
		    sizes[i], errno);
		p = malloc(sizes[i]);
		CHECK(p != NULL);
		pthread_t t;
		void *ret;
		CHECK(pthread_create(&t, NULL, remote_free, p) == 0);
		CHECK(pthread_join(t, &ret) == 0);
		CHECK(ret == NULL, "free of %zu bytes by another thread set errno "
		    "to %d", sizes[i], (int)(intptr_t)ret);
	}
	/* Fill slabs and empty them again (runs back to the arena, purges). */
	for (size_t i = 0; i < 20000; i++) {
		many[i] = malloc(64 + i % 2000);
		CHECK(many[i] != NULL);
	}
	for (size_t i = 0; i < 20000; i++) {
		errno = SENTINEL;
		free(many[i]);
		CHECK(errno == SENTINEL, "free #%zu set errno to %d", i, errno);
	}
	errno = SENTINEL;
	malloc_trim(0);
	free(NULL);
	CHECK(errno == SENTINEL, "free(NULL) set errno to %d", errno);
	return CHECK_OK;
}

/* The map-count filler: one mapping whose pages alternate in protection. */
static char *filler;
static size_t filler_pages;

/* Split the filler until the kernel refuses: the process is then at its
 * limit on mappings. 0 when it got there. */
static int fill_map_count(void)
{
	filler_pages = 140000;
	filler = mmap(NULL, filler_pages * 4096, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (filler == MAP_FAILED)
		return -1;
	for (size_t i = 1; i < filler_pages; i += 2)
		if (mprotect(filler + i * 4096, 4096, PROT_READ) != 0)
			return errno == ENOMEM ? 0 : -1;
	return -1;  /* the limit is above what the filler can reach */
}

static void unfill_map_count(void)
{
	munmap(filler, filler_pages * 4096);
}

/* The [start, end) of the mapping (VMA) holding addr, from /proc/self/maps. */
static int vma_of(const void *addr, uintptr_t *start, uintptr_t *end)
{
	char line[512];
	int found = 0;
	FILE *f = fopen("/proc/self/maps", "r");
	if (f == NULL)
		return 0;
	while (!found && fgets(line, sizeof(line), f) != NULL) {
		unsigned long a, b;
		if (sscanf(line, "%lx-%lx", &a, &b) == 2 &&
		    a <= (uintptr_t)addr && (uintptr_t)addr < b) {
			*start = a;
			*end = b;
			found = 1;
		}
	}
	fclose(f);
	return found;
}

static int is_mapped(const void *addr)
{
	unsigned char v;
	return mincore((void *)((uintptr_t)addr & ~(uintptr_t)4095), 4096, &v) == 0;
}

/* A huge block inside one mapping with neighbours of the same kind on
 * both sides, which the kernel merges into one. The block's mapping goes
 * into a hole left below a 2 MiB mapping, right under it (the highest place
 * it fits; the kernel looks for n + 2 MiB to align it to 2 MiB); then
 * another 2 MiB is mapped right under the block. *hood gets the neighbours
 * (MAP_FAILED where none); NULL when the block is not inside a bigger
 * mapping. */
static char *huge_between_neighbours_once(size_t n, char **hood)
{
	/* The flags huge blocks are mapped with, by glibc and by basemalloc
	 * (the kernel merges only mappings with the same flags). */
	const int flags = MAP_PRIVATE | MAP_ANONYMOUS;
	const size_t side = 2 * MiB, span = n + 4 * side;
	char *r = mmap(NULL, span, PROT_READ | PROT_WRITE, flags, -1, 0);
	char *h = NULL;
	uintptr_t s, e, hb = 0, he = 0;
	hood[0] = hood[1] = MAP_FAILED;
	if (r != MAP_FAILED) {
		/* [r, top) unmapped but for [top, top + side). */
		char *top = (char *)(((uintptr_t)r + n + 2 * side) & ~(side - 1));
		munmap(r, (size_t)(top - r));
		munmap(top + side, (size_t)(r + span - top - side));
		hood[0] = top;
		h = malloc(n - 64);  /* glibc adds a header: the same pages */
		hb = (uintptr_t)h & ~(uintptr_t)4095;
		he = ((uintptr_t)h + n - 64 + 4095) & ~(uintptr_t)4095;
		hood[1] = mmap((void *)(hb - side), side, PROT_READ | PROT_WRITE,
		    flags | MAP_FIXED_NOREPLACE, -1, 0);
	}
	if (h == NULL || !vma_of(h, &s, &e) || s >= hb || e <= he) {
		printf("  # setup: block %p of %zu bytes, neighbours %p %p: not "
		    "inside one bigger mapping\n", (void *)h, n, (void *)hood[0],
		    (void *)hood[1]);
		free(h);
		return NULL;
	}
	check_fill(h, 4096, 1);
	check_fill(h + n - 64 - 4096, 4096, 2);
	return h;
}

static void free_neighbours(char **hood)
{
	for (int i = 0; i < 2; i++)
		if (hood[i] != MAP_FAILED)
			munmap(hood[i], 2 * MiB);
}

/* The setup above, tried again when the allocator's first look at a new
 * region of the address space maps metadata for it (basemalloc's page map
 * maps a leaf per GiB) into the very hole the block was meant for. */
static char *huge_between_neighbours(size_t n, char **hood)
{
	for (int i = 0; i < 4; i++) {
		char *h = huge_between_neighbours_once(n, hood);
		if (h != NULL)
			return h;
		free_neighbours(hood);
	}
	return NULL;
}

/* The pages of [lo, lo + n) serve page runs again: of a few large blocks,
 * one lands in them. */
static int reused_for_large(uintptr_t lo, size_t n)
{
	enum { K = 12 };
	void *b[K];
	int hit = 0;
	for (int i = 0; i < K; i++) {
		b[i] = malloc(16 * MiB);
		if (b[i] != NULL && (uintptr_t)b[i] >= lo && (uintptr_t)b[i] < lo + n)
			hit = 1;
	}
	for (int i = 0; i < K; i++)
		free(b[i]);
	return hit;
}

static int huge_free_at_map_limit(void)
{
	const size_t n = 64 * MiB;
	char *hood[2];
	if (ctl() != NULL)
		free(malloc(160 * MiB));  /* the spare: more than twice n */
	size_t mapped0 = stat_size("stats.pages_mapped");
	size_t huge0 = stat_size("stats.huge.bytes");
	char *h = huge_between_neighbours(n, hood);
	CHECK(h != NULL, "could not place the block inside a merged mapping");
	size_t huge1 = stat_size("stats.huge.bytes");
	CHECK(fill_map_count() == 0, "could not reach vm.max_map_count");
	errno = SENTINEL;
	free(h);
	int err = errno, kept = is_mapped(h);
	unfill_map_count();
	free_neighbours(hood);
	CHECK(err == SENTINEL, "free() at the map limit set errno to %d", err);
	CHECK(kept, "the kernel unmapped the block at its limit: the check "
	    "tested nothing");
	if (ctl() == NULL) {
		printf("  # glibc: the block's %zu MiB stay mapped, unaccounted\n",
		    n >> 20);
		return CHECK_OK;
	}
	size_t mapped2 = stat_size("stats.pages_mapped");
	size_t huge2 = stat_size("stats.huge.bytes");
	CHECK(huge1 - huge2 == n && huge1 - huge0 == n, "huge bytes %zu, %zu, "
	    "%zu", huge0, huge1, huge2);
	CHECK(mapped2 >= mapped0 + n, "pages mapped %zu before, %zu after: the "
	    "kept mapping is not accounted for", mapped0, mapped2);
	CHECK(reused_for_large((uintptr_t)h, n), "the kept mapping's pages are "
	    "not used again");
	printf("  # the refused %zu MiB became free pages (pages mapped %zu -> "
	    "%zu MiB) and served large blocks\n", n >> 20, mapped0 >> 20,
	    mapped2 >> 20);
	return CHECK_OK;
}

static int huge_realloc_shrink_at_map_limit(void)
{
	const size_t n = 64 * MiB, m = 40 * MiB;
	char *hood[2];
	size_t mapped0 = stat_size("stats.pages_mapped");
	char *h = huge_between_neighbours(n, hood);
	CHECK(h != NULL, "could not place the block inside a merged mapping");
	CHECK(fill_map_count() == 0, "could not reach vm.max_map_count");
	errno = SENTINEL;
	char *q = realloc(h, m);
	int err = errno, moved = q != h;
	int intact = q != NULL && check_verify(q, 4096, 1) < 0;
	errno = SENTINEL;
	if (q != NULL)
		free(q);
	int err_free = errno, kept = is_mapped(h);
	unfill_map_count();
	free_neighbours(hood);
	CHECK(q != NULL, "realloc to a smaller size failed at the map limit");
	CHECK(intact, "realloc lost the block's contents");
	CHECK(err_free == SENTINEL, "free() at the map limit set errno to %d",
	    err_free);
	/* A realloc that succeeds may change errno (glibc's sets ENOMEM). */
	printf("  # realloc %zu -> %zu MiB at the map limit: %s, errno %s\n",
	    n >> 20, m >> 20, moved ? "moved" : "kept in place",
	    err == SENTINEL ? "unchanged" : strerror(err));
	if (kept && ctl() != NULL) {
		size_t mapped2 = stat_size("stats.pages_mapped");
		CHECK(mapped2 >= mapped0 + n, "the old block's mapping is still "
		    "there, yet pages mapped went %zu -> %zu only", mapped0, mapped2);
	}
	return CHECK_OK;
}

static int posix_memalign_enomem_errno(void)
{
	void *p = (void *)0x1;
	errno = 0;
	int rc = posix_memalign(&p, 64, SIZE_MAX / 2);
	CHECK(rc == ENOMEM && errno == ENOMEM && p == (void *)0x1,
	    "impossible size: returned %d, errno %d", rc, errno);
	struct rlimit r;
	CHECK(getrlimit(RLIMIT_AS, &r) == 0);
	r.rlim_cur = (rlim_t)1 << 36;
	CHECK(setrlimit(RLIMIT_AS, &r) == 0);
	errno = 0;
	rc = posix_memalign(&p, 4096, (size_t)1 << 37);
	CHECK(rc == ENOMEM && errno == ENOMEM && p == (void *)0x1,
	    "refused by RLIMIT_AS: returned %d, errno %d", rc, errno);
	return CHECK_OK;
}

static const struct check_s checks[] = {
	CHECK_ENTRY(free_keeps_errno),
	CHECK_ENTRY(huge_free_at_map_limit),
	CHECK_ENTRY(huge_realloc_shrink_at_map_limit),
	CHECK_ENTRY(posix_memalign_enomem_errno),
};

int main(int argc, char **argv)
{
	return check_main(checks, sizeof(checks) / sizeof(checks[0]), argc, argv);
}
