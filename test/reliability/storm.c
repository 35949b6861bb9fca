/*
 * storm.c: thread and fork storms, run by test/reliability/run under the
 * preload (and under glibc as the baseline).
 * check_thread_storm: BM_STORM_THREADS (10,000) threads, at most WINDOW
 * alive at once; each checks and frees blocks left by earlier (mostly dead)
 * threads, allocates its own, leaves some for later threads and frees the
 * rest. No block may change while it waits, the number of arenas must stay
 * within the live threads (dead threads' arenas are adopted), and VmHWM
 * must stay bounded.
 * check_fork_storm: BM_STORM_FORKS (1,000) forks while 4 threads allocate,
 * free and check blocks; each child checks and frees a block of its parent,
 * allocates blocks of every kind, some create a thread or fork again; every
 * child must exit 0 within its watchdog (no lock inherited held).
 * Each check prints "  # threads N" / "  # forks N" for the runner's count.
 */
#include "rel.h"

enum { WINDOW = 16, HANDOFF_MAX = 4000 };

struct item_s {
	struct item_s *next;
	size_t n;
	uint64_t tag;
};

static pthread_mutex_t pile_mu = PTHREAD_MUTEX_INITIALIZER;
static struct item_s *pile;
static long pile_count;
static atomic_int storm_bad;
static atomic_long storm_checked;

static unsigned long env_count(const char *name, unsigned long def)
{
	const char *s = getenv(name);
	return s != NULL && *s != '\0' ? strtoul(s, NULL, 0) : def;
}

static size_t storm_size(uint64_t *rng)
{
	uint64_t r = check_rand(rng), pick = r % 1000;
	r >>= 10;
	if (pick < 800)
		return sizeof(struct item_s) + r % 512;
	if (pick < 990)
		return sizeof(struct item_s) + r % (16 * KiB);
	if (pick < 999)
		return 16 * KiB + r % (256 * KiB);
	return 33 * MiB;
}

/* The payload after the header carries the pattern. */
static void item_fill(struct item_s *it, size_t n, uint64_t tag)
{
	it->n = n;
	it->tag = tag;
	rel_fill(it + 1, n - sizeof(*it), tag);
}

static void item_release(struct item_s *it)
{
	if (malloc_usable_size(it) < it->n ||
	    rel_verify(it + 1, it->n - sizeof(*it), it->tag)) {
		if (atomic_fetch_add(&storm_bad, 1) < 3)
			printf("  # block %p (%zu bytes, tag %#llx) corrupted\n",
			    (void *)it, it->n, (unsigned long long)it->tag);
	}
	atomic_fetch_add(&storm_checked, 1);
	free(it);
}

static void *storm_thread(void *v)
{
	uint64_t id = (uintptr_t)v, rng = check_seed() ^ (id * 0x9e3779b97f4a7c15ULL);
	struct item_s *mine[48], *taken = NULL;
	unsigned nmine = 8 + check_rand(&rng) % 40;
	pthread_mutex_lock(&pile_mu);
	for (int i = 0; i < 8 && pile != NULL; i++) {
		struct item_s *it = pile;
		pile = it->next;
		pile_count--;
		it->next = taken;
		taken = it;
	}
	pthread_mutex_unlock(&pile_mu);
	for (unsigned i = 0; i < nmine; i++) {
		size_t n = storm_size(&rng);
		mine[i] = malloc(n);
		if (mine[i] == NULL) {
			atomic_fetch_add(&storm_bad, 1);
			nmine = i;
			break;
		}
		item_fill(mine[i], n, (id << 16) | i);
	}
	while (taken != NULL) {
		struct item_s *next = taken->next;
		item_release(taken);
		taken = next;
	}
	for (unsigned i = 0; i < nmine; i++) {
		if (i % 2 == 0 && mine[i]->n < MiB) {
			pthread_mutex_lock(&pile_mu);
			if (pile_count < HANDOFF_MAX) {
				mine[i]->next = pile;
				pile = mine[i];
				pile_count++;
				mine[i] = NULL;
			}
			pthread_mutex_unlock(&pile_mu);
		}
		if (mine[i] != NULL)
			item_release(mine[i]);
	}
	return NULL;
}

static int check_thread_storm(void)
{
	unsigned long total = env_count("BM_STORM_THREADS", 10000);
	pthread_t win[WINDOW];
	unsigned long created = 0, joined = 0;
	long max_arenas = 0;
	for (; created < total; created++) {
		unsigned slot = created % WINDOW;
		if (created >= WINDOW) {
			CHECK(pthread_join(win[slot], NULL) == 0);
			joined++;
		}
		CHECK(pthread_create(&win[slot], NULL, storm_thread,
		    (void *)(uintptr_t)created) == 0, "thread %lu", created);
		if (created % 500 == 0) {
			long a = rel_narenas();
			if (a > max_arenas)
				max_arenas = a;
		}
	}
	for (unsigned long i = joined; i < created; i++)
		pthread_join(win[i % WINDOW], NULL);
	while (pile != NULL) {
		struct item_s *next = pile->next;
		item_release(pile);
		pile = next;
	}
	long a = rel_narenas(), hwm = rel_status_kib("VmHWM:");
	if (a > max_arenas)
		max_arenas = a;
	printf("  # threads %lu, blocks checked %ld, arenas %ld, VmHWM %ld KiB\n",
	    created, atomic_load(&storm_checked), max_arenas, hwm);
	CHECK(atomic_load(&storm_bad) == 0, "%d blocks bad", atomic_load(&storm_bad));
	/* Live threads: the main one and at most WINDOW workers. */
	CHECK(!check_expect_preload() || (max_arenas >= 2 && max_arenas <= WINDOW + 1),
	    "%ld arenas for at most %d live threads", max_arenas, WINDOW + 1);
	CHECK(hwm > 0 && hwm < 256 * 1024, "VmHWM %ld KiB", hwm);
	CHECK(rel_heap_alive());
	return CHECK_OK;
}

/* Fork storm: background allocators and a forking main thread. Each fork
 * opens an epoch in which every allocator does up to BURST operations, so
 * the forks land in the middle of their work without the four threads
 * starving the forking one of the machine's two cores. */
enum { BURST = 100 };
static atomic_int fork_stop;
static atomic_ulong fork_epoch;
static pthread_mutex_t epoch_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t epoch_cv = PTHREAD_COND_INITIALIZER;

static void epoch_next(void)
{
	pthread_mutex_lock(&epoch_mu);
	atomic_fetch_add(&fork_epoch, 1);
	pthread_cond_broadcast(&epoch_cv);
	pthread_mutex_unlock(&epoch_mu);
}

/* Wait for an epoch after seen (or the stop). */
static void epoch_wait(unsigned long seen)
{
	pthread_mutex_lock(&epoch_mu);
	while (atomic_load(&fork_epoch) == seen && !atomic_load(&fork_stop))
		pthread_cond_wait(&epoch_cv, &epoch_mu);
	pthread_mutex_unlock(&epoch_mu);
}

static void *fork_allocator(void *v)
{
	enum { SLOTS = 256 };
	struct item_s *slot[SLOTS] = { 0 };
	uint64_t rng = (uintptr_t)v * 7919;
	unsigned long epoch = atomic_load(&fork_epoch), in_epoch = 0;
	for (unsigned long op = 0; !atomic_load_explicit(&fork_stop,
	    memory_order_relaxed); op++) {
		if (++in_epoch >= BURST) {
			epoch_wait(epoch);
			epoch = atomic_load(&fork_epoch);
			in_epoch = 0;
		}
		unsigned i = check_rand(&rng) % SLOTS;
		if (slot[i] != NULL) {
			item_release(slot[i]);
			slot[i] = NULL;
			continue;
		}
		size_t n = storm_size(&rng);
		if ((slot[i] = malloc(n)) == NULL) {
			atomic_fetch_add(&storm_bad, 1);
			break;
		}
		item_fill(slot[i], n, op);
	}
	for (unsigned i = 0; i < SLOTS; i++)
		if (slot[i] != NULL)
			item_release(slot[i]);
	return NULL;
}

static void *child_thread(void *v)
{
	(void)v;
	return (void *)(intptr_t)rel_churn();
}

/* Small and large blocks, freed in another order than allocated. */
static int child_churn(unsigned long i)
{
	enum { N = 32 };
	void *p[N];
	uint64_t rng = i;
	for (int k = 0; k < N; k++) {
		size_t n = k % 8 == 7 ? 20000 + k * 1000 : 16 + k * 24;
		if ((p[k] = malloc(n)) == NULL)
			return 0;
		rel_fill(p[k], n, i + k);
	}
	for (int k = 0; k < N; k++) {
		int j = (int)(check_rand(&rng) % N);
		void *t = p[k];
		p[k] = p[j];
		p[j] = t;
	}
	for (int k = 0; k < N; k++)
		free(p[k]);
	return 1;
}

/* In the child: the parent's block, then blocks of every kind (huge ones
 * in every tenth child). */
static int child_work(struct item_s *from_parent, unsigned long i)
{
	if (rel_verify(from_parent + 1, from_parent->n - sizeof(*from_parent),
	    from_parent->tag))
		return 2;
	free(from_parent);
	if (!child_churn(i) || (i % 10 == 0 && !rel_churn()))
		return 3;
	if (i % 50 == 0) {
		pthread_t t;
		void *ok;
		if (pthread_create(&t, NULL, child_thread, NULL) != 0)
			return 4;
		pthread_join(t, &ok);
		if (ok != (void *)1)
			return 5;
	}
	if (i % 20 == 0) {
		int st;
		pid_t g = fork();
		if (g == 0)
			_exit(rel_churn() ? 0 : 1);
		if (g < 0 || waitpid(g, &st, 0) != g || !WIFEXITED(st) ||
		    WEXITSTATUS(st) != 0)
			return 6;
	}
	return 0;
}

static int check_fork_storm(void)
{
	unsigned long total = env_count("BM_STORM_FORKS", 1000), ok = 0;
	pthread_t t[4];
	uint64_t rng = check_seed();
	for (uintptr_t i = 0; i < 4; i++)
		CHECK(pthread_create(&t[i], NULL, fork_allocator, (void *)(i + 1)) == 0);
	for (unsigned long i = 0; i < total; i++) {
		size_t n = storm_size(&rng) % (64 * KiB) + sizeof(struct item_s);
		struct item_s *b = malloc(n);
		int st;
		CHECK(b != NULL);
		item_fill(b, n, i);
		fflush(stdout);
		epoch_next();
		pid_t pid = fork();
		CHECK(pid >= 0, "fork %lu: %s", i, strerror(errno));
		if (pid == 0) {
			alarm(20);
			_exit(child_work(b, i));
		}
		CHECK(waitpid(pid, &st, 0) == pid);
		CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child %lu: %s %d", i,
		    WIFEXITED(st) ? "exit status" : "signal",
		    WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
		item_release(b);
		ok++;
	}
	atomic_store(&fork_stop, 1);
	epoch_next();
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	printf("  # forks %lu (plus %lu grandchildren), blocks checked %ld\n", ok,
	    (total + 19) / 20, atomic_load(&storm_checked));
	CHECK(atomic_load(&storm_bad) == 0, "%d blocks bad", atomic_load(&storm_bad));
	return CHECK_OK;
}

int main(int argc, char **argv)
{
	static const struct check_s checks[] = {
		CHECK_ENTRY(check_thread_storm),
		CHECK_ENTRY(check_fork_storm),
	};
	return check_main(checks, sizeof(checks) / sizeof(checks[0]), argc, argv);
}
