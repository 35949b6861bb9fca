/*
 * prof: countdown, records and stacks (see prof.h).
 * Records: an id (uint32, 0 = none) indexes a two-level table of chunks of
 * PROF_REC_CHUNK records; ids of freed records are reused first. Stacks: a
 * chained hash table (doubled when it fills; the old bucket array stays in
 * its base) of entries whose room for frames is 8, 16, 32 or 64 words,
 * with a free list per room; a stack leaves the table when its last live
 * sample is freed. Everything below prof_lock except the countdown, which
 * is the thread's own.
 */
#include "prof.h"
#include "conf.h"
#include "log.h"
#include "mutex.h"
#include "os.h"
#include "stackwalk.h"

#include <errno.h>
#include <string.h>

#define PROF_REC_LG_CHUNK 12
#define PROF_REC_CHUNK    ((uint32_t)1 << PROF_REC_LG_CHUNK)
#define PROF_REC_CHUNKS   4096                /* up to 16M live samples */
#define PROF_NROOMS       4                   /* frame rooms 8..64 */
#define PROF_BUCKETS_MIN  1024

typedef struct prof_stack_s prof_stack_t;
struct prof_stack_s {
	prof_stack_t *next;        /* hash chain; free list */
	uint64_t hash;
	uint64_t count, bytes;     /* live samples and their bytes */
	uint32_t depth, room;      /* frames used; room index */
	uintptr_t frames[];
};

typedef struct {
	extent_t *ext;             /* the run holding it; NULL when free */
	prof_stack_t *stack;
	size_t size;               /* requested bytes */
	uint32_t next_free;        /* free list of ids */
} prof_rec_t;

static mutex_t prof_lock;
static _Atomic uint64_t prof_rng;
static double prof_r;                           /* opt_prof_sample, >= 1 */
static prof_rec_t *prof_chunks[PROF_REC_CHUNKS];
static uint32_t prof_rec_free, prof_rec_next = 1;
static prof_stack_t **prof_buckets;
static size_t prof_nbuckets;
static prof_stack_t *prof_room_free[PROF_NROOMS];
static prof_stats_t prof_totals;
static double prof_est_live, prof_gdump_next;   /* estimated live bytes */

int prof_boot(void) {
	prof_r = opt_prof_sample > 1 ? (double)opt_prof_sample : 1.0;
	prof_gdump_next = (double)opt_prof_gdump;
	atomic_store(&prof_rng, os_now_ns() ^ (uintptr_t)&prof_rng);
	if (mutex_init(&prof_lock, "prof", MUTEX_RANK_PROF) != 0 ||
	    stackwalk_boot() != 0) {
		log_warn("prof: cannot start the profiler; prof:false");
		opt_prof = false;
		return ENOMEM;
	}
	return 0;
}

void prof_boot_late(void) {
	int64_t left = tsd_tls.prof_left;
	tsd_tls.prof_left = PROF_GUARD;   /* loading a library allocates */
	if (stackwalk_load_dwarf() != 0)
		log_warn("prof: libgcc_s.so.1 has no _Unwind_Backtrace; stacks "
		    "are walked by frame pointers and end at the first frame "
		    "without one");
	tsd_tls.prof_left = left;
}

uint64_t prof_period(void) {
	return (uint64_t)prof_r;
}

/* ---------------------------------------------------------------------- */
/* Arithmetic without libm: exp(-x) and ln(u) to about 1e-9. */

/* 2^-k for 0 <= k <= 1022. */
static double prof_pow2_neg(unsigned k) {
	uint64_t bits = (uint64_t)(1023 - k) << 52;
	double d;
	memcpy(&d, &bits, sizeof(d));
	return d;
}

/* exp(-x), x >= 0. */
static double prof_exp_neg(double x) {
	static const double ln2 = 0.69314718055994530942;
	if (x > 700)
		return 0;
	unsigned k = (unsigned)(x / ln2);
	double r = x - k * ln2, term = 1, sum = 1;
	for (int i = 1; i < 16; i++) {
		term *= -r / i;
		sum += term;
	}
	return sum * prof_pow2_neg(k);
}

/* ln(u), 0 < u <= 1. */
static double prof_ln(double u) {
	static const double ln2 = 0.69314718055994530942;
	uint64_t bits;
	memcpy(&bits, &u, sizeof(bits));
	int e = (int)((bits >> 52) & 0x7ff) - 1023;
	bits = (bits & ((((uint64_t)1) << 52) - 1)) | ((uint64_t)1023 << 52);
	double m;
	memcpy(&m, &bits, sizeof(m));   /* u = m * 2^e, 1 <= m < 2 */
	double z = (m - 1) / (m + 1), z2 = z * z, pow = z, sum = 0;
	for (int i = 1; i < 40; i += 2) {
		sum += pow / i;
		pow *= z2;
	}
	return e * ln2 + 2 * sum;
}

/* A uniform double in (0, 1] (splitmix64 over a shared counter). */
static double prof_uniform(void) {
	uint64_t x = atomic_fetch_add_explicit(&prof_rng,
	    0x9e3779b97f4a7c15ull, memory_order_relaxed);
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	x ^= x >> 31;
	return (double)((x >> 11) + 1) * (1.0 / 9007199254740992.0);
}

/* Bytes to the next sample: exponential of mean R, at least 1. */
static int64_t prof_interval(void) {
	double v = -prof_ln(prof_uniform()) * prof_r;
	return v >= (double)(PROF_GUARD >> 1) ? PROF_GUARD >> 1
	    : (int64_t)v + 1;
}

bool prof_sample_pick(size_t size) {
	int64_t left = tsd_tls.prof_left;
	if (left + (int64_t)size == 0) {
		/* The thread's first allocation: no count was drawn yet. */
		int64_t first = prof_interval();
		if (first > (int64_t)size) {
			tsd_tls.prof_left = first - (int64_t)size;
			return false;
		}
	}
	tsd_tls.prof_left = prof_interval();
	return true;
}

/* The weight of one sample of s bytes: 1 / P(sampled). */
static double prof_weight(double s) {
	if (prof_r <= 1 || s <= 0)
		return 1;
	return 1 / (1 - prof_exp_neg(s / prof_r));
}

double prof_scale(uint64_t count, uint64_t bytes, double *est_bytes) {
	double w = count == 0 ? 0 : prof_weight((double)bytes / (double)count);
	*est_bytes = w * (double)bytes;
	return w * (double)count;
}

/* ---------------------------------------------------------------------- */
/* Records */

static prof_rec_t *prof_rec(uint32_t id) {
	prof_rec_t *chunk = prof_chunks[id >> PROF_REC_LG_CHUNK];
	return chunk != NULL ? &chunk[id & (PROF_REC_CHUNK - 1)] : NULL;
}

/* A free record id (its chunk from base), or 0. */
static uint32_t prof_rec_get_locked(base_t *base) {
	uint32_t id = prof_rec_free;
	if (id != 0) {
		prof_rec_free = prof_rec(id)->next_free;
		return id;
	}
	id = prof_rec_next;
	size_t c = id >> PROF_REC_LG_CHUNK;
	if (c >= PROF_REC_CHUNKS)
		return 0;
	if (prof_chunks[c] == NULL &&
	    (prof_chunks[c] = base_alloc(base, PROF_REC_CHUNK *
	    sizeof(prof_rec_t), CACHELINE)) == NULL)
		return 0;
	prof_rec_next++;
	return id;
}

static void prof_rec_put_locked(uint32_t id) {
	prof_rec_t *r = prof_rec(id);
	r->ext = NULL;
	r->stack = NULL;
	r->next_free = prof_rec_free;
	prof_rec_free = id;
}

/* The live record of run e, or NULL (no id, or a stale one). */
static prof_rec_t *prof_rec_of_locked(const extent_t *e) {
	if (e->prof_id == 0 || e->prof_id >= prof_rec_next)
		return NULL;
	prof_rec_t *r = prof_rec(e->prof_id);
	return r != NULL && r->ext == e ? r : NULL;
}

/* ---------------------------------------------------------------------- */
/* Stacks */

static uint64_t prof_hash(const uintptr_t *frames, size_t n) {
	uint64_t h = 0xcbf29ce484222325ull ^ n;
	for (size_t i = 0; i < n; i++) {
		h ^= frames[i];
		h *= 0x100000001b3ull;
		h ^= h >> 29;
	}
	return h;
}

static unsigned prof_room_of(size_t depth) {
	unsigned room = 0;
	while (room + 1 < PROF_NROOMS && ((size_t)8 << room) < depth)
		room++;
	return room;
}

/* Rehash into a table twice as big (the old array stays in its base). */
static int prof_buckets_grow_locked(base_t *base) {
	size_t n = prof_nbuckets == 0 ? PROF_BUCKETS_MIN : prof_nbuckets * 2;
	prof_stack_t **b = base_alloc(base, n * sizeof(*b), CACHELINE);
	if (b == NULL)
		return ENOMEM;
	for (size_t i = 0; i < prof_nbuckets; i++) {
		prof_stack_t *s = prof_buckets[i], *next;
		for (; s != NULL; s = next) {
			next = s->next;
			s->next = b[s->hash & (n - 1)];
			b[s->hash & (n - 1)] = s;
		}
	}
	prof_buckets = b;
	prof_nbuckets = n;
	return 0;
}

/* A stack entry holding frames[0..n), from its room's free list or base. */
static prof_stack_t *prof_stack_new_locked(const uintptr_t *frames,
    size_t n, uint64_t h, base_t *base) {
	unsigned room = prof_room_of(n);
	prof_stack_t *s = prof_room_free[room];
	if (s != NULL)
		prof_room_free[room] = s->next;
	else if ((s = base_alloc(base, sizeof(*s) + ((size_t)8 << room) *
	    sizeof(uintptr_t), QUANTUM)) == NULL)
		return NULL;
	s->hash = h;
	s->count = s->bytes = 0;
	s->depth = (uint32_t)n;
	s->room = room;
	memcpy(s->frames, frames, n * sizeof(uintptr_t));
	size_t i = h & (prof_nbuckets - 1);
	s->next = prof_buckets[i];
	prof_buckets[i] = s;
	prof_totals.stacks++;
	return s;
}

/* The entry for frames[0..n), created when new; NULL when out of memory. */
static prof_stack_t *prof_stack_get_locked(const uintptr_t *frames, size_t n,
    base_t *base) {
	uint64_t h = prof_hash(frames, n);
	if (prof_totals.stacks >= prof_nbuckets &&
	    prof_buckets_grow_locked(base) != 0 && prof_nbuckets == 0)
		return NULL;
	for (prof_stack_t *s = prof_buckets[h & (prof_nbuckets - 1)]; s != NULL;
	    s = s->next) {
		if (s->hash == h && s->depth == n &&
		    memcmp(s->frames, frames, n * sizeof(uintptr_t)) == 0)
			return s;
	}
	return prof_stack_new_locked(frames, n, h, base);
}

/* Take a stack whose last sample went out of the table. */
static void prof_stack_drop_locked(prof_stack_t *s) {
	prof_stack_t **link = &prof_buckets[s->hash & (prof_nbuckets - 1)];
	while (*link != s)
		link = &(*link)->next;
	*link = s->next;
	s->next = prof_room_free[s->room];
	prof_room_free[s->room] = s;
	prof_totals.stacks--;
}

/* ---------------------------------------------------------------------- */
/* Samples */

/* Add (sign 1) or take away (sign -1) one sample of size bytes on s. */
static void prof_account_locked(prof_stack_t *s, size_t size, int sign) {
	s->count += (uint64_t)(int64_t)sign;
	s->bytes += (uint64_t)(int64_t)sign * size;
	prof_totals.live += (uint64_t)(int64_t)sign;
	prof_totals.live_bytes += (uint64_t)(int64_t)sign * size;
	prof_est_live += sign * (double)size * prof_weight((double)size);
	if (prof_totals.live == 0 || prof_est_live < 0)
		prof_est_live = 0;
}

/* Whether the estimated live heap just passed the next gdump step. */
static bool prof_gdump_due_locked(void) {
	if (opt_prof_gdump == 0 || prof_est_live < prof_gdump_next)
		return false;
	prof_gdump_next = prof_est_live + (double)opt_prof_gdump;
	return true;
}

static bool prof_insert_locked(extent_t *e, size_t size,
    const uintptr_t *frames, size_t n, base_t *base) {
	prof_totals.samples++;
	uint32_t id = prof_rec_get_locked(base);
	prof_stack_t *s = id != 0 ? prof_stack_get_locked(frames, n, base) : NULL;
	if (s == NULL) {
		if (id != 0)
			prof_rec_put_locked(id);
		prof_totals.dropped++;
		return false;
	}
	prof_rec_t *r = prof_rec(id);
	r->ext = e;
	r->stack = s;
	r->size = size;
	e->prof_id = id;
	prof_account_locked(s, size, 1);
	return prof_gdump_due_locked();
}

bool prof_sample_record(extent_t *e, size_t size, base_t *base) {
	int64_t left = tsd_tls.prof_left;
	tsd_tls.prof_left = PROF_GUARD;   /* no sampling inside the walk */
	uintptr_t frames[STACKWALK_DEPTH_MAX];
	size_t n = stackwalk_get(frames, STACKWALK_DEPTH_MAX);
	mutex_lock(&prof_lock);
	bool dump = prof_insert_locked(e, size, frames, n, base);
	mutex_unlock(&prof_lock);
	tsd_tls.prof_left = left;
	return dump;
}

void prof_free(extent_t *e) {
	if (e->prof_id == 0)
		return;
	mutex_lock(&prof_lock);
	prof_rec_t *r = prof_rec_of_locked(e);
	if (r != NULL) {
		prof_stack_t *s = r->stack;
		prof_account_locked(s, r->size, -1);
		if (s->count == 0)
			prof_stack_drop_locked(s);
		prof_rec_put_locked(e->prof_id);
	}
	e->prof_id = 0;
	mutex_unlock(&prof_lock);
}

bool prof_resize(extent_t *e, size_t size) {
	if (e->prof_id == 0)
		return false;
	mutex_lock(&prof_lock);
	prof_rec_t *r = prof_rec_of_locked(e);
	if (r != NULL) {
		prof_account_locked(r->stack, r->size, -1);
		r->size = size;
		prof_account_locked(r->stack, size, 1);
	}
	mutex_unlock(&prof_lock);
	return r != NULL;
}

void prof_stats_get(prof_stats_t *out) {
	if (!opt_prof) {
		memset(out, 0, sizeof(*out));
		return;
	}
	mutex_lock(&prof_lock);
	*out = prof_totals;
	out->est_bytes = (uint64_t)prof_est_live;
	mutex_unlock(&prof_lock);
}

void prof_stacks_visit(void (*fn)(void *arg, const prof_stack_view_t *s),
    void *arg, prof_stats_t *totals) {
	mutex_lock(&prof_lock);
	*totals = prof_totals;
	totals->est_bytes = (uint64_t)prof_est_live;
	for (size_t i = 0; i < prof_nbuckets; i++) {
		for (prof_stack_t *s = prof_buckets[i]; s != NULL; s = s->next) {
			prof_stack_view_t v = { s->frames, s->depth, s->count,
			    s->bytes };
			fn(arg, &v);
		}
	}
	mutex_unlock(&prof_lock);
}
