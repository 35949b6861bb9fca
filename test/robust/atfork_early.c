/*
 * atfork_early.c: fork handlers registered before the allocator's may
 * allocate. The program is linked with atfork_lib.so, whose constructor
 * runs before the preload's and registers handlers that allocate blocks of
 * every kind: its prepare handler then runs after the allocator's prepare
 * (which holds every allocator lock), its parent and child handlers before
 * the allocator's postfork. glibc's malloc takes its locks after all
 * prepare handlers and gives them back before all others, so such
 * handlers work there; under the preload fork() used to wait forever in
 * the library's prepare handler, for a lock the same thread's prefork held.
 *
 * handlers_registered: the constructor registered its handlers.
 * early_handlers_single: a single-threaded process forks; each fork runs
 * the three handlers; the child checks and frees the block its child
 * handler kept and allocates; the parent checks and frees the blocks of
 * its prepare and parent handlers.
 * early_handlers_threads: the same while 3 threads allocate and free
 * blocks of every kind (the locks the prefork takes are contended, and
 * libc's stdio list lock is taken too).
 * The handlers allocate only once a round enables them; rounds are
 * watched for progress (robust.h): a hang fails the check.
 */
#include "robust.h"

#include "atfork_lib.h"

enum { ROUNDS = 4, FORKS = 25, WORKERS = 3 };
static atomic_int workers_stop;

/* 0 when p holds ATFORK_KEPT bytes of 'a' + phase. */
static int kept_bad(const unsigned char *p, int phase)
{
	return p == NULL || check_all_bytes(p, ATFORK_KEPT, (unsigned char)('a' + phase)) >= 0;
}

static void child_body(void)
{
	unsigned char *c = atfork_lib_take(ATFORK_CHILD);
	if (kept_bad(c, ATFORK_CHILD))
		_exit(4);
	free(c);
	robust_child_allocates();
}

/* FORKS forks, checking what the handlers kept; 0 when all went well. */
static int fork_rounds(void)
{
	atfork_lib_enable();
	for (int i = 0; i < FORKS; i++) {
		long before = atfork_lib_calls(ATFORK_PREPARE);
		pid_t pid = fork();
		if (pid < 0)
			return 20;
		if (pid == 0)
			child_body();
		if (robust_reap(pid) != 0)
			return 21;
		if (atfork_lib_calls(ATFORK_PREPARE) != before + 1 ||
		    atfork_lib_calls(ATFORK_PARENT) != before + 1)
			return 22;
		for (int phase = ATFORK_PREPARE; phase <= ATFORK_PARENT; phase++) {
			unsigned char *p = atfork_lib_take(phase);
			if (kept_bad(p, phase))
				return 23;
			free(p);
		}
		robust_tick();
	}
	return 0;
}

static void *worker(void *arg)
{
	uint64_t rng = check_seed() + (uintptr_t)arg;
	void *held[32] = { 0 };
	while (!atomic_load_explicit(&workers_stop, memory_order_relaxed)) {
		uint64_t r = check_rand(&rng);
		int k = (int)(r % 32);
		free(held[k]);
		size_t n = (size_t)(r >> 8) % (r % 7 == 0 ? 600 * KiB : 4 * KiB) + 1;
		held[k] = malloc(n);
		if (held[k] == NULL)
			return (void *)1;
		memset(held[k], 1, n < 64 ? n : 64);
	}
	for (int k = 0; k < 32; k++)
		free(held[k]);
	return NULL;
}

static int round_single(int round)
{
	(void)round;
	return fork_rounds();
}

static int round_threads(int round)
{
	pthread_t t[WORKERS];
	(void)round;
	for (int i = 0; i < WORKERS; i++)
		if (pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)(i + 1)) != 0)
			return 10;
	int r = fork_rounds();
	atomic_store(&workers_stop, 1);
	for (int i = 0; i < WORKERS; i++) {
		void *ret;
		pthread_join(t[i], &ret);
		if (ret != NULL && r == 0)
			r = 11;
	}
	return r;
}

static int handlers_registered(void)
{
	CHECK(atfork_lib_registered() == 1);
	return CHECK_OK;
}

static int early_handlers_single(void)
{
	double secs = 0;
	CHECK(robust_rounds("forks, handlers registered early", ROUNDS, round_single,
	    &secs) == 0);
	printf("  # %d rounds of %d forks, %.1f s\n", ROUNDS, FORKS, secs);
	return CHECK_OK;
}

static int early_handlers_threads(void)
{
	double secs = 0;
	CHECK(robust_rounds("forks beside allocating threads, handlers registered early",
	    ROUNDS, round_threads, &secs) == 0);
	printf("  # %d rounds of %d forks beside %d threads, %.1f s\n", ROUNDS, FORKS,
	    WORKERS, secs);
	return CHECK_OK;
}

static const struct check_s checks[] = {
	CHECK_ENTRY(handlers_registered),
	CHECK_ENTRY(early_handlers_single),
	CHECK_ENTRY(early_handlers_threads),
};

int main(int argc, char **argv)
{
	return check_main(checks, sizeof(checks) / sizeof(checks[0]), argc, argv);
}
