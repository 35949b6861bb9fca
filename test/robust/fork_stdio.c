/*
 * fork_stdio.c: fork while other threads hold stdio locks (issue 9, item 1).
 * Each round: 4 threads fork in a loop (every child allocates a small and a
 * large block and exits 0), 8 threads read lines of up to 64 KiB with
 * getline (which reallocs while it holds its FILE's lock), check each line
 * (outside the lock, as a program would use it) and free it, and one
 * thread calls fflush(NULL) (which holds libc's list of FILEs and
 * takes each FILE's lock). The three-way deadlock this looks for: the
 * forking thread holds the allocator's locks and waits for libc's stdio
 * list lock, the fflush thread holds that and waits for a reader's FILE
 * lock, the reader waits in realloc for an allocator lock. A round that
 * stops forking for ROBUST_STALL_S seconds fails the check.
 */
#include "robust.h"

#include <sched.h>

#ifndef FORKS_PER_THREAD
#define FORKS_PER_THREAD 4
#endif
#ifndef ROUNDS
#define ROUNDS 20
#endif
enum { FORKERS = 4, READERS = 8 };

static char data_path[] = "/tmp/bm-fork-stdio-XXXXXX";
static atomic_int stop;
static atomic_long lines_read, lines_bad;

/* 0 when line (n bytes with its newline) holds what write_data wrote. */
static int line_bad(const char *line, ssize_t n)
{
	if (n < 2 || line[n - 1] != '\n')
		return 1;
	for (ssize_t j = 0; j < n - 1; j++)
		if (line[j] != 'a' + (int)(j % 26))
			return 1;
	return 0;
}

/* Lines of 1 byte to 64 KiB, lengths from a fixed PRNG; byte j of a line
 * is 'a' + j % 26. */
static int write_data(void)
{
	int fd = mkstemp(data_path);
	if (fd < 0)
		return -1;
	FILE *f = fdopen(fd, "w");
	if (f == NULL)
		return -1;
	uint64_t rng = check_seed();
	for (int i = 0; i < 48; i++) {
		size_t n = 1 + check_rand(&rng) % (64 * KiB);
		for (size_t j = 0; j < n; j++)
			fputc('a' + (int)(j % 26), f);
		fputc('\n', f);
	}
	return fclose(f) == 0 ? 0 : -1;
}

static void *reader(void *arg)
{
	(void)arg;
	FILE *f = fopen(data_path, "r");
	if (f == NULL)
		return (void *)1;
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		char *line = NULL;
		size_t cap = 0;
		ssize_t n = getline(&line, &cap, f);
		if (n < 0) {
			rewind(f);
		} else {
			atomic_fetch_add_explicit(&lines_read, 1, memory_order_relaxed);
			if (line_bad(line, n))
				atomic_fetch_add(&lines_bad, 1);
		}
		free(line);
	}
	fclose(f);
	return NULL;
}

static void *flusher(void *arg)
{
	(void)arg;
	/* Yield between calls: the list lock is not fair, and a thread
	 * taking it back at once would keep the forking threads out of it
	 * (no deadlock, but slow). */
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		fflush(NULL);
		sched_yield();
	}
	return NULL;
}

static void *forker(void *arg)
{
	(void)arg;
	for (int i = 0; i < FORKS_PER_THREAD; i++) {
		pid_t pid = fork();
		if (pid < 0)
			return (void *)1;
		if (pid == 0)
			robust_child_allocates();
		if (robust_reap(pid) != 0)
			return (void *)2;
		robust_tick();
	}
	return NULL;
}

static int round_body(int round)
{
	pthread_t f[FORKERS], r[READERS], fl;
	void *ret;
	int bad = 0;
	(void)round;
	for (int i = 0; i < READERS; i++)
		if (pthread_create(&r[i], NULL, reader, NULL) != 0)
			return 10;
	if (pthread_create(&fl, NULL, flusher, NULL) != 0)
		return 10;
	for (int i = 0; i < FORKERS; i++)
		if (pthread_create(&f[i], NULL, forker, NULL) != 0)
			return 10;
	for (int i = 0; i < FORKERS; i++) {
		pthread_join(f[i], &ret);
		bad |= ret != NULL;
	}
	atomic_store(&stop, 1);
	for (int i = 0; i < READERS; i++) {
		pthread_join(r[i], &ret);
		bad |= ret != NULL;
	}
	pthread_join(fl, NULL);
	atomic_fetch_add(&robust_shared->figure[0], atomic_load(&lines_read));
	if (atomic_load(&lines_bad) != 0)
		return 12;
	return bad ? 11 : 0;
}

static int fork_with_getline_and_fflush(void)
{
	double secs = 0;
	CHECK(write_data() == 0, "cannot write %s: %s", data_path, strerror(errno));
	int failed = robust_rounds("fork beside getline and fflush(NULL)", ROUNDS,
	    round_body, &secs);
	unlink(data_path);
	CHECK(failed == 0);
	printf("  # %d rounds of %d forks beside %d getline readers (%ld lines) "
	    "and fflush(NULL), %.1f s\n", ROUNDS, FORKERS * FORKS_PER_THREAD,
	    READERS, atomic_load(&robust_shared->figure[0]), secs);
	return CHECK_OK;
}

static const struct check_s checks[] = {
	CHECK_ENTRY(fork_with_getline_and_fflush),
};

int main(int argc, char **argv)
{
	return check_main(checks, sizeof(checks) / sizeof(checks[0]), argc, argv);
}
