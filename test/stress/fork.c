/*
 * fork.c: fork while the allocator is busy, run under LD_PRELOAD by
 * test/stress/run. A hang in a child or a parent is caught by alarm().
 * fork_from_thread: 3 threads allocate and free without pause while a fourth
 * forks 200 times; each child mallocs, frees, creates a thread that does the
 * same, joins it and exits 0.
 * fork_from_signal_handler (glibc's tst-mallocfork2 style): the single
 * allocating thread of a process is interrupted by SIGUSR1 sent by 2, 4 or 8
 * sender processes; the handler forks, the child calls _exit(0) and the
 * handler waits for it. The allocating process stays single-threaded, as in
 * glibc's test: fork is async-signal-safe only there.
 */
#include "stress.h"

#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>

static atomic_int stop_allocating;

static void *allocator_thread(void *arg)
{
	uint64_t rng = (uint64_t)(uintptr_t)arg + check_seed();
	unsigned char *live[64] = { 0 };
	size_t size[64];
	uint64_t tag[64];
	/* Lowest priority: on 2 cores the forks and their children would
	 * otherwise wait behind these threads (this changes no result). */
	setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 19);
	for (uint64_t i = 0; !atomic_load(&stop_allocating); i++) {
		int k = (int)(check_rand(&rng) % 64);
		if (live[k] != NULL) {
			if (stress_verify(live[k], size[k], tag[k]))
				STRESS_FAIL("block of %zu bytes corrupted", size[k]);
			free(live[k]);
		}
		size[k] = stress_size(&rng) % (64 * KiB);
		tag[k] = i;
		live[k] = stress_alloc(&rng, size[k]);
		if (live[k] != NULL)
			stress_fill(live[k], size[k], i);
	}
	for (int k = 0; k < 64; k++)
		free(live[k]);
	return NULL;
}

static void *child_thread(void *arg)
{
	size_t n = (size_t)(uintptr_t)arg;
	for (int i = 0; i < 100; i++) {
		unsigned char *p = malloc(n + (size_t)i);
		if (p == NULL)
			return (void *)1;
		check_fill(p, n + (size_t)i, (uint64_t)i);
		if (check_verify(p, n + (size_t)i, (uint64_t)i) >= 0)
			return (void *)1;
		free(p);
	}
	return NULL;
}

/* What a child of the multithreaded parent does; its exit status says. */
static int child_work(void)
{
	static const size_t sizes[] = { 8, 100, 3000, 40000, 300000, 1100000 };
	void *ps[6];
	pthread_t t;
	void *ret = (void *)1;
	for (int i = 0; i < 6; i++) {
		ps[i] = malloc(sizes[i]);
		if (ps[i] == NULL)
			return 1;
		memset(ps[i], i, sizes[i]);
	}
	for (int i = 0; i < 6; i++)
		free(ps[i]);
	if (pthread_create(&t, NULL, child_thread, (void *)(uintptr_t)200) != 0 ||
	    pthread_join(t, &ret) != 0 || ret != NULL)
		return 2;
	return 0;
}

static int fork_from_thread(void)
{
	enum { THREADS = 2, FORKS = 200 };
	pthread_t th[THREADS];
	int bad = 0;
	for (int i = 0; i < THREADS; i++)
		CHECK(pthread_create(&th[i], NULL, allocator_thread, (void *)(uintptr_t)i) == 0);
	for (int f = 0; f < FORKS && bad < 3; f++) {
		pid_t pid = fork();
		CHECK(pid >= 0, "fork: %s", strerror(errno));
		if (pid == 0) {
			alarm(60);
			exit(child_work());
		}
		int st;
		CHECK(waitpid(pid, &st, 0) == pid);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			printf("  # fork %d: child %s %d\n", f,
			    WIFEXITED(st) ? "exited with" : "killed by signal",
			    WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
			bad++;
		}
		void *p = malloc(1000);
		CHECK(p != NULL);
		free(p);
	}
	atomic_store(&stop_allocating, 1);
	for (int i = 0; i < THREADS; i++)
		CHECK(pthread_join(th[i], NULL) == 0);
	CHECK(bad == 0, "%d children failed", bad);
	CHECK(atomic_load(&stress_failures) == 0, "%d failures", atomic_load(&stress_failures));
	printf("  # %d forks while %d threads allocated\n", FORKS, THREADS);
	return CHECK_OK;
}

static volatile sig_atomic_t handler_forks, handler_bad;

static void fork_handler(int sig)
{
	int saved = errno, st;
	(void)sig;
	pid_t pid = fork();
	if (pid == 0)
		_exit(0);
	if (pid < 0) {
		handler_bad++;
	} else {
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			handler_bad++;
		handler_forks++;
	}
	errno = saved;
}

/* Allocations done by the process under test, shared with its senders. */
static volatile long *shared_allocs;

/* A sender process: one SIGUSR1 to the parent each time the parent has done
 * another step allocations (so the parent always makes progress between
 * signals), until the parent kills it or dies (then the kernel kills it). */
static void sender(pid_t parent, long step)
{
	struct timespec pause = { 0, 1000 * 1000 };
	long last = 0;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	while (getppid() == parent) {
		long now = *shared_allocs;
		if (now - last >= step) {
			if (kill(parent, SIGUSR1) != 0)
				break;
			last = now;
		} else {
			nanosleep(&pause, NULL);
		}
	}
	_exit(0);
}

static void alloc_round(uint64_t *rng, unsigned char **live, size_t *size)
{
	int k = (int)(check_rand(rng) % 32);
	if (live[k] != NULL && stress_verify(live[k], size[k], (uint64_t)k))
		STRESS_FAIL("block of %zu bytes corrupted", size[k]);
	free(live[k]);
	size[k] = stress_size(rng);
	live[k] = stress_alloc(rng, size[k]);
	if (live[k] != NULL)
		stress_fill(live[k], size[k], (uint64_t)k);
}

/* Allocate until at least 100,000 allocations and 100 forks from the
 * handler have happened, then stop the senders. */
static int fork_in_handler(int n_senders)
{
	enum { MIN_ALLOCS = 100000, MIN_FORKS = 100 };
	pid_t pids[8];
	struct sigaction sa;
	uint64_t rng = check_seed() + (uint64_t)n_senders;
	unsigned char *live[32] = { 0 };
	size_t size[32];
	long allocs = 0;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = fork_handler;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	CHECK(sigaction(SIGUSR1, &sa, NULL) == 0);
	shared_allocs = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CHECK(shared_allocs != MAP_FAILED);
	/* No handler may run inside the fork that creates a sender. */
	sigset_t usr1, old;
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	CHECK(sigprocmask(SIG_BLOCK, &usr1, &old) == 0);
	for (int i = 0; i < n_senders; i++) {
		pids[i] = fork();
		CHECK(pids[i] >= 0, "fork: %s", strerror(errno));
		if (pids[i] == 0)
			sender(getppid(), 300L * n_senders + 37L * i);
	}
	CHECK(sigprocmask(SIG_SETMASK, &old, NULL) == 0);
	while (allocs < MIN_ALLOCS || handler_forks < MIN_FORKS)
		for (int j = 0; j < 100; j++, allocs++) {
			alloc_round(&rng, live, size);
			*shared_allocs = allocs;
		}
	CHECK(sigprocmask(SIG_BLOCK, &usr1, NULL) == 0);
	for (int i = 0; i < n_senders; i++) {
		int st;
		kill(pids[i], SIGKILL);
		CHECK(waitpid(pids[i], &st, 0) == pids[i]);
	}
	for (int k = 0; k < 32; k++)
		free(live[k]);
	printf("  # %d senders: %d forks from the handler during %ld allocations\n",
	    n_senders, (int)handler_forks, allocs);
	CHECK(handler_bad == 0, "%d forks failed or children did not exit 0", (int)handler_bad);
	CHECK(atomic_load(&stress_failures) == 0, "%d failures", atomic_load(&stress_failures));
	return CHECK_OK;
}

static int fork_from_signal_handler_2(void)
{
	return fork_in_handler(2);
}

static int fork_from_signal_handler_4(void)
{
	return fork_in_handler(4);
}

static int fork_from_signal_handler_8(void)
{
	return fork_in_handler(8);
}

static const struct check_s checks[] = {
	CHECK_ENTRY(fork_from_thread),
	CHECK_ENTRY(fork_from_signal_handler_2),
	CHECK_ENTRY(fork_from_signal_handler_4),
	CHECK_ENTRY(fork_from_signal_handler_8),
};

int main(int argc, char **argv)
{
	return stress_main("fork", checks, sizeof(checks) / sizeof(checks[0]),
	    argc, argv);
}
