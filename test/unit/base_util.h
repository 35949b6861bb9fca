/*
 * base_util.h: helpers shared by the base tests. Block tracking from the
 * outside (a new block serves the allocation that created it, right after
 * its header, so its start is that pointer rounded down to HUGEPAGE), the
 * stats invariants (CHECK_STATS, inside a check), /proc/self/maps and
 * /proc/self/smaps readers, a
 * recording hook table that forwards to the default one, and an address
 * pattern for overlap detection.
 */
#ifndef BM_TEST_BASE_UTIL_H
#define BM_TEST_BASE_UTIL_H

#include "check.h"
#include "base.h"
#include "conf.h"
#include "mutex.h"
#include "os.h"
#include "sz.h"

#include <fcntl.h>
#include <unistd.h>

#define TRACK_MAX 128

typedef struct {
	uintptr_t addr;
	size_t size;
} blk_t;

typedef struct {
	base_t *base;
	blk_t blk[TRACK_MAX];   /* oldest first */
	size_t n;
	unsigned skipped;       /* times more than one block appeared at once */
} tracker_t;

/* Record the blocks that appeared since the last call; p is the allocation
 * just made (or the base itself after base_new). */
static inline void tracker_note(tracker_t *t, const void *p) {
	size_t sizes[TRACK_MAX];
	size_t n = base_block_sizes(t->base, sizes, TRACK_MAX);
	if (n > TRACK_MAX)
		n = TRACK_MAX;
	if (n > t->n + 1)
		t->skipped++;
	for (; t->n < n; t->n++) {
		t->blk[t->n].addr = ALIGN_DOWN((uintptr_t)p, HUGEPAGE);
		t->blk[t->n].size = sizes[n - 1 - t->n];
	}
}

static inline void tracker_init(tracker_t *t, base_t *b) {
	memset(t, 0, sizeof(*t));
	t->base = b;
	if (b != NULL)
		tracker_note(t, b);
}

/* True when p..p+size lies inside a tracked block. */
static inline bool tracker_contains(const tracker_t *t, size_t i,
    const void *p, size_t size) {
	uintptr_t a = (uintptr_t)p;
	return i < t->n && a >= t->blk[i].addr &&
	    a + size <= t->blk[i].addr + t->blk[i].size;
}

/* The stats invariants; on failure writes why into why (if non-NULL). */
static inline bool stats_consistent(base_t *b, char *why, size_t cap) {
	base_stats_t s;
	size_t sizes[TRACK_MAX];
	base_stats_get(b, &s);
	size_t n = base_block_sizes(b, sizes, TRACK_MAX), sum = 0;
	for (size_t i = 0; i < n && i < TRACK_MAX; i++)
		sum += sizes[i];
	const char *bad = NULL;
	if (!(s.allocated <= s.resident && s.resident <= s.mapped))
		bad = "allocated <= resident <= mapped";
	else if (s.mapped != sum || s.blocks != n)
		bad = "mapped / blocks disagree with the block list";
	else if (s.resident % PAGE != 0 || s.mapped % HUGEPAGE != 0)
		bad = "resident or mapped not page granular";
	else if (s.resident >= s.allocated + s.blocks * PAGE)
		bad = "resident beyond the page ceiling of each bump";
	else if (s.blocks == 1 && s.resident != PAGE_CEILING(s.allocated))
		bad = "one block: resident != page ceiling of allocated";
	else if (s.n_thp > s.mapped)
		bad = "n_thp > mapped";
	if (bad != NULL && why != NULL)
		snprintf(why, cap, "%s (allocated %zu resident %zu mapped %zu "
		    "blocks %zu sum %zu n_thp %zu)", bad, s.allocated, s.resident,
		    s.mapped, s.blocks, sum, s.n_thp);
	return bad == NULL;
}

#define CHECK_STATS(b) do { \
	char why_[256] = ""; \
	CHECK(stats_consistent((b), why_, sizeof(why_)), "%s", why_); \
} while (0)

/* Read a /proc file into one static buffer (NUL-terminated; the previous
 * content is overwritten). No malloc: a fresh allocator mapping could land in
 * a range a test has just unmapped and is about to look for. */
static char proc_buf[16 << 20];

static inline char *proc_read(const char *path) {
	int fd = open(path, O_RDONLY);
	size_t len = 0;
	if (fd >= 0) {
		ssize_t n;
		while (len < sizeof(proc_buf) - 1 && (n = read(fd, proc_buf + len,
		    sizeof(proc_buf) - 1 - len)) > 0)
			len += (size_t)n;
		close(fd);
	}
	proc_buf[len] = '\0';
	return proc_buf;
}

/* Bytes of [a, e) covered by /proc/self/maps entries. */
static inline size_t maps_covered(uintptr_t a, uintptr_t e) {
	char *buf = proc_read("/proc/self/maps");
	size_t covered = 0;
	for (char *l = buf; l != NULL && *l; ) {
		unsigned long s, f;
		if (sscanf(l, "%lx-%lx", &s, &f) == 2 && s < e && f > a)
			covered += MIN((uintptr_t)f, e) - MAX((uintptr_t)s, a);
		l = strchr(l, '\n');
		l = l != NULL ? l + 1 : NULL;
	}
	return covered;
}

/* For [a, e): bytes in /proc/self/smaps entries, and bytes among them whose
 * VmFlags carry "hg" (MADV_HUGEPAGE). */
static inline void smaps_hg(const char *smaps, uintptr_t a, uintptr_t e,
    size_t *covered, size_t *hg) {
	*covered = *hg = 0;
	size_t cur = 0;  /* overlap of the entry being read */
	for (const char *l = smaps; *l; ) {
		unsigned long s, f;
		char c;
		if (sscanf(l, "%lx-%lx %c", &s, &f, &c) == 3 && strchr(l, '-') <
		    strchr(l, ' ')) {
			cur = s < e && f > a ?
			    MIN((uintptr_t)f, e) - MAX((uintptr_t)s, a) : 0;
			*covered += cur;
		} else if (strncmp(l, "VmFlags:", 8) == 0 && cur != 0) {
			const char *nl = strchr(l, '\n');
			const char *hit = strstr(l, " hg");
			if (hit != NULL && (nl == NULL || hit < nl))
				*hg += cur;
		}
		l = strchr(l, '\n');
		if (l == NULL)
			break;
		l++;
	}
}

/* A hook table forwarding to the default one and recording each block. */
typedef struct {
	bm_extent_hooks_t h;
	blk_t blk[TRACK_MAX];
	size_t n;
	unsigned depth_bad;     /* calls not at reentrancy depth 1 */
} rec_hooks_t;

static inline void *rec_alloc(bm_extent_hooks_t *h, void *new_addr,
    size_t size, size_t alignment, bool *zero, bool *commit, unsigned ind) {
	rec_hooks_t *r = (rec_hooks_t *)h;
	r->depth_bad += hooks_reentrancy() != 1;
	void *p = hooks_default.alloc(&hooks_default, new_addr, size, alignment,
	    zero, commit, ind);
	if (p != NULL && r->n < TRACK_MAX) {
		r->blk[r->n].addr = (uintptr_t)p;
		r->blk[r->n].size = size;
		r->n++;
	}
	return p;
}

static inline int rec_dalloc(bm_extent_hooks_t *h, void *addr, size_t size,
    bool committed, unsigned ind) {
	rec_hooks_t *r = (rec_hooks_t *)h;
	r->depth_bad += hooks_reentrancy() != 1;
	return hooks_default.dalloc(&hooks_default, addr, size, committed, ind);
}

static inline void rec_hooks_init(rec_hooks_t *r) {
	memset(r, 0, sizeof(*r));
	r->h.alloc = rec_alloc;
	r->h.dalloc = rec_dalloc;
}

/* The byte a test writes at address a. */
static inline unsigned char pattern_at(uintptr_t a) {
	return (unsigned char)((a * 0x9E3779B1u) >> 24);
}

static inline void pattern_fill(unsigned char *p, size_t n) {
	for (size_t i = 0; i < n; i++)
		p[i] = pattern_at((uintptr_t)(p + i));
}

/* Number of bytes of p..p+n that differ from the pattern. */
static inline size_t pattern_bad(const unsigned char *p, size_t n) {
	size_t bad = 0;
	for (size_t i = 0; i < n; i++)
		bad += p[i] != pattern_at((uintptr_t)(p + i));
	return bad;
}

/* Number of non-zero bytes in p..p+n. */
static inline size_t nonzero_bytes(const unsigned char *p, size_t n) {
	size_t bad = 0;
	for (size_t i = 0; i < n; i++)
		bad += p[i] != 0;
	return bad;
}

/* One allocation a test made and filled with the pattern. */
typedef struct {
	unsigned char *p;
	size_t size;
} rec_t;

static inline int rec_cmp(const void *a, const void *b) {
	uintptr_t x = (uintptr_t)((const rec_t *)a)->p;
	uintptr_t y = (uintptr_t)((const rec_t *)b)->p;
	return x < y ? -1 : x > y;
}

/* Check n records (NULL p = skipped): each still holds its pattern, and no
 * two overlap (sorts recs by address). */
static inline int records_verify(rec_t *recs, size_t n) {
	size_t bad_pattern = 0, overlaps = 0;
	for (size_t i = 0; i < n; i++)
		bad_pattern += recs[i].p != NULL &&
		    pattern_bad(recs[i].p, recs[i].size) != 0;
	qsort(recs, n, sizeof(*recs), rec_cmp);
	for (size_t i = 1; i < n; i++)
		overlaps += recs[i - 1].p != NULL &&
		    recs[i - 1].p + recs[i - 1].size > recs[i].p;
	CHECK(bad_pattern == 0, "%zu allocations overwritten", bad_pattern);
	CHECK(overlaps == 0, "%zu overlapping pairs", overlaps);
	return CHECK_OK;
}

static inline void boot_modules(void) {
	os_boot();
	sz_boot();
	conf_reset();
}

#endif
