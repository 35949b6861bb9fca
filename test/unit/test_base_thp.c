/*
 * test_base_thp: metadata_thp as seen by the kernel. For each setting the
 * test grows bases block by block and reads the "hg" VmFlag of every block in
 * /proc/self/smaps: disabled never, always every block, auto none before the
 * switch (an arena base's 2nd block, b0's 5th) and all after; n_thp equals
 * the advised bytes. Advice only exists when the system THP mode is
 * "madvise"; in any other mode the test checks that nothing is advised.
 */
#include "base_util.h"

/* Bytes of tracked blocks flagged hg in smaps; sets *unmapped when a block
 * is not fully covered by smaps entries. */
static size_t hg_bytes(const tracker_t *t, size_t *unmapped) {
	const char *smaps = proc_read("/proc/self/smaps");
	size_t total = 0;
	*unmapped = 0;
	for (size_t i = 0; i < t->n; i++) {
		size_t covered, hg;
		smaps_hg(smaps, t->blk[i].addr, t->blk[i].addr + t->blk[i].size,
		    &covered, &hg);
		*unmapped += covered != t->blk[i].size;
		total += hg;
	}
	return total;
}

/* Check one base state: want_all -> every block hg, else none. */
static int check_thp(tracker_t *t, bool want_all, const char *what) {
	size_t unmapped, mapped = 0;
	size_t hg = hg_bytes(t, &unmapped);
	for (size_t i = 0; i < t->n; i++)
		mapped += t->blk[i].size;
	base_stats_t st;
	base_stats_get(t->base, &st);
	CHECK(unmapped == 0, "%s: %zu blocks missing from smaps", what, unmapped);
	CHECK(hg == (want_all ? mapped : 0), "%s, %zu blocks: %zu of %zu bytes hg",
	    what, t->n, hg, mapped);
	CHECK(st.n_thp == hg, "%s: n_thp %zu, smaps says %zu", what, st.n_thp, hg);
	CHECK_STATS(t->base);
	return CHECK_OK;
}

static void grow(tracker_t *t) {
	size_t newest;
	base_block_sizes(t->base, &newest, 1);
	tracker_note(t, base_alloc(t->base, newest, QUANTUM));
}

static bool advice_matters(void) {
	return os_thp_mode() == OS_THP_MADVISE;
}

/* Grow a base block by block under setting: every block advised or none. */
static int test_setting(metadata_thp_t setting, const char *name) {
	printf("  # metadata_thp:%s, system %s\n", name,
	    os_thp_mode_name(os_thp_mode()));
	opt_metadata_thp = setting;
	base_t *b = base_new(20 + setting, NULL);
	CHECK(b != NULL);
	tracker_t t;
	tracker_init(&t, b);
	for (int nblocks = 1; nblocks <= 4; nblocks++) {
		bool want = advice_matters() && (setting == METADATA_THP_ALWAYS ||
		    (setting == METADATA_THP_AUTO && nblocks >= 2));
		CHECK_DO(check_thp(&t, want, name));
		grow(&t);
	}
	CHECK(t.n == 5 && t.skipped == 0);
	base_delete(b);
	size_t left = 0;
	for (size_t i = 0; i < t.n; i++)
		left += maps_covered(t.blk[i].addr, t.blk[i].addr + t.blk[i].size);
	CHECK(left == 0);
	return CHECK_OK;
}

static int test_disabled(void) {
	return test_setting(METADATA_THP_DISABLED, "disabled");
}

static int test_always(void) {
	return test_setting(METADATA_THP_ALWAYS, "always");
}

static int test_auto(void) {
	return test_setting(METADATA_THP_AUTO, "auto");
}

/* base thp: b0 under auto switches at its 5th block */
static int test_b0_auto(void) {
	opt_metadata_thp = METADATA_THP_AUTO;
	CHECK(base_boot() == 0 && base_b0() != NULL);
	tracker_t t;
	tracker_init(&t, base_b0());
	for (int nblocks = 1; nblocks <= 6; nblocks++) {
		CHECK_DO(check_thp(&t, advice_matters() && nblocks >= 5,
		    "b0 auto"));
		grow(&t);
	}
	CHECK(t.n == 7 && t.skipped == 0);
	return CHECK_OK;
}

/* base thp: a user's hooks are never advised */
static int test_custom_hooks(void) {
	opt_metadata_thp = METADATA_THP_ALWAYS;
	rec_hooks_t r;
	rec_hooks_init(&r);
	base_t *b = base_new(30, &r.h);
	CHECK(b != NULL);
	tracker_t t;
	tracker_init(&t, b);
	grow(&t);
	grow(&t);
	CHECK_DO(check_thp(&t, false, "always, user hooks"));
	base_delete(b);
	return CHECK_OK;
}

static const struct check_s checks[] = {
	CHECK_ENTRY(test_disabled),
	CHECK_ENTRY(test_always),
	CHECK_ENTRY(test_auto),
	CHECK_ENTRY(test_b0_auto),
	CHECK_ENTRY(test_custom_hooks),
};

int main(int argc, char **argv) {
	boot_modules();
	printf("  # system THP mode: %s (advice %s)\n",
	    os_thp_mode_name(os_thp_mode()),
	    advice_matters() ? "applies" : "is not given");
	return check_main(checks, sizeof(checks) / sizeof(checks[0]), argc,
	    argv);
}
