/*
 * signal_malloc: a signal handler that mallocs and frees while the thread
 * it interrupted is inside malloc or free (undefined by POSIX, but done by
 * real programs). A timer fires every 50 us; its handler allocates and
 * frees a large and a small block while one or two threads cycle blocks of
 * 3 KB, 200 KB and 2 MB (slow paths that hold the arena's locks). Each run
 * must either finish or abort with the allocator's one-line report of the
 * deadlock it refused; a hang (no progress for ROBUST_STALL_S seconds) or
 * any other end fails. Each run is a fresh process (the timer runs from
 * before its first malloc, which creates its arena under the pool lock).
 * Before the report existed, the handler's malloc waited for a lock its
 * own thread held: every run hung.
 */
#include "robust.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/time.h>
#include <sys/wait.h>

enum { SM_SLOTS = 64, SM_STEPS = 20000 };

static volatile sig_atomic_t sm_hits;

static void sm_handler(int sig)
{
	(void)sig;
	int saved = errno;
	char *a = malloc(100 * 1000 + (size_t)(sm_hits % 7) * 4096);
	if (a != NULL)
		memset(a, 1, 64);
	char *b = malloc(40);
	free(a);
	free(b);
	sm_hits++;
	errno = saved;
}

/* Cycle 64 slots through blocks of about 2 MiB, 200 KB and 3 KB. */
static void *sm_cycle(void *arg)
{
	(void)arg;
	char *slot[SM_SLOTS] = { 0 };
	for (long i = 0; i < SM_STEPS; i++) {
		size_t size = i % 3 == 0 ? ((size_t)2 << 20) + (size_t)(i % 5) * 65536
		    : i % 3 == 1 ? 200000 + (size_t)(i % 11) * 8192
		    : 3000 + (size_t)(i % 13) * 512;
		int k = (int)(i % SM_SLOTS);
		free(slot[k]);
		slot[k] = malloc(size);
		if (slot[k] != NULL)
			slot[k][0] = 1;
		robust_tick();
	}
	for (int k = 0; k < SM_SLOTS; k++)
		free(slot[k]);
	return NULL;
}

/* The storm in this process: threads cyclers (1 or 2) under the timer. */
static int sm_storm(int threads)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = sm_handler;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGALRM, &sa, NULL);
	struct itimerval it = { { 0, 50 }, { 0, 50 } };
	setitimer(ITIMER_REAL, &it, NULL);
	pthread_t t;
	if (threads > 1 && pthread_create(&t, NULL, sm_cycle, NULL) != 0)
		return 3;
	sm_cycle(NULL);
	if (threads > 1)
		pthread_join(t, NULL);
	return 0;
}

static int sm_threads;
static int sm_shared_fd = -1;  /* robust_shared, for the exec'd storm */

/* Put robust_shared in a memfd (kept across exec) and map it. */
static int sm_shared_map(int fd)
{
	if (fd < 0) {
		fd = memfd_create("robust_shared", 0);
		if (fd < 0 || ftruncate(fd, sizeof(*robust_shared)) != 0)
			return -1;
	}
	void *p = mmap(NULL, sizeof(*robust_shared), PROT_READ | PROT_WRITE,
	    MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return -1;
	robust_shared = p;
	return fd;
}

/* One round: the storm in a child whose stderr goes to a file; finishing
 * or aborting with the report passes. */
static int sm_round(int round)
{
	char path[64];
	snprintf(path, sizeof(path), "/tmp/bm-signal-malloc.%d.%d", getpid(), round);
	pid_t pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0) {
		int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd >= 0)
			dup2(fd, 2);
		/* a fresh process: its first malloc (the arena's creation, under
		 * the pool lock) runs under the timer too */
		char n[8], f[16];
		snprintf(n, sizeof(n), "%d", sm_threads);
		snprintf(f, sizeof(f), "%d", sm_shared_fd);
		execl("/proc/self/exe", "signal_malloc", "storm", n, f, (char *)NULL);
		_exit(4);
	}
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return 1;
	char err[512] = "";
	int fd = open(path, O_RDONLY);
	if (fd >= 0) {
		ssize_t n = read(fd, err, sizeof(err) - 1);
		err[n > 0 ? n : 0] = '\0';
		close(fd);
	}
	unlink(path);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 0;
	if (WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT &&
	    strstr(err, "basemalloc: a signal handler called the allocator") != NULL)
		return 2;  /* refused, as promised */
	printf("  # round %d: status %d, stderr '%s'\n", round, st, err);
	return 1;
}

/* Rounds report back through the exit status of the round process. */
static int sm_body(int round)
{
	int r = sm_round(round);
	return r == 2 ? 0 : r;
}

static int sm_check(int threads)
{
	double elapsed;
	sm_threads = threads;
	CHECK(robust_rounds(threads > 1 ? "signal storm, 2 threads" :
	    "signal storm, 1 thread", 4, sm_body, &elapsed) == 0);
	printf("  # %d thread(s): 4 rounds in %.1f s, none hung\n", threads, elapsed);
	return CHECK_OK;
}

static int signal_handler_malloc_never_hangs_1_thread(void) { return sm_check(1); }
static int signal_handler_malloc_never_hangs_2_threads(void) { return sm_check(2); }

static const struct check_s checks[] = {
	CHECK_ENTRY(signal_handler_malloc_never_hangs_1_thread),
	CHECK_ENTRY(signal_handler_malloc_never_hangs_2_threads),
};

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "storm") == 0)
		return sm_shared_map(atoi(argv[3])) < 0 ? 5 : sm_storm(atoi(argv[2]));
	sm_shared_fd = sm_shared_map(-1);
	if (sm_shared_fd < 0) {
		printf("FAIL signal_malloc: memfd: %s\n", strerror(errno));
		return 1;
	}
	return check_main(checks, sizeof(checks) / sizeof(checks[0]), argc, argv);
}
