/*
 * test_hooks: the default table (aligned zeroed mappings, flags, the range
 * operations) and the wrappers' handling of a user's table: the reentrancy
 * depth is raised exactly while a user hook runs, and a NULL member fails.
 */
#include "check.h"
#include "hooks.h"
#include "os.h"

/* hooks: default table maps aligned zeroed memory */
static int test_default(void) {
	for (size_t align = PAGE; align <= ((size_t)8 << 20); align <<= 1) {
		bool zero = false, commit = false;
		unsigned char *p = hooks_alloc(&hooks_default, 2 * HUGEPAGE, align,
		    &zero, &commit, 0);
		CHECK(p != NULL && (uintptr_t)p % align == 0, "align %zu -> %p",
		    align, (void *)p);
		if (p == NULL)
			continue;
		CHECK(zero && commit);
		CHECK(p[0] == 0 && p[2 * HUGEPAGE - 1] == 0);
		p[0] = 1;
		CHECK(hooks_purge_forced(&hooks_default, p, PAGE, 0) == 0);
		CHECK(p[0] == 0);
		CHECK(hooks_purge_lazy(&hooks_default, p, PAGE, 0) == 0);
		CHECK(hooks_decommit(&hooks_default, p, PAGE, 0) == 0);
		CHECK(hooks_commit(&hooks_default, p, PAGE, 0) == 0);
		CHECK(hooks_default.split(&hooks_default, p, 2 * HUGEPAGE,
		    HUGEPAGE, HUGEPAGE, true, 0) == 0);
		CHECK(hooks_default.merge(&hooks_default, p, HUGEPAGE,
		    p + HUGEPAGE, HUGEPAGE, true, 0) == 0);
		CHECK(hooks_dalloc(&hooks_default, p, 2 * HUGEPAGE, true, 0) == 0);
	}
	bool zero, commit;
	CHECK(hooks_default.alloc(&hooks_default, (void *)HUGEPAGE, PAGE, PAGE,
	    &zero, &commit, 0) == NULL);
	CHECK(hooks_reentrancy() == 0);
	return CHECK_OK;
}

/* A user table whose every member records the depth it ran at. */
typedef struct {
	bm_extent_hooks_t h;
	unsigned calls, depth_bad;
	unsigned last_ind;
} probe_t;

static void probe_note(bm_extent_hooks_t *h, unsigned ind) {
	probe_t *p = (probe_t *)h;
	p->calls++;
	p->depth_bad += hooks_reentrancy() != 1;
	p->last_ind = ind;
}

static void *probe_alloc(bm_extent_hooks_t *h, void *new_addr, size_t size,
    size_t alignment, bool *zero, bool *commit, unsigned ind) {
	(void)new_addr, (void)size, (void)alignment;
	probe_note(h, ind);
	*zero = false;
	*commit = true;
	static char region[64];
	return region;
}

static int probe_dalloc(bm_extent_hooks_t *h, void *addr, size_t size,
    bool committed, unsigned ind) {
	(void)addr, (void)size, (void)committed;
	probe_note(h, ind);
	return 5;
}

static int probe_range(bm_extent_hooks_t *h, void *addr, size_t size,
    size_t offset, size_t length, unsigned ind) {
	(void)addr;
	probe_note(h, ind);
	return offset == 0 && length == size ? 0 : 9;
}

/* hooks: a user's table runs inside the reentrancy guard */
static int test_user(void) {
	probe_t p = { .h = { .alloc = probe_alloc, .dalloc = probe_dalloc,
	    .commit = probe_range, .decommit = probe_range,
	    .purge_lazy = probe_range, .purge_forced = probe_range } };
	bool zero = true, commit = false;
	CHECK(hooks_alloc(&p.h, PAGE, PAGE, &zero, &commit, 3) != NULL);
	CHECK(!zero && commit && p.last_ind == 3);
	CHECK(hooks_dalloc(&p.h, NULL, PAGE, true, 4) == 5);
	CHECK(hooks_commit(&p.h, NULL, PAGE, 5) == 0);
	CHECK(hooks_decommit(&p.h, NULL, PAGE, 6) == 0);
	CHECK(hooks_purge_lazy(&p.h, NULL, PAGE, 7) == 0);
	CHECK(hooks_purge_forced(&p.h, NULL, PAGE, 8) == 0);
	CHECK(p.calls == 6 && p.last_ind == 8);
	CHECK(p.depth_bad == 0, "%u calls outside depth 1", p.depth_bad);
	CHECK(hooks_reentrancy() == 0);
	return CHECK_OK;
}

/* hooks: a NULL member is a failure */
static int test_null_members(void) {
	bm_extent_hooks_t empty;
	memset(&empty, 0, sizeof(empty));
	bool zero = true, commit = true;
	CHECK(hooks_alloc(&empty, PAGE, PAGE, &zero, &commit, 0) == NULL);
	CHECK(hooks_dalloc(&empty, NULL, PAGE, true, 0) != 0);
	CHECK(hooks_commit(&empty, NULL, PAGE, 0) != 0);
	CHECK(hooks_decommit(&empty, NULL, PAGE, 0) != 0);
	CHECK(hooks_purge_lazy(&empty, NULL, PAGE, 0) != 0);
	CHECK(hooks_purge_forced(&empty, NULL, PAGE, 0) != 0);
	CHECK(hooks_reentrancy() == 0);
	return CHECK_OK;
}

static const struct check_s checks[] = {
	CHECK_ENTRY(test_default),
	CHECK_ENTRY(test_user),
	CHECK_ENTRY(test_null_members),
};

int main(int argc, char **argv) {
	os_boot();
	return check_main(checks, sizeof(checks) / sizeof(checks[0]), argc,
	    argv);
}
