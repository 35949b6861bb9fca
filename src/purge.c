/*
 * purge: when an arena purges its dirty runs, and the passes that do it.
 * The policy reads the arena's active bytes, their peak per demand epoch
 * (an epoch lasts the decay time) and the age of the oldest dirty run (the
 * head of the dirty list); a guess (collapsed, left) that purged and then
 * saw the active bytes back at half its peak within the decay time waits
 * twice as long before it purges again. A pass detaches the runs it picks
 * onto `purging` (marked as this thread's), drops the lock while the
 * kernel discards their pages, and lists them again as clean.
 * Every extern function not named _locked takes pages_t.lock; static
 * helpers expect it held.
 */
#include "purge.h"
#include "conf.h"
#include "os.h"

/* Its address marks the runs this thread is purging (see purging). */
static __thread char pages_purge_self;

/* A guesser whose purges proved wrong n times in a row waits 2^n decay
 * times before it purges again, at most this many. */
#define PAGES_HOLD_MAX 64
/* Without a collapse, an arena's footprint (active + dirty) may reach this
 * many times its recent peak of active bytes before it purges at once: the
 * free space needed to serve a demand again without faults can be as large
 * as the demand (a buffer and the blocks that follow it live in different
 * runs). */
#define PAGES_ROOM 2
/* Dirty bytes past what an arena keeps for the decay time may stay this
 * fraction (1/n) of it. */
#define PAGES_YOUNG_DIV 10

static uint64_t pages_decay_ns(void) {
	return opt_dirty_decay_ms < 0 ? UINT64_MAX
	    : (uint64_t)opt_dirty_decay_ms * 1000000u;
}

static uint64_t pages_add_sat(uint64_t a, uint64_t b) {
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* The most active bytes of this demand epoch and the one before (an epoch
 * lasts the decay time); moves on to a new epoch when this one is over. */
static size_t pages_recent_peak(pages_t *p, uint64_t now) {
	size_t active = p->stats.active;
	uint64_t epoch = pages_decay_ns();
	if (now > p->peak_at && now - p->peak_at >= epoch) {
		bool idle = now - p->peak_at >= pages_add_sat(epoch, epoch);
		p->peak[1] = idle ? active : p->peak[0];
		p->peak[0] = active;
		p->peak_at = now;
	}
	return MAX(active, MAX(p->peak[0], p->peak[1]));
}

/* Whether g may purge now: its last purge has not been proven wrong, or
 * it has waited its hold since. */
static bool guess_allowed(const pages_guess_t *g, uint64_t now) {
	uint64_t hold = g->hold != 0 ? g->hold : pages_decay_ns();
	return g->watch || g->at == 0 || (now > g->at && now - g->at >= hold);
}

/* g purges now, guessing the arena will not need the memory again soon
 * (peak: its recent peak of active bytes). */
static void guess_made(pages_guess_t *g, uint64_t now, size_t peak) {
	if (!g->watch) {
		g->at = now;
		g->peak = peak;
	}
	g->watch = true;
}

/* The active bytes grew to `active`: g's last purge proved wrong if they
 * are back at half its peak within the decay time (g then waits twice as
 * long as before it purges again), right if later. */
static void guess_check(pages_guess_t *g, size_t active, uint64_t now) {
	if (!g->watch || active < g->peak / 2)
		return;
	uint64_t decay = pages_decay_ns();
	g->watch = false;
	if (now > g->at && now - g->at >= decay) {
		g->hold = 0;
		return;
	}
	uint64_t hold = g->hold != 0 ? g->hold : decay;
	uint64_t cap = decay > UINT64_MAX / PAGES_HOLD_MAX ? UINT64_MAX
	    : decay * PAGES_HOLD_MAX;
	g->hold = hold > cap / 2 ? cap : hold * 2;
}

/* The active bytes of p grew: the peak, and the guesses on watch. */
void purge_note_active_locked(pages_t *p) {
	size_t active = p->stats.active;
	if (active > p->peak[0])
		p->peak[0] = active;
	if (!p->collapsed.watch && !p->left.watch)
		return;
	uint64_t now = os_now_ns();
	guess_check(&p->collapsed, active, now);
	guess_check(&p->left, active, now);
}

static void purging_link(pages_t *p, extent_t *e) {
	e->prev = NULL;
	e->next = p->purging;
	if (e->next != NULL)
		e->next->prev = e;
	p->purging = e;
	e->dprev = (extent_t *)(void *)&pages_purge_self;
}

static void purging_unlink(pages_t *p, extent_t *e) {
	if (e->prev != NULL)
		e->prev->next = e->next;
	else
		p->purging = e->next;
	if (e->next != NULL)
		e->next->prev = e->prev;
}

static bool pages_aged(const extent_t *e, uint64_t now, uint64_t decay) {
	return now >= e->dirty_since && now - e->dirty_since >= decay;
}

/* Take runs off the dirty list from the oldest onto `purging` (marked as
 * this thread's, in dprev; on no other list, so nothing allocates or merges
 * them): every run dirty for the decay time; while the dirty bytes are over
 * room, more down to 7/8 of it; while they are over lasting, the runs dirty
 * for a tenth of the decay time. Returns them chained by dnext. */
static extent_t *purge_pick_locked(pages_t *p, size_t room, size_t lasting,
    uint64_t now) {
	uint64_t decay = pages_decay_ns(), young = decay / PAGES_YOUNG_DIV;
	bool over = p->stats.dirty > room;
	size_t target = room - room / 8;
	extent_t *batch = NULL;
	while (p->dirty.dnext != &p->dirty) {
		extent_t *e = p->dirty.dnext;
		if (!pages_aged(e, now, decay) && !(over && p->stats.dirty > target) &&
		    !(p->stats.dirty > lasting && pages_aged(e, now, young)))
			break;
		pages_remove_locked(p, e);
		purging_link(p, e);
		e->dnext = batch;
		batch = e;
	}
	return batch;
}

/* List the purged runs of batch again, as clean (lock held). */
static void purge_finish_locked(pages_t *p, extent_t *batch) {
	while (batch != NULL) {
		extent_t *e = batch;
		batch = e->dnext;
		purging_unlink(p, e);
		p->stats.purged += extent_dirty_bytes(e);
		extent_set_clean(e);
		pages_insert_locked(p, pages_coalesce_locked(p, e));
	}
	p->stats.purge_runs++;
}

/* Purge what purge_pick_locked picks, and the spare huge mapping when it
 * has waited the decay time (or room is 0: everything goes). The kernel
 * is called without the lock (held again on return). */
static void pages_purge_locked(pages_t *p, size_t room, size_t lasting,
    uint64_t now) {
	uint64_t decay = pages_decay_ns();
	extent_t *batch = purge_pick_locked(p, room, lasting, now);
	extent_t *spare = NULL;
	if (p->huge_spare != NULL && (room == 0 ||
	    (now >= p->spare_since && now - p->spare_since >= decay)))
		spare = pages_spare_drop_locked(p);
	if (batch == NULL && spare == NULL)
		return;
	mutex_unlock(&p->lock);
	for (extent_t *e = batch; e != NULL; e = e->dnext)
		os_purge_forced((void *)e->dlo, extent_dirty_bytes(e));
	int err = spare != NULL ? os_unmap((void *)spare->addr, spare->size) : 0;
	mutex_lock(&p->lock);
	if (spare != NULL)
		pages_spare_unmapped_locked(p, spare, err);
	if (batch != NULL)
		purge_finish_locked(p, batch);
}

size_t purge_dirty_floor(void) {
	unsigned cpus = MAX(os_ncpus(), 1u), n = pages_registered();
	return n <= cpus ? opt_dirty_max : opt_dirty_max / n * cpus;
}

/* What p may keep dirty now, without a collapse: `lasting` (dirty_max, or
 * what its recent peak of active bytes leaves room for: memory it needed
 * within the last decay time or two) for as long as the decay time, and up
 * to `room` (PAGES_ROOM times that peak) for a tenth of it: pages freed and
 * allocated again at once stay dirty. */
static void pages_keep(pages_t *p, uint64_t now, size_t *room,
    size_t *lasting) {
	size_t active = p->stats.active, peak = pages_recent_peak(p, now);
	size_t floor = purge_dirty_floor();
	*lasting = MAX(floor, peak - active);
	*room = MAX(floor, PAGES_ROOM * peak - active);
}

/* After a run was freed: purge what p should not keep (pages_keep). When
 * the heap has collapsed (the active bytes fell below an eighth of their
 * recent peak and a quarter of dirty_max: the program freed most of what it
 * had), it keeps an eighth of dirty_max instead, if that guess is allowed. */
static void pages_maybe_purge(pages_t *p) {
	if (p->dirty.dnext == &p->dirty)
		return;
	uint64_t now = os_now_ns(), decay = pages_decay_ns();
	size_t active = p->stats.active, peak = pages_recent_peak(p, now);
	size_t keep = opt_dirty_max / 8;
	if (active < peak / 8 && active < opt_dirty_max / 4 &&
	    p->stats.dirty > keep && guess_allowed(&p->collapsed, now)) {
		guess_made(&p->collapsed, now, peak);
		pages_purge_locked(p, keep, keep, now);
		return;
	}
	size_t room, lasting;
	pages_keep(p, now, &room, &lasting);
	extent_t *old = p->dirty.dnext;
	if (p->stats.dirty > room || pages_aged(old, now, decay) ||
	    (p->stats.dirty > lasting &&
	    pages_aged(old, now, decay / PAGES_YOUNG_DIV)))
		pages_purge_locked(p, room, lasting, now);
}

void purge_pages(pages_t *p, bool force) {
	mutex_lock(&p->lock);
	if (force)
		pages_purge_locked(p, 0, 0, os_now_ns());
	else
		pages_maybe_purge(p);
	mutex_unlock(&p->lock);
}

void purge_left(pages_t *p) {
	mutex_lock(&p->lock);
	uint64_t now = os_now_ns();
	if (p->stats.dirty != 0 && guess_allowed(&p->left, now)) {
		guess_made(&p->left, now, pages_recent_peak(p, now));
		pages_purge_locked(p, 0, 0, now);
	}
	mutex_unlock(&p->lock);
}

/* When p next has something to purge by age (UINT64_MAX: never). */
static uint64_t pages_next_due(pages_t *p, uint64_t now) {
	uint64_t decay = pages_decay_ns(), next = UINT64_MAX;
	if (p->huge_spare != NULL)
		next = pages_add_sat(p->spare_since, decay);
	if (p->dirty.dnext == &p->dirty)
		return next;
	uint64_t since = p->dirty.dnext->dirty_since;
	next = MIN(next, pages_add_sat(since, decay));
	size_t room, lasting;
	pages_keep(p, now, &room, &lasting);
	if (p->stats.dirty > lasting)
		next = MIN(next, pages_add_sat(since, decay / PAGES_YOUNG_DIV));
	return next;
}

uint64_t purge_aged(pages_t *p, uint64_t now) {
	if (mutex_trylock(&p->lock) != 0)
		return now + PAGES_BUSY_NS;
	size_t room, lasting;
	pages_keep(p, now, &room, &lasting);
	pages_purge_locked(p, room, lasting, now);
	uint64_t next = pages_next_due(p, now);
	mutex_unlock(&p->lock);
	uint64_t (*held)(pages_t *, uint64_t) = __atomic_load_n(&p->held_purge,
	    __ATOMIC_ACQUIRE);
	return held != NULL ? MIN(next, held(p, now)) : next;
}

void purge_postfork_child(pages_t *p) {
	if (p->purging == NULL || mutex_held(&p->lock))
		return;  /* held: the frame a signal handler forked from has it */
	mutex_lock(&p->lock);
	uint64_t now = os_now_ns();
	extent_t *next;
	for (extent_t *e = p->purging; e != NULL; e = next) {
		next = e->next;
		if (e->dprev == (extent_t *)(void *)&pages_purge_self)
			continue;  /* this thread's: its frame lists them */
		purging_unlink(p, e);
		e->dlo = e->addr;
		e->dhi = e->addr + e->size;
		e->dirty_since = now;
		pages_insert_locked(p, pages_coalesce_locked(p, e));
	}
	mutex_unlock(&p->lock);
}

/* pages_list_freed_locked, then purge what the policy says is due. */
void purge_freed_locked(pages_t *p, uintptr_t addr, size_t size) {
	pages_list_freed_locked(p, addr, size);
	pages_maybe_purge(p);
}
