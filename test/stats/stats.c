/*
 * stats.c: basemalloc's statistics against ground truth (issue 6), run under
 * LD_PRELOAD by test/stats/run: every documented bm_ctl name answers with its
 * documented type, errors (ENOENT, EINVAL, EPERM), the epoch snapshot, live
 * objects of a class against what the check allocated, large and huge
 * counts, remote frees, mapped bytes against the OS layer, base blocks
 * against /proc/self/smaps and mincore, huge-page advice against the `hg`
 * VmFlag and AnonHugePages, the options, the text and JSON reports,
 * mallinfo2/mallinfo, malloc_info and malloc_stats.
 * Environment (set by the runner): BM_STATS_NAMES (the names table of
 * README.md, "name<TAB>type" lines), BM_STATS_OPTIONS (README's options,
 * "name<TAB>default" lines), BM_STATS_TMP (a directory for files the runner
 * checks afterwards).
 */
#include "check.h"

#include <fcntl.h>
#include <stdatomic.h>
#include <malloc.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/mman.h>

#define KiB ((size_t)1024)
#define MiB ((size_t)1024 * 1024)
#define HUGEPAGE (2 * MiB)
#define PAGE_SZ ((size_t)4096)
#define LIST_WORDS 5

typedef int (*ctl_fn)(const char *, void *, size_t *, void *, size_t);
typedef void (*print_fn)(void (*)(void *, const char *), void *, const char *);

static ctl_fn ctl;

/* bm_ctl of the preloaded library; N/A under glibc. */
#define NEED_CTL() do { \
	if (!check_expect_preload()) \
		NOT_APPLICABLE("running under glibc (BM_LIB empty)"); \
	ctl = (ctl_fn)dlsym(RTLD_DEFAULT, "bm_ctl"); \
	CHECK(ctl != NULL, "bm_ctl is not exported"); \
} while (0)

static int rd_size(const char *name, size_t *v)
{
	size_t len = sizeof(*v);
	return ctl(name, v, &len, NULL, 0);
}

static int rd_u64(const char *name, uint64_t *v)
{
	size_t len = sizeof(*v);
	return ctl(name, v, &len, NULL, 0);
}

static int rd_unsigned(const char *name, unsigned *v)
{
	size_t len = sizeof(*v);
	return ctl(name, v, &len, NULL, 0);
}

static int epoch(void)
{
	uint64_t e = 1;
	return ctl("epoch", NULL, NULL, &e, sizeof(e));
}

/* Read a size_t / uint64_t figure after formatting its name. */
static size_t fig(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static size_t fig(const char *fmt, ...)
{
	char name[128];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(name, sizeof(name), fmt, ap);
	va_end(ap);
	size_t v = (size_t)-1, len = sizeof(v);
	if (ctl(name, &v, &len, NULL, 0) != 0 || len != sizeof(v)) {
		printf("  # reading %s failed\n", name);
		return (size_t)-1;
	}
	return v;
}

/* The class index whose size is exactly size, or -1. */
static int class_of(size_t size)
{
	unsigned n = 0;
	if (rd_unsigned("arenas.nbins", &n) != 0)
		return -1;
	for (unsigned i = 0; i < n; i++)
		if (fig("arenas.bin.%u.size", i) == size)
			return (int)i;
	return -1;
}

static unsigned my_arena(void)
{
	unsigned a = ~0u;
	rd_unsigned("thread.arena", &a);
	return a;
}

/* ---------------------------------------------------------------------- */
/* Names */

/* Replace each '#' of a pattern with 0. */
static void name_instance(const char *pat, char *out, size_t cap)
{
	size_t n = 0;
	for (; *pat != '\0' && n + 2 < cap; pat++)
		out[n++] = *pat == '#' ? '0' : *pat;
	out[n] = '\0';
}

/* One documented name answers as documented. */
static int check_one_name(const char *pat, const char *type)
{
	char name[160];
	unsigned char buf[64];
	size_t len = 0;
	name_instance(pat, name, sizeof(name));
	if (strstr(type, "fault") != NULL) {
		/* Plain builds: no such name. Fault builds: an action whose
		 * argument is a uint64_t (0 = inject nothing). */
		uint64_t none = 0;
		int err = ctl(name, NULL, NULL, NULL, 0);
		CHECK(err == ENOENT || (err == EINVAL &&
		    ctl(name, NULL, NULL, &none, sizeof(none)) == 0),
		    "%s answers %d", name, err);
		return CHECK_OK;
	}
	if (strcmp(type, "action (prof)") == 0) {
		/* The profiler's actions answer EAGAIN while it is off. */
		bool on = false;
		size_t l = sizeof(on);
		CHECK(ctl("opt.prof", &on, &l, NULL, 0) == 0);
		int err = ctl(name, NULL, NULL, NULL, 0);
		CHECK(err == (on ? 0 : EAGAIN), "%s answers %d", name, err);
		return CHECK_OK;
	}
	if (strcmp(type, "action") == 0) {
		CHECK(ctl(name, NULL, NULL, NULL, 0) == 0, "%s", name);
		CHECK(ctl(name, buf, &len, NULL, 0) == EINVAL, "%s with oldp", name);
		return CHECK_OK;
	}
	int err = ctl(name, NULL, &len, NULL, 0);
	CHECK(err == 0, "length query of %s = %d", name, err);
	if (strcmp(type, "size_t[]") == 0) {
		CHECK(len > 0 && len % (LIST_WORDS * sizeof(size_t)) == 0,
		    "%s needs %zu bytes", name, len);
		return CHECK_OK;
	}
	CHECK(len == check_ctl_type_size(type), "%s: length %zu, documented %s",
	    name, len, type);
	memset(buf, 0xa5, sizeof(buf));
	err = ctl(name, buf, &len, NULL, 0);
	CHECK(err == 0, "reading %s = %d", name, err);
	CHECK(buf[len] == 0xa5, "%s wrote past its %zu bytes", name, len);
	if (strcmp(type, "const char *") == 0) {
		const char *s;
		memcpy(&s, buf, sizeof(s));
		CHECK(s != NULL && strlen(s) < 4096, "%s: bad string", name);
	}
	if (strcmp(type, "bool") == 0)
		CHECK(buf[0] <= 1, "%s: bool %u", name, buf[0]);
	return CHECK_OK;
}

static int check_ctl_names(void)
{
	NEED_CTL();
	const char *path = getenv("BM_STATS_NAMES");
	CHECK(path != NULL, "BM_STATS_NAMES is not set");
	FILE *f = fopen(path, "r");
	CHECK(f != NULL, "%s: %s", path, strerror(errno));
	char line[256];
	int n = 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		char *tab = strchr(line, '\t');
		CHECK(tab != NULL, "bad line '%s'", line);
		*tab = '\0';
		if (check_one_name(line, tab + 1) != CHECK_OK)
			return CHECK_FAILED;
		n++;
	}
	fclose(f);
	CHECK(n >= 50, "only %d names documented", n);
	printf("  # %d names answer\n", n);
	return CHECK_OK;
}

static int check_ctl_errors(void)
{
	NEED_CTL();
	size_t v, len;
	unsigned u;
	CHECK(ctl("stats.nope", &v, &len, NULL, 0) == ENOENT);
	CHECK(ctl("", NULL, NULL, NULL, 0) == ENOENT);
	CHECK(ctl("stats.allocated.x", NULL, NULL, NULL, 0) == ENOENT);
	CHECK(ctl("stats.allocate", NULL, NULL, NULL, 0) == ENOENT);
	CHECK(ctl("stats.bins..live", NULL, NULL, NULL, 0) == ENOENT);
	CHECK(ctl("stats.bins.x.live", NULL, NULL, NULL, 0) == ENOENT);
	CHECK(ctl(NULL, NULL, NULL, NULL, 0) == EINVAL);
	len = sizeof(v);
	CHECK(ctl("stats.bins.4096.live", &v, &len, NULL, 0) == ENOENT);
	CHECK(ctl("stats.bins.99999999999.live", &v, &len, NULL, 0) == ENOENT);
	CHECK(ctl("stats.arenas.65535.active", &v, &len, NULL, 0) == ENOENT);
	CHECK(ctl("arena.65535.purge", NULL, NULL, NULL, 0) == ENOENT);
	len = sizeof(v);
	CHECK(ctl("stats.arenas.0.bins.4096.live", &v, &len, NULL, 0) == ENOENT);
	len = 4;
	CHECK(ctl("stats.allocated", &v, &len, NULL, 0) == EINVAL);
	CHECK(len == sizeof(size_t), "len corrected to %zu", len);
	len = sizeof(size_t);
	CHECK(ctl("arenas.narenas", &u, &len, NULL, 0) == EINVAL);
	CHECK(len == sizeof(unsigned));
	CHECK(ctl("stats.allocated", &v, NULL, NULL, 0) == EINVAL);
	v = 1;
	CHECK(ctl("stats.allocated", NULL, NULL, &v, sizeof(v)) == EPERM);
	CHECK(ctl("opt.dirty_max", NULL, NULL, &v, sizeof(v)) == EPERM);
	CHECK(ctl("version", NULL, NULL, &v, sizeof(v)) == EPERM);
	CHECK(ctl("epoch", NULL, NULL, &v, 4) == EINVAL);
	CHECK(ctl("arena.purge", NULL, NULL, &v, sizeof(v)) == EINVAL);
	len = sizeof(v);
	CHECK(ctl("arena.purge", &v, &len, NULL, 0) == EINVAL);
	size_t small[LIST_WORDS];
	len = sizeof(small);
	int err = ctl("stats.base.blocks_list", small, &len, NULL, 0);
	if (fig("stats.base.blocks") > 1) {
		CHECK(err == EINVAL, "a one-entry buffer for the list: %d", err);
		CHECK(len >= 2 * sizeof(small), "needed %zu", len);
	}
	return CHECK_OK;
}

/* ---------------------------------------------------------------------- */
/* Figures against what the check did */

static int check_epoch_snapshot(void)
{
	NEED_CTL();
	uint64_t e0, e1;
	CHECK(epoch() == 0);
	CHECK(rd_u64("epoch", &e0) == 0 && e0 >= 1, "epoch %lu",
	    (unsigned long)e0);
	size_t before = fig("stats.allocated");
	void *p = malloc(3 * MiB);
	CHECK(p != NULL);
	CHECK(fig("stats.allocated") == before, "the snapshot moved");
	CHECK(epoch() == 0);
	CHECK(rd_u64("epoch", &e1) == 0 && e1 == e0 + 1);
	size_t after = fig("stats.allocated");
	CHECK(after >= before + 3 * MiB, "%zu -> %zu", before, after);
	size_t len = sizeof(e1);
	e0 = 1;
	CHECK(ctl("epoch", &e1, &len, &e0, sizeof(e0)) == 0);
	CHECK(e1 == e0 + 1 || e1 > 2, "read-and-write returns the new epoch");
	free(p);
	return CHECK_OK;
}

#define K 1000
/* Enough 48-byte objects to fill several slabs (full slabs are on no list). */
#define NLIVE 5000

static int check_live_objects(void)
{
	NEED_CTL();
	int c = class_of(48);
	CHECK(c >= 0, "no 48-byte class");
	unsigned a = my_arena();
	static void *p[NLIVE];
	size_t live0 = fig("stats.arenas.%u.bins.%d.live", a, c);
	size_t small0 = fig("stats.arenas.%u.small.live", a);
	size_t slabs0 = fig("stats.arenas.%u.bins.%d.slabs", a, c);
	CHECK(epoch() == 0);
	size_t glive0 = fig("stats.bins.%d.live", c);
	for (int i = 0; i < NLIVE; i++)
		CHECK((p[i] = malloc(48)) != NULL);
	size_t live1 = fig("stats.arenas.%u.bins.%d.live", a, c);
	CHECK(live1 == live0 + NLIVE, "live %zu -> %zu after %d mallocs", live0,
	    live1, NLIVE);
	CHECK(fig("stats.arenas.%u.small.live", a) == small0 + NLIVE);
	CHECK(epoch() == 0);
	CHECK(fig("stats.bins.%d.live", c) == glive0 + NLIVE);
	size_t nblocks = fig("stats.arenas.%u.bins.%d.capacity", a, c) /
	    fig("stats.arenas.%u.bins.%d.slabs", a, c);
	CHECK(fig("stats.arenas.%u.bins.%d.slabs", a, c) >=
	    (live1 + nblocks - 1) / nblocks, "slabs hold the objects");
	for (int i = 0; i < NLIVE; i++)
		free(p[i]);
	size_t live2 = fig("stats.arenas.%u.bins.%d.live", a, c);
	CHECK(live2 == live0, "live %zu after freeing back to %zu", live2,
	    live0);
	CHECK(fig("stats.arenas.%u.bins.%d.slabs", a, c) <= slabs0 + 2,
	    "empty slabs beyond the current one and a spare were kept");
	return CHECK_OK;
}

static int check_large_huge(void)
{
	NEED_CTL();
	unsigned a = my_arena();
	size_t lc = fig("stats.arenas.%u.large.count", a);
	size_t lb = fig("stats.arenas.%u.large.bytes", a);
	size_t hc = fig("stats.arenas.%u.huge.count", a);
	size_t hb = fig("stats.arenas.%u.huge.bytes", a);
	void *l = malloc(100 * KiB), *h = malloc(64 * MiB);
	CHECK(l != NULL && h != NULL);
	CHECK(fig("stats.arenas.%u.large.count", a) == lc + 1);
	CHECK(fig("stats.arenas.%u.large.bytes", a) == lb +
	    malloc_usable_size(l), "large bytes");
	CHECK(fig("stats.arenas.%u.huge.count", a) == hc + 1);
	CHECK(fig("stats.arenas.%u.huge.bytes", a) == hb +
	    malloc_usable_size(h), "huge bytes");
	CHECK(epoch() == 0);
	CHECK(fig("stats.huge.count") >= 1 && fig("stats.huge.bytes") >= 64 * MiB);
	CHECK(fig("stats.large.count") >= 1);
	free(l);
	free(h);
	CHECK(fig("stats.arenas.%u.large.count", a) == lc);
	CHECK(fig("stats.arenas.%u.large.bytes", a) == lb);
	CHECK(fig("stats.arenas.%u.huge.count", a) == hc);
	CHECK(fig("stats.arenas.%u.huge.bytes", a) == hb);
	return CHECK_OK;
}

#define NREMOTE 5000

static void *free_all(void *arg)
{
	void **p = arg;
	for (int i = 0; i < NREMOTE; i++)
		free(p[i]);
	return NULL;
}

/* Another thread frees NREMOTE blocks; allocating as many again makes the
 * owner collect every one of them (the freed slabs are the only room). */
static int check_remote_frees(void)
{
	NEED_CTL();
	static void *p[NREMOTE];
	pthread_t t;
	int c = class_of(64);
	CHECK(c >= 0);
	unsigned a = my_arena();
	for (int i = 0; i < NREMOTE; i++)
		CHECK((p[i] = malloc(64)) != NULL);
	size_t r0 = fig("stats.arenas.%u.remote_frees", a);
	size_t slabs = fig("stats.arenas.%u.bins.%d.slabs", a, c);
	CHECK(pthread_create(&t, NULL, free_all, p) == 0);
	CHECK(pthread_join(t, NULL) == 0);
	CHECK(fig("stats.arenas.%u.remote_frees", a) == r0, "counted early");
	for (int i = 0; i < NREMOTE; i++)
		CHECK((p[i] = malloc(64)) != NULL);
	size_t r1 = fig("stats.arenas.%u.remote_frees", a);
	size_t slabs1 = fig("stats.arenas.%u.bins.%d.slabs", a, c);
	printf("  # remote frees %zu -> %zu, slabs %zu -> %zu\n", r0, r1, slabs,
	    slabs1);
	if (slabs1 == slabs)
		CHECK(r1 == r0 + NREMOTE, "remote frees %zu -> %zu", r0, r1);
	else
		CHECK(r1 > r0 && r1 <= r0 + NREMOTE, "remote frees %zu -> %zu",
		    r0, r1);
	CHECK(fig("stats.arenas.%u.bins.%d.live", a, c) >= NREMOTE);
	CHECK(epoch() == 0);
	CHECK(fig("stats.remote_frees") >= r1 - r0);
	return CHECK_OK;
}

/* Every mapping goes through the OS layer: its net mapped bytes are the
 * page chunks, the huge mappings and the base blocks. */
static int check_mapped_accounting(void)
{
	NEED_CTL();
	void *h = malloc(40 * MiB), *l = malloc(3 * MiB);
	CHECK(h != NULL && l != NULL);
	h = realloc(h, 80 * MiB);
	CHECK(h != NULL);
	CHECK(epoch() == 0);
	size_t mapped = fig("stats.mapped"), os = fig("stats.os_mapped");
	CHECK(mapped == os, "stats.mapped %zu, os layer %zu", mapped, os);
	CHECK(mapped == fig("stats.pages_mapped") + fig("stats.huge.bytes") +
	    fig("stats.base.mapped") + fig("stats.rtree_mapped"));
	CHECK(fig("stats.mmap_calls") > 0);
	CHECK(fig("stats.mremap_calls") >= 1);
	CHECK(fig("stats.allocated") <= fig("stats.active"));
	CHECK(fig("stats.active") <= fig("stats.mapped"));
	CHECK(fig("stats.base.allocated") <= fig("stats.base.resident"));
	CHECK(fig("stats.base.resident") <= fig("stats.base.mapped"));
	CHECK(fig("stats.metadata") == fig("stats.base.allocated"));
	free(h);
	free(l);
	return CHECK_OK;
}

/* ---------------------------------------------------------------------- */
/* Base blocks against /proc/self/smaps */

typedef struct {
	uintptr_t start, end;
	bool rw_private_anon, hg;
	size_t anon_huge;   /* AnonHugePages bytes */
} vma_t;

#define MAX_VMAS 4096
static vma_t vmas[MAX_VMAS];

static int smaps_read(void)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512];
	int n = 0;
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		unsigned long s, e, kb;
		char perms[8], path[256];
		path[0] = '\0';
		int k = sscanf(line, "%lx-%lx %7s %*s %*s %*s %255s", &s, &e, perms,
		    path);
		if (k >= 3 && strchr(line, '-') < strchr(line, ' ')) {
			if (n == MAX_VMAS)
				break;
			vmas[n].start = s;
			vmas[n].end = e;
			vmas[n].rw_private_anon = strcmp(perms, "rw-p") == 0 &&
			    k == 3;
			vmas[n].hg = false;
			vmas[n].anon_huge = 0;
			n++;
		} else if (n > 0 && strncmp(line, "VmFlags:", 8) == 0) {
			vmas[n - 1].hg = strstr(line, " hg") != NULL;
		} else if (n > 0 && sscanf(line, "AnonHugePages: %lu kB", &kb) == 1) {
			vmas[n - 1].anon_huge = kb * KiB;
		}
	}
	fclose(f);
	return n;
}

/* The VMAs covering [start, end): all anonymous rw-p, all hg or none.
 * Returns 0, or a description of what is wrong in why. */
static int range_vmas(int nv, uintptr_t start, uintptr_t end, int *hg,
    size_t *anon_huge, const char **why)
{
	uintptr_t at = start;
	*hg = -1;
	*anon_huge = 0;
	for (int i = 0; i < nv && at < end; i++) {
		if (vmas[i].end <= at || vmas[i].start > at)
			continue;
		if (!vmas[i].rw_private_anon) {
			*why = "not an anonymous rw-p mapping";
			return -1;
		}
		if (*hg != -1 && *hg != vmas[i].hg) {
			*why = "part hg, part not";
			return -1;
		}
		*hg = vmas[i].hg;
		*anon_huge += vmas[i].anon_huge;
		at = vmas[i].end;
	}
	if (at < end) {
		*why = "not mapped";
		return -1;
	}
	return 0;
}

static size_t *blocks_list(size_t *n)
{
	size_t len = 0;
	*n = 0;
	if (ctl("stats.base.blocks_list", NULL, &len, NULL, 0) != 0)
		return NULL;
	len += 16 * LIST_WORDS * sizeof(size_t);
	size_t *w = malloc(len);
	if (w == NULL || ctl("stats.base.blocks_list", w, &len, NULL, 0) != 0)
		return NULL;
	*n = len / (LIST_WORDS * sizeof(size_t));
	return w;
}

/* Resident bytes of [addr, addr+size) from mincore. */
static size_t resident_bytes(uintptr_t addr, size_t size)
{
	static unsigned char vec[(1u << 30) / 4096];
	size_t pages = size / PAGE_SZ, n = 0;
	if (pages > sizeof(vec) || mincore((void *)addr, size, vec) != 0)
		return (size_t)-1;
	for (size_t i = 0; i < pages; i++)
		n += vec[i] & 1;
	return n * PAGE_SZ;
}

static int check_base_blocks_smaps(void)
{
	NEED_CTL();
	size_t n;
	size_t *w = blocks_list(&n);
	CHECK(w != NULL && n > 0, "no block list");
	CHECK(epoch() == 0);
	size_t mapped = 0, used = 0, res = 0;
	for (size_t i = 0; i < n; i++) {
		size_t *b = w + i * LIST_WORDS;
		CHECK(b[1] % HUGEPAGE == 0 && b[2] % HUGEPAGE == 0 && b[2] > 0,
		    "block %#zx size %zu not HUGEPAGE-aligned", b[1], b[2]);
		CHECK(b[3] > 0 && b[3] <= b[2]);
		mapped += b[2];
		used += b[3];
		res += (b[3] + PAGE_SZ - 1) / PAGE_SZ * PAGE_SZ;
	}
	CHECK(n == fig("stats.base.blocks"), "%zu listed, %zu counted", n,
	    fig("stats.base.blocks"));
	CHECK(mapped == fig("stats.base.mapped"), "listed %zu, mapped %zu",
	    mapped, fig("stats.base.mapped"));
	CHECK(used == fig("stats.base.allocated"));
	CHECK(res == fig("stats.base.resident"));
	CHECK(fig("stats.b0.blocks") >= 1 && fig("stats.b0.blocks") < n);
	int nv = smaps_read();
	CHECK(nv > 0, "cannot read /proc/self/smaps");
	for (size_t i = 0; i < n; i++) {
		size_t *b = w + i * LIST_WORDS;
		int hg;
		size_t ah;
		const char *why = "";
		CHECK(range_vmas(nv, b[1], b[1] + b[2], &hg, &ah, &why) == 0,
		    "block %#zx (%zu bytes): %s", b[1], b[2], why);
		if (hg)
			continue;
		/* Without huge pages, nothing past the bump pointer is touched. */
		size_t tail = (b[3] + PAGE_SZ - 1) / PAGE_SZ * PAGE_SZ;
		size_t r = resident_bytes(b[1] + tail, b[2] - tail);
		CHECK(r == 0, "block %#zx: %zu bytes resident past its tail "
		    "(used %zu)", b[1], r, b[3]);
		CHECK(resident_bytes(b[1], PAGE_SZ) == PAGE_SZ,
		    "block header page not resident");
	}
	free(w);
	return CHECK_OK;
}

static const char *sys_thp_mode(void)
{
	static char buf[128];
	FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
	if (f == NULL || fgets(buf, sizeof(buf), f) == NULL) {
		if (f)
			fclose(f);
		return "unknown";
	}
	fclose(f);
	if (strstr(buf, "[madvise]"))
		return "madvise";
	if (strstr(buf, "[always]"))
		return "always";
	return "never";
}

/* n_thp against the hg VmFlag (and AnonHugePages) of the blocks' mappings. */
static int check_thp_hg(void)
{
	NEED_CTL();
	const char *opt = NULL;
	size_t len = sizeof(opt), n;
	CHECK(ctl("opt.metadata_thp", &opt, &len, NULL, 0) == 0);
	size_t *w = blocks_list(&n);
	CHECK(w != NULL && n > 0);
	CHECK(epoch() == 0);
	size_t n_thp = fig("stats.base.n_thp"), listed_thp = 0, hg_ah = 0;
	int nv = smaps_read();
	CHECK(nv > 0);
	bool madvise = strcmp(sys_thp_mode(), "madvise") == 0;
	for (size_t i = 0; i < n; i++) {
		size_t *b = w + i * LIST_WORDS, ah;
		int hg;
		const char *why = "";
		CHECK(range_vmas(nv, b[1], b[1] + b[2], &hg, &ah, &why) == 0,
		    "block %#zx: %s", b[1], why);
		CHECK(hg == (int)b[4], "block %#zx: hg %d, stats say %zu", b[1],
		    hg, b[4]);
		if (b[4])
			listed_thp += b[2];
		else if (madvise)
			CHECK(ah == 0, "AnonHugePages %zu in a block never advised", ah);
	}
	CHECK(listed_thp == n_thp, "blocks advised %zu, n_thp %zu", listed_thp,
	    n_thp);
	size_t hg_bytes = 0;
	for (int i = 0; i < nv; i++) {
		if (vmas[i].hg) {
			hg_bytes += vmas[i].end - vmas[i].start;
			hg_ah += vmas[i].anon_huge;
		}
	}
	CHECK(hg_bytes == n_thp, "hg mappings %zu bytes, n_thp %zu", hg_bytes,
	    n_thp);
	CHECK(hg_ah <= n_thp);
	if (strcmp(opt, "disabled") == 0 || !madvise)
		CHECK(n_thp == 0, "n_thp %zu with metadata_thp %s, THP %s", n_thp,
		    opt, sys_thp_mode());
	if (strcmp(opt, "always") == 0 && madvise)
		CHECK(n_thp == fig("stats.base.mapped"), "always: %zu of %zu",
		    n_thp, fig("stats.base.mapped"));
	printf("  # metadata_thp %s, THP %s: %zu blocks, n_thp %zu, "
	    "AnonHugePages in them %zu\n", opt, sys_thp_mode(), n, n_thp, hg_ah);
	free(w);
	return CHECK_OK;
}

/* ---------------------------------------------------------------------- */
/* Options, threads, purge */

/* The expected text of option name: BASEMALLOC_CONF's value, else def. */
static const char *opt_expected(const char *name, const char *def,
    char *buf, size_t cap)
{
	const char *env = getenv("BASEMALLOC_CONF");
	size_t nl = strlen(name);
	snprintf(buf, cap, "%s", def);
	for (const char *s = env; s != NULL && *s != '\0';) {
		const char *end = strchr(s, ',');
		size_t len = end ? (size_t)(end - s) : strlen(s);
		if (len > nl && strncmp(s, name, nl) == 0 && s[nl] == ':')
			snprintf(buf, cap, "%.*s", (int)(len - nl - 1), s + nl + 1);
		s = end ? end + 1 : NULL;
	}
	return buf;
}

static size_t parse_size(const char *s)
{
	char *end;
	size_t v = strtoull(s, &end, 10);
	switch (*end) {
	case 'k': case 'K': return v << 10;
	case 'm': case 'M': return v << 20;
	case 'g': case 'G': return v << 30;
	default: return v;
	}
}

/* opt.NAME reads what BASEMALLOC_CONF (or README's default) says. */
static int check_one_opt(const char *name, const char *want)
{
	char ctlname[300];
	unsigned char buf[16];
	size_t len = 0;
	snprintf(ctlname, sizeof(ctlname), "opt.%s", name);
	CHECK(ctl(ctlname, NULL, &len, NULL, 0) == 0, "%s does not answer",
	    ctlname);
	CHECK(ctl(ctlname, buf, &len, NULL, 0) == 0);
	if (len == sizeof(bool)) {
		CHECK(buf[0] == (strcmp(want, "true") == 0), "%s = %u, want %s",
		    ctlname, buf[0], want);
	} else if (strcmp(name, "dirty_decay_ms") == 0) {
		long v;
		memcpy(&v, buf, sizeof(v));
		CHECK(v == strtol(want, NULL, 10), "%s = %ld, want %s", ctlname, v,
		    want);
	} else if (strcmp(name, "dirty_max") == 0 ||
	    strcmp(name, "prof_sample") == 0 ||
	    strcmp(name, "prof_gdump") == 0) {
		size_t v;
		memcpy(&v, buf, sizeof(v));
		CHECK(v == parse_size(want), "%s = %zu, want %s", ctlname, v, want);
	} else {
		const char *s;
		memcpy(&s, buf, sizeof(s));
		CHECK(strcmp(s, want) == 0, "%s = '%s', want '%s'", ctlname, s, want);
	}
	return CHECK_OK;
}

static int check_opt_values(void)
{
	NEED_CTL();
	const char *path = getenv("BM_STATS_OPTIONS");
	CHECK(path != NULL, "BM_STATS_OPTIONS is not set");
	FILE *f = fopen(path, "r");
	CHECK(f != NULL, "%s: %s", path, strerror(errno));
	char line[256], want[256];
	int n = 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		char *tab = strchr(line, '\t');
		CHECK(tab != NULL, "bad line '%s'", line);
		*tab = '\0';
		opt_expected(line, tab + 1, want, sizeof(want));
		if (check_one_opt(line, want) != CHECK_OK)
			return CHECK_FAILED;
		n++;
	}
	fclose(f);
	CHECK(n >= 8, "only %d options in README", n);
	return CHECK_OK;
}

static void *thread_arena(void *arg)
{
	unsigned *out = arg;
	free(malloc(16));
	*out = my_arena();
	return NULL;
}

static void *thread_hold(void *arg)
{
	pthread_barrier_t *b = arg;
	free(malloc(16));
	pthread_barrier_wait(b);
	pthread_barrier_wait(b);
	return NULL;
}

static int check_threads(void)
{
	NEED_CTL();
	pthread_t t;
	pthread_barrier_t bar;
	unsigned in0, in1, ab0, ab1, other = ~0u;
	uint64_t ad0, ad1;
	unsigned mine = my_arena();
	CHECK(rd_unsigned("arenas.in_use", &in0) == 0);
	CHECK(rd_unsigned("arenas.abandoned", &ab0) == 0);
	CHECK(pthread_barrier_init(&bar, NULL, 2) == 0);
	CHECK(pthread_create(&t, NULL, thread_hold, &bar) == 0);
	pthread_barrier_wait(&bar);
	CHECK(rd_unsigned("arenas.in_use", &in1) == 0);
	CHECK(in1 == in0 + 1, "in use %u -> %u with one more thread", in0, in1);
	pthread_barrier_wait(&bar);
	CHECK(pthread_join(t, NULL) == 0);
	CHECK(rd_unsigned("arenas.abandoned", &ab1) == 0);
	CHECK(ab1 == ab0 + 1, "abandoned %u -> %u after the exit", ab0, ab1);
	CHECK(rd_u64("arenas.adopted", &ad0) == 0);
	CHECK(pthread_create(&t, NULL, thread_arena, &other) == 0);
	CHECK(pthread_join(t, NULL) == 0);
	CHECK(rd_u64("arenas.adopted", &ad1) == 0);
	CHECK(ad1 == ad0 + 1, "adopted %lu -> %lu", (unsigned long)ad0,
	    (unsigned long)ad1);
	unsigned narenas = 0;
	CHECK(rd_unsigned("arenas.narenas", &narenas) == 0);
	CHECK(other != mine && other < narenas, "arena %u of %u, mine %u",
	    other, narenas, mine);
	CHECK(fig("stats.arenas.%u.adopted", other) >= 1);
	return CHECK_OK;
}

/* Run with dirty_decay_ms:-1 and a dirty_max above 8 MiB: freed runs stay
 * dirty until arena.purge. A 12 MiB block stays live meanwhile, so the heap
 * never looks idle. Freed bytes are dirty or purged, never lost. */
static int check_arena_purge(void)
{
	NEED_CTL();
	long decay = 0;
	size_t len = sizeof(decay), dmax = 0;
	CHECK(ctl("opt.dirty_decay_ms", &decay, &len, NULL, 0) == 0);
	CHECK(rd_size("opt.dirty_max", &dmax) == 0);
	if (decay != -1 || dmax < 16 * MiB)
		NOT_APPLICABLE("needs BASEMALLOC_CONF=dirty_decay_ms:-1,dirty_max:16M");
	unsigned a = my_arena();
	void *p[4], *keep = malloc(12 * MiB);
	CHECK(keep != NULL);
	memset(keep, 1, 12 * MiB);
	for (int i = 0; i < 4; i++)
		CHECK((p[i] = malloc(2 * MiB)) != NULL);
	for (int i = 0; i < 4; i++)
		memset(p[i], 1, 2 * MiB);
	size_t dirty0 = fig("stats.arenas.%u.dirty", a);
	size_t purged0 = fig("stats.arenas.%u.purged", a);
	size_t runs0 = fig("stats.arenas.%u.purge_runs", a);
	for (int i = 0; i < 4; i++)
		free(p[i]);
	size_t dirty = fig("stats.arenas.%u.dirty", a);
	size_t purged1 = fig("stats.arenas.%u.purged", a);
	CHECK(dirty + purged1 >= dirty0 + purged0 + 8 * MiB, "freed 8 MiB: "
	    "dirty %zu -> %zu, purged %zu -> %zu", dirty0, dirty, purged0,
	    purged1);
	CHECK(dirty >= 8 * MiB, "dirty %zu after freeing 8 MiB (purged %zu -> "
	    "%zu)", dirty, purged0, purged1);
	CHECK(epoch() == 0);
	CHECK(fig("stats.dirty") >= 8 * MiB);
	CHECK(ctl("arena.purge", NULL, NULL, NULL, 0) == 0);
	CHECK(fig("stats.arenas.%u.dirty", a) == 0);
	CHECK(fig("stats.arenas.%u.purged", a) == purged1 + dirty);
	CHECK(fig("stats.arenas.%u.purge_runs", a) > runs0);
	CHECK((p[0] = malloc(2 * MiB)) != NULL);
	memset(p[0], 1, 2 * MiB);
	free(p[0]);
	char name[64];
	snprintf(name, sizeof(name), "arena.%u.purge", a);
	CHECK(fig("stats.arenas.%u.dirty", a) > 0);
	CHECK(ctl(name, NULL, NULL, NULL, 0) == 0);
	CHECK(fig("stats.arenas.%u.dirty", a) == 0);
	free(keep);
	return CHECK_OK;
}

/* ---------------------------------------------------------------------- */
/* Reports and glibc's calls */

typedef struct {
	char *buf;
	size_t len, cap, calls;
} sink_t;

static void sink_write(void *opaque, const char *text)
{
	sink_t *s = opaque;
	size_t n = strlen(text);
	s->calls++;
	if (s->len + n + 1 > s->cap) {
		s->cap = (s->len + n + 1) * 2;
		s->buf = realloc(s->buf, s->cap);
	}
	memcpy(s->buf + s->len, text, n + 1);
	s->len += n;
}

static int report(sink_t *s, const char *opts)
{
	print_fn pr = (print_fn)dlsym(RTLD_DEFAULT, "bm_stats_print");
	memset(s, 0, sizeof(*s));
	/* Room for the whole report: no allocation while it is written, so
	 * its totals and its sections describe the same heap. */
	s->cap = 4 * MiB;
	s->buf = malloc(s->cap);
	if (pr == NULL || s->buf == NULL)
		return -1;
	s->buf[0] = '\0';
	pr(sink_write, s, opts);
	return s->len > 0 ? 0 : -1;
}

static int write_file(const char *name, const char *text, size_t len)
{
	const char *dir = getenv("BM_STATS_TMP");
	char path[512];
	if (dir == NULL)
		return -1;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	if (f == NULL)
		return -1;
	size_t n = fwrite(text, 1, len, f);
	return fclose(f) == 0 && n == len ? 0 : -1;
}

/* Count lines of the block tables ("  <n>  0x<addr> ..."). */
static size_t count_block_rows(const char *text)
{
	size_t n = 0;
	for (const char *l = text; l != NULL && *l; l = strchr(l, '\n')) {
		if (*l == '\n')
			l++;
		unsigned long idx;
		char addr[32];
		if (sscanf(l, " %lu %31s", &idx, addr) == 2 &&
		    strncmp(addr, "0x", 2) == 0)
			n++;
	}
	return n;
}

static int check_text_report(void)
{
	NEED_CTL();
	sink_t s;
	void *keep = malloc(100);
	CHECK(report(&s, "") == 0, "bm_stats_print wrote nothing");
	CHECK(strncmp(s.buf, "___ Begin basemalloc statistics ___\n", 36) == 0);
	CHECK(strstr(s.buf, "___ End basemalloc statistics ___\n") != NULL);
	CHECK(strstr(s.buf, "\nTotals") != NULL);
	CHECK(strstr(s.buf, "Boot base b0") != NULL);
	CHECK(strstr(s.buf, "\nArena 0:") != NULL);
	CHECK(strstr(s.buf, "\nSize classes") != NULL);
	char *t = strstr(s.buf, "\nTotals"), *ar = strstr(s.buf, "\nArena 0:");
	char *cl = strstr(s.buf, "\nSize classes");
	CHECK(t < ar && ar < cl, "totals, arenas, classes in that order");
	CHECK(epoch() == 0);
	size_t rows = count_block_rows(s.buf), blocks = fig("stats.base.blocks");
	CHECK(rows == blocks, "%zu block rows, %zu blocks", rows, blocks);
	CHECK(s.len > 4096 ? s.calls > 1 : s.calls >= 1);
	CHECK(write_file("report.txt", s.buf, s.len) == 0);
	free(s.buf);
	CHECK(report(&s, "abc") == 0);
	CHECK(strstr(s.buf, "\nArena 0:") == NULL && strstr(s.buf, "Size classes")
	    == NULL && count_block_rows(s.buf) == 0, "opts abc left sections in");
	free(s.buf);
	free(keep);
	return CHECK_OK;
}

static int check_json_report(void)
{
	NEED_CTL();
	sink_t s;
	void *big = malloc(50 * MiB), *mid = malloc(200 * KiB);
	CHECK(report(&s, "J") == 0);
	CHECK(s.buf[0] == '{' && strcmp(s.buf + s.len - 2, "}\n") == 0);
	CHECK(write_file("report.json", s.buf, s.len) == 0);
	free(s.buf);
	CHECK(report(&s, "Jbc") == 0);
	CHECK(strstr(s.buf, "block_list") == NULL);
	CHECK(write_file("report-bc.json", s.buf, s.len) == 0);
	free(s.buf);
	free(big);
	free(mid);
	return CHECK_OK;
}

static int check_mallinfo2(void)
{
	NEED_CTL();
	struct mallinfo2 m0 = mallinfo2(), m1, m2;
	void *p[K];
	for (int i = 0; i < K; i++)
		CHECK((p[i] = malloc(200)) != NULL);
	void *h = malloc(48 * MiB);
	CHECK(h != NULL);
	m1 = mallinfo2();
	CHECK(m1.uordblks >= m0.uordblks + K * 200, "uordblks %zu -> %zu",
	    m0.uordblks, m1.uordblks);
	CHECK(m1.hblks == m0.hblks + 1 && m1.hblkhd >= m0.hblkhd + 48 * MiB);
	CHECK(m1.arena >= m1.uordblks && m1.fordblks == m1.arena - m1.uordblks);
	CHECK(m1.keepcost == 0 && m1.usmblks == 0);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
	struct mallinfo mi = mallinfo();
#pragma GCC diagnostic pop
	CHECK((size_t)mi.uordblks == m1.uordblks && (size_t)mi.arena == m1.arena
	    && (size_t)mi.hblkhd == m1.hblkhd, "mallinfo differs from mallinfo2");
	for (int i = 0; i < K; i++)
		free(p[i]);
	free(h);
	m2 = mallinfo2();
	CHECK(m2.uordblks <= m1.uordblks - K * 200 && m2.hblks == m0.hblks);
	return CHECK_OK;
}

static int check_malloc_info(void)
{
	NEED_CTL();
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	CHECK(f != NULL);
	void *keep = malloc(40 * MiB);
	CHECK(malloc_info(0, f) == 0);
	CHECK(malloc_info(1, f) == EINVAL);
	CHECK(fclose(f) == 0);
	CHECK(strncmp(buf, "<malloc version=\"1\">\n<heap nr=\"0\">", 34) == 0,
	    "starts '%.40s'", buf);
	CHECK(strcmp(buf + len - 10, "</malloc>\n") == 0);
	CHECK(strstr(buf, "<total type=\"mmap\" count=\"") != NULL);
	CHECK(write_file("info.xml", buf, len) == 0);
	free(buf);
	free(keep);
	return CHECK_OK;
}

static int check_malloc_stats(void)
{
	NEED_CTL();
	char path[] = "/tmp/bm-stats-XXXXXX", buf[8192];
	int fd = mkstemp(path), saved = dup(2);
	CHECK(fd >= 0 && saved >= 0);
	unlink(path);
	fflush(stderr);
	dup2(fd, 2);
	malloc_stats();
	dup2(saved, 2);
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	close(fd);
	CHECK(n > 0, "malloc_stats wrote nothing");
	buf[n] = '\0';
	CHECK(strncmp(buf, "Arena 0:\nsystem bytes     =", 27) == 0, "'%.40s'",
	    buf);
	CHECK(strstr(buf, "\nTotal (incl. mmap):\nsystem bytes     =") != NULL);
	CHECK(strstr(buf, "\nin use bytes     =") != NULL);
	return CHECK_OK;
}

#define NWORKERS 3
#define WORKER_OPS 300000
#define WINDOW 2000
static _Atomic int workers_done;

/* Random small mallocs and frees in a window; frees everything at the end. */
static void *churn_worker(void *arg)
{
	static __thread void *win[WINDOW];
	uint64_t seed = (uintptr_t)arg * 7919 + 1;
	for (int i = 0; i < WORKER_OPS; i++) {
		unsigned k = (unsigned)(check_rand(&seed) % WINDOW);
		free(win[k]);
		win[k] = malloc(1 + check_rand(&seed) % 3000);
	}
	for (int k = 0; k < WINDOW; k++) {
		free(win[k]);
		win[k] = NULL;
	}
	atomic_fetch_add(&workers_done, 1);
	return NULL;
}

/* One pass over everything a reader can ask while other threads allocate:
 * no crash, no hang, every figure answers. */
static int read_all_once(sink_t *s, int round)
{
	print_fn pr = (print_fn)dlsym(RTLD_DEFAULT, "bm_stats_print");
	unsigned na = 0;
	s->len = 0;
	pr(sink_write, s, round % 2 ? "J" : "");
	CHECK(s->len > 0);
	CHECK(epoch() == 0);
	CHECK(fig("stats.small.live") != (size_t)-1);
	CHECK(rd_unsigned("arenas.narenas", &na) == 0);
	for (unsigned a = 0; a < na; a++) {
		for (int c = 0; c < 36; c++) {
			/* Two calls, two moments: a churning thread may free a
			 * slab in between, so live and capacity are only checked
			 * to answer here (each call clamps live to its own
			 * capacity; check_live_objects checks the figures). */
			size_t live = fig("stats.arenas.%u.bins.%d.live", a, c);
			size_t cap = fig("stats.arenas.%u.bins.%d.capacity", a, c);
			CHECK(live != (size_t)-1 && cap != (size_t)-1,
			    "arena %u class %d: no answer", a, c);
		}
	}
	return CHECK_OK;
}

static int check_concurrent_reads(void)
{
	NEED_CTL();
	pthread_t t[NWORKERS];
	sink_t s;
	unsigned mine = my_arena(), na = 0;
	int rounds = 0;
	uint64_t starts0 = 0, starts1 = 0;
	CHECK(rd_u64("background_thread.starts", &starts0) == 0);
	memset(&s, 0, sizeof(s));
	s.cap = 4 * MiB;
	CHECK((s.buf = malloc(s.cap)) != NULL);
	for (long i = 0; i < NWORKERS; i++)
		CHECK(pthread_create(&t[i], NULL, churn_worker, (void *)i) == 0);
	while (atomic_load(&workers_done) < NWORKERS) {
		if (read_all_once(&s, rounds++) != CHECK_OK)
			return CHECK_FAILED;
	}
	for (int i = 0; i < NWORKERS; i++)
		CHECK(pthread_join(t[i], NULL) == 0);
	printf("  # %d report rounds while %d threads allocated\n", rounds,
	    NWORKERS);
	/* The workers freed everything and exited: their (abandoned) arenas
	 * read exactly. A worker whose free started the background purger
	 * holds the one block the C library allocated for that thread (its
	 * TLS vector) until the thread's stack is reused. */
	CHECK(rd_u64("background_thread.starts", &starts1) == 0);
	CHECK(rd_unsigned("arenas.narenas", &na) == 0);
	size_t live = 0;
	for (unsigned a = 0; a < na; a++) {
		if (a != mine)
			live += fig("stats.arenas.%u.small.live", a);
	}
	CHECK(live <= starts1 - starts0, "%zu live in the workers' arenas "
	    "after they freed all (purger started %lu times)", live,
	    (unsigned long)(starts1 - starts0));
	free(s.buf);
	return CHECK_OK;
}

static const struct check_s checks[] = {
	CHECK_ENTRY(check_ctl_names),
	CHECK_ENTRY(check_ctl_errors),
	CHECK_ENTRY(check_epoch_snapshot),
	CHECK_ENTRY(check_live_objects),
	CHECK_ENTRY(check_large_huge),
	CHECK_ENTRY(check_remote_frees),
	CHECK_ENTRY(check_mapped_accounting),
	CHECK_ENTRY(check_base_blocks_smaps),
	CHECK_ENTRY(check_thp_hg),
	CHECK_ENTRY(check_opt_values),
	CHECK_ENTRY(check_threads),
	CHECK_ENTRY(check_arena_purge),
	CHECK_ENTRY(check_text_report),
	CHECK_ENTRY(check_json_report),
	CHECK_ENTRY(check_mallinfo2),
	CHECK_ENTRY(check_malloc_info),
	CHECK_ENTRY(check_malloc_stats),
	CHECK_ENTRY(check_concurrent_reads),
};

int main(int argc, char **argv)
{
	return check_main(checks, sizeof(checks) / sizeof(checks[0]), argc,
	    argv);
}
