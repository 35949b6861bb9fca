/*
 * robust.h: what the test/robust programs share (header only, on top of
 * test/lib/check.h): rounds of a scenario, each in a fresh process group,
 * watched for progress. A round ticks a counter in shared memory as it
 * works; a round whose counter stops moving for ROBUST_STALL_S seconds is
 * hung: every process of its group is killed and the check fails, naming
 * the round. A round must end with exit status 0. Also: reaping a child,
 * and what the tests' forked children do.
 */
#ifndef BM_TEST_ROBUST_H
#define BM_TEST_ROBUST_H

#include "check.h"

#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <time.h>

#define KiB ((size_t)1024)
#define MiB ((size_t)1024 * 1024)

/* No progress for this long is a hang (the machine may be busy: a fork
 * takes well under a second even then). */
#define ROBUST_STALL_S 10

/* The round's progress counter and free-form figures it reports back. */
struct robust_shared_s {
	_Atomic long progress;
	_Atomic long figure[4];
};
static struct robust_shared_s *robust_shared;

static inline void robust_tick(void)
{
	atomic_fetch_add_explicit(&robust_shared->progress, 1, memory_order_relaxed);
}

static inline double robust_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Wait for child pid, retrying on EINTR; 0 when it exited 0. */
static inline int robust_reap(pid_t pid)
{
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return 1;
	return !WIFEXITED(st) || WEXITSTATUS(st) != 0;
}

/* What a forked child does: allocate a small and a large block, write,
 * free them and exit 0 (3 when an allocation failed). */
static inline void robust_child_allocates(void)
{
	char *a = malloc(100), *b = malloc(200 * KiB);
	if (a == NULL || b == NULL)
		_exit(3);
	memset(b, 1, 200 * KiB);
	free(a);
	free(b);
	_exit(0);
}

/* Wait for round process pid, killing its group when it stops making
 * progress. 0 when it exited 0; else prints why and returns 1. */
static inline int robust_wait(pid_t pid, const char *what, int round)
{
	long last = -1;
	double since = robust_now();
	struct timespec poll = { 0, 20 * 1000 * 1000 };
	for (;;) {
		int st;
		pid_t r = waitpid(pid, &st, WNOHANG);
		if (r == pid) {
			kill(-pid, SIGKILL);  /* leftovers of the group, if any */
			if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
				return 0;
			if (WIFEXITED(st))
				printf("  # %s, round %d: exit status %d\n", what, round,
				    WEXITSTATUS(st));
			else
				printf("  # %s, round %d: killed by signal %d\n", what,
				    round, WTERMSIG(st));
			return 1;
		}
		if (r < 0 && errno != EINTR) {
			printf("  # %s, round %d: waitpid: %s\n", what, round,
			    strerror(errno));
			return 1;
		}
		long now = atomic_load(&robust_shared->progress);
		if (now != last) {
			last = now;
			since = robust_now();
		} else if (robust_now() - since > ROBUST_STALL_S) {
			kill(-pid, SIGKILL);
			while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
				;
			printf("  # %s, round %d: no progress for %d s after %ld steps "
			    "(hang or deadlock)\n", what, round, ROBUST_STALL_S, now);
			return 1;
		}
		nanosleep(&poll, NULL);
	}
}

/* Run body(round) in its own process group for rounds rounds (stopping at
 * the first failure); 0 when every round finished with status 0. *elapsed
 * gets the seconds taken. */
static inline int robust_rounds(const char *what, int rounds,
    int (*body)(int round), double *elapsed)
{
	double t0 = robust_now();
	if (robust_shared == NULL) {
		robust_shared = mmap(NULL, sizeof(*robust_shared),
		    PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		if (robust_shared == MAP_FAILED)
			return 1;
	}
	for (int r = 0; r < rounds; r++) {
		atomic_store(&robust_shared->progress, 0);
		fflush(stdout);
		pid_t pid = fork();
		if (pid < 0) {
			printf("  # %s: fork: %s\n", what, strerror(errno));
			return 1;
		}
		if (pid == 0) {
			setpgid(0, 0);
			_exit(body(r));
		}
		setpgid(pid, pid);
		if (robust_wait(pid, what, r) != 0)
			return 1;
	}
	*elapsed = robust_now() - t0;
	return 0;
}

#endif
