/*
 * test_rtree: the page map. Addresses with no entry (never reserved, beyond
 * the 48-bit space, reserved but unset) read NULL; set and set_range round
 * trip across leaf (16 MiB) and node boundaries; reserve refuses addresses
 * past the space; threads reserving the same fresh region at once all see
 * one leaf (the CAS lost by the others wastes a node, never an entry).
 */
#include "check.h"
#include "base.h"
#include "conf.h"
#include "os.h"
#include "rtree.h"
#include "sz.h"

#include <pthread.h>

#define LEAF_SPAN RTREE_LEAF_SPAN
#define NODE_SPAN (RTREE_LEAF_SPAN * 4)  /* any multiple of a leaf */

static int dummy[8];

/* rtree: unknown addresses read NULL */
static int test_unknown(void) {
	CHECK(rtree_lookup(NULL) == NULL);
	CHECK(rtree_lookup((void *)(uintptr_t)0x1234000) == NULL);
	CHECK(rtree_lookup((void *)((uintptr_t)1 << 48)) == NULL);
	CHECK(rtree_lookup((void *)~(uintptr_t)0) == NULL);
	CHECK(rtree_reserve((void *)(((uintptr_t)1 << 48) - PAGE), 2 * PAGE) ==
	    ENOMEM);
	uintptr_t a = 5 * NODE_SPAN + 3 * LEAF_SPAN;
	CHECK(rtree_reserve((void *)a, PAGE) == 0);
	CHECK(rtree_lookup((void *)a) == NULL);
	CHECK(rtree_lookup((void *)(a + LEAF_SPAN - PAGE)) == NULL);
	return CHECK_OK;
}

/* rtree: set and set_range round trip across leaf and node boundaries */
static int test_round_trip(void) {
	uintptr_t start = 7 * NODE_SPAN - 2 * LEAF_SPAN - 3 * PAGE;
	size_t size = 3 * LEAF_SPAN;   /* crosses two leaves and a node */
	CHECK(start + size > 7 * NODE_SPAN);
	CHECK(rtree_reserve((void *)start, size) == 0);
	rtree_set_range((void *)start, size, &dummy[1]);
	size_t bad = 0;
	for (uintptr_t a = start; a < start + size; a += PAGE)
		bad += rtree_lookup((void *)(a + ((a >> LG_PAGE) & (PAGE - 1)))) !=
		    &dummy[1];
	CHECK(bad == 0, "%zu pages do not map to the range's value", bad);
	CHECK(rtree_lookup((void *)(start - PAGE)) == NULL);
	CHECK(rtree_lookup((void *)(start + size)) == NULL);
	rtree_set((void *)(start + LEAF_SPAN), &dummy[2]);
	CHECK(rtree_lookup((void *)(start + LEAF_SPAN + 100)) == &dummy[2]);
	CHECK(rtree_lookup((void *)(start + LEAF_SPAN - 1)) == &dummy[1]);
	rtree_set_range((void *)start, size, &dummy[4]);
	CHECK(rtree_desc((void *)(start + PAGE)) == &dummy[4] &&
	    rtree_desc_fast((void *)(start + PAGE)) == &dummy[4]);
	CHECK(rtree_desc((void *)(start - PAGE)) == rtree.nothing &&
	    rtree_desc_fast((void *)(start + size)) == rtree.nothing,
	    "an address without an entry reads as `nothing`");
	CHECK(rtree_desc_fast((void *)((uintptr_t)0x5a5a << 36)) == rtree.nothing,
	    "an address without a leaf reads as `nothing`");
	CHECK(rtree_lookup((void *)(start + size - 1)) == &dummy[4]);
	CHECK(rtree_lookup((void *)((start + PAGE) | ((uintptr_t)0xbeef << 48))) ==
	    &dummy[4], "bits above 47 are ignored");
	rtree_set_range((void *)start, size, NULL);
	bad = 0;
	for (uintptr_t a = start; a < start + size; a += PAGE)
		bad += rtree_lookup((void *)a) != NULL;
	CHECK(bad == 0, "%zu pages still set after clearing", bad);
	return CHECK_OK;
}

#define NRACERS 4
#define RACE_REGIONS 64
static pthread_barrier_t race_start;

/* Reserve the same fresh regions as the other racers, then set our own
 * page in each and read every racer's page back after the barrier. */
static void *racer(void *arg) {
	uintptr_t id = (uintptr_t)arg;
	pthread_barrier_wait(&race_start);
	for (uintptr_t r = 0; r < RACE_REGIONS; r++) {
		uintptr_t base = 9 * NODE_SPAN + r * LEAF_SPAN * 3;
		if (rtree_reserve((void *)base, LEAF_SPAN) != 0)
			return (void *)1;
		rtree_set((void *)(base + id * PAGE), &dummy[id]);
	}
	return NULL;
}

/* rtree: racing reservations of fresh leaves lose no entry */
static int test_race(void) {
	pthread_t t[NRACERS];
	pthread_barrier_init(&race_start, NULL, NRACERS);
	for (uintptr_t i = 0; i < NRACERS; i++)
		CHECK(pthread_create(&t[i], NULL, racer, (void *)i) == 0);
	size_t failed = 0, lost = 0;
	for (int i = 0; i < NRACERS; i++) {
		void *r;
		pthread_join(t[i], &r);
		failed += r != NULL;
	}
	CHECK(failed == 0, "%zu racers could not reserve", failed);
	for (uintptr_t r = 0; r < RACE_REGIONS; r++) {
		uintptr_t base = 9 * NODE_SPAN + r * LEAF_SPAN * 3;
		for (uintptr_t id = 0; id < NRACERS; id++)
			lost += rtree_lookup((void *)(base + id * PAGE)) !=
			    &dummy[id];
	}
	CHECK(lost == 0, "%zu entries lost to racing leaf installs", lost);
	return CHECK_OK;
}

static const struct check_s checks[] = {
	CHECK_ENTRY(test_unknown),
	CHECK_ENTRY(test_round_trip),
	CHECK_ENTRY(test_race),
};

int main(int argc, char **argv) {
	os_boot();
	sz_boot();
	conf_reset();
	if (base_boot() != 0)
		return 1;
	return check_main(checks, sizeof(checks) / sizeof(checks[0]), argc,
	    argv);
}
