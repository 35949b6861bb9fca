/*
 * fork_signal.c: fork from signal handlers under every interleaving
 * (issue 9, item 2). In every check the handler forks, its child calls
 * _exit(0) and the handler waits for it; a round that stops making progress
 * for ROBUST_STALL_S seconds fails the check (see robust.h).
 *
 * sigalrm_fork_in_fork: a single-threaded process forks in a loop (its
 * children allocate and exit 0); before each fork a one-shot timer is set
 * to fire SIGALRM 1 to ALRM_SPREAD_US us later, and the handler forks, so
 * it often runs while the main thread is itself inside fork(), between the
 * allocator's prepare and parent handlers. ALRM_ROUNDS rounds of
 * ALRM_FORKS forks.
 *
 * sigusr1_sender_processes: glibc's tst-mallocfork2/3 pattern, 10,000
 * rounds: the main thread frees and allocates a block (up to 70,000
 * bytes) and, one round in seven, forks first, while 5 sender processes
 * send it SIGUSR1, a process-shared barrier making the signals arrive
 * while it is inside malloc, free or fork. The process stays
 * single-threaded, where glibc makes fork from a handler work.
 *
 * sigusr1_sender_threads: the same with 5 sender threads in the process
 * (tst-mallocfork3). In a multithreaded process glibc's own fork() takes
 * its atfork lock, and a handler that forks while its thread is inside
 * fork() waits for that lock forever whatever the allocator, so the main
 * thread's own forks here are _Fork() (which runs no atfork handlers, as
 * in tst-mallocfork3); the handlers' forks are fork(), interrupting malloc,
 * free and _Fork.
 *
 * Each check counts how many handler forks interrupted which call, and how
 * many landed inside the fork protocol (between this program's own atfork
 * prepare handler, which runs before the allocator's, and its parent
 * handler, which runs after).
 */
#include "robust.h"

#include <sys/time.h>

enum { WHERE_NONE, WHERE_MALLOC, WHERE_FREE, WHERE_FORK, WHERE_N };
static volatile sig_atomic_t where, in_protocol;
static volatile sig_atomic_t handler_bad;

static void protocol_enter(void) { in_protocol = 1; }
static void protocol_leave(void) { in_protocol = 0; }

/* figure[0..2]: handler forks that interrupted malloc, free, fork;
 * figure[3]: handler forks inside the fork protocol. */
static void fork_handler(int sig)
{
	int saved = errno;
	(void)sig;
	if (where != WHERE_NONE)
		atomic_fetch_add(&robust_shared->figure[where - 1], 1);
	if (in_protocol)
		atomic_fetch_add(&robust_shared->figure[3], 1);
	pid_t pid = fork();
	if (pid == 0)
		_exit(0);
	if (pid < 0 || robust_reap(pid) != 0)
		handler_bad = 1;
	errno = saved;
}

static int install(int sig)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = fork_handler;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	return sigaction(sig, &sa, NULL) == 0 &&
	    pthread_atfork(protocol_enter, protocol_leave, protocol_leave) == 0;
}

static void child_exits(void)
{
	_exit(0);
}

/* The main thread forks with how (marked for the handler's counts) and its
 * child runs child: 0 when the child exited 0, 11 when the fork failed, 12
 * otherwise. */
static int main_fork(pid_t (*how)(void), void (*child)(void))
{
	where = WHERE_FORK;
	pid_t pid = how();
	where = WHERE_NONE;
	if (pid < 0)
		return 11;
	if (pid == 0)
		child();
	return robust_reap(pid) != 0 ? 12 : 0;
}

enum { ALRM_ROUNDS = 40, ALRM_FORKS = 150, ALRM_SPREAD_US = 400 };

static int alrm_round(int round)
{
	uint64_t rng = check_seed() + (uint64_t)round;
	if (!install(SIGALRM))
		return 10;
	for (int i = 0; i < ALRM_FORKS; i++) {
		struct itimerval it = { { 0, 0 }, { 0, 0 } };
		it.it_value.tv_usec = 1 + (long)(check_rand(&rng) % ALRM_SPREAD_US);
		if (setitimer(ITIMER_REAL, &it, NULL) != 0)
			return 10;
		int err = main_fork(fork, robust_child_allocates);
		if (err != 0)
			return err;
		robust_tick();
	}
	struct itimerval off = { { 0, 0 }, { 0, 0 } };
	setitimer(ITIMER_REAL, &off, NULL);
	return handler_bad ? 13 : 0;
}

static void print_counts(const char *what)
{
	printf("  # %s: handler forks interrupting malloc %ld, free %ld, "
	    "fork %ld; inside the fork protocol %ld\n", what,
	    atomic_load(&robust_shared->figure[0]),
	    atomic_load(&robust_shared->figure[1]),
	    atomic_load(&robust_shared->figure[2]),
	    atomic_load(&robust_shared->figure[3]));
}

static int sigalrm_fork_in_fork(void)
{
	double secs = 0;
	int failed = robust_rounds("SIGALRM handler forking", ALRM_ROUNDS,
	    alrm_round, &secs);
	CHECK(failed == 0);
	print_counts("SIGALRM");
	printf("  # %d rounds of %d forks, %.1f s\n", ALRM_ROUNDS, ALRM_FORKS, secs);
	CHECK(atomic_load(&robust_shared->figure[2]) > 0,
	    "no handler fork interrupted a fork: the check tested nothing");
	return CHECK_OK;
}

/* The tst-mallocfork pattern. */
enum { SENDERS = 5, OBJECTS = 1009, MAX_SIZE = 70000, ITERATIONS = 10000 };

static pthread_barrier_t *barrier;
static pid_t target_pid;
static pthread_t target_thread;
static int use_threads;

static void send_loop(void)
{
	for (;;) {
		pthread_barrier_wait(barrier);
		if (use_threads)
			pthread_kill(target_thread, SIGUSR1);
		else
			kill(target_pid, SIGUSR1);
		pthread_barrier_wait(barrier);
	}
}

static void *sender_thread(void *arg)
{
	(void)arg;
	send_loop();
	return NULL;
}


static int mallocfork_loop(void)
{
	static void *objects[OBJECTS];
	unsigned seed = 1;
	for (int i = 0; i < ITERATIONS; i++) {
		int slot = rand_r(&seed) % OBJECTS;
		size_t size = (size_t)rand_r(&seed) % MAX_SIZE;
		int do_fork = rand_r(&seed) % 7 == 0;
		pthread_barrier_wait(barrier);
		/* fork() when single-threaded, _Fork() when not (see above). */
		int err = do_fork ? main_fork(use_threads ? _Fork : fork,
		    child_exits) : 0;
		if (err != 0)
			return err;
		where = WHERE_FREE;
		free(objects[slot]);
		where = WHERE_MALLOC;
		objects[slot] = malloc(size);
		where = WHERE_NONE;
		pthread_barrier_wait(barrier);
		if (objects[slot] == NULL)
			return 13;
		robust_tick();
	}
	for (int i = 0; i < OBJECTS; i++)
		free(objects[i]);
	return handler_bad ? 14 : 0;
}

static int mallocfork_round(int round)
{
	pthread_barrierattr_t attr;
	(void)round;
	barrier = mmap(NULL, sizeof(*barrier), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (barrier == MAP_FAILED || pthread_barrierattr_init(&attr) != 0 ||
	    pthread_barrierattr_setpshared(&attr, PTHREAD_PROCESS_SHARED) != 0 ||
	    pthread_barrier_init(barrier, &attr, SENDERS + 1) != 0)
		return 10;
	target_pid = getpid();
	target_thread = pthread_self();
	for (int i = 0; i < SENDERS; i++) {
		if (use_threads) {
			pthread_t t;
			if (pthread_create(&t, NULL, sender_thread, NULL) != 0)
				return 10;
			continue;
		}
		pid_t pid = fork();
		if (pid < 0)
			return 10;
		if (pid == 0)
			send_loop();  /* killed with the group when the round ends */
	}
	if (!install(SIGUSR1))
		return 10;
	return mallocfork_loop();
}

static int mallocfork_check(int threads, const char *what)
{
	double secs = 0;
	use_threads = threads;
	int failed = robust_rounds(what, 1, mallocfork_round, &secs);
	CHECK(failed == 0);
	print_counts(what);
	printf("  # %d rounds, %.1f s\n", ITERATIONS, secs);
	return CHECK_OK;
}

static int sigusr1_sender_processes(void)
{
	int r = mallocfork_check(0, "SIGUSR1 from sender processes");
	if (r != CHECK_OK)
		return r;
	CHECK(atomic_load(&robust_shared->figure[2]) > 0,
	    "no handler fork interrupted a fork: the check tested nothing");
	return CHECK_OK;
}

static int sigusr1_sender_threads(void)
{
	return mallocfork_check(1, "SIGUSR1 from sender threads");
}

static const struct check_s checks[] = {
	CHECK_ENTRY(sigalrm_fork_in_fork),
	CHECK_ENTRY(sigusr1_sender_processes),
	CHECK_ENTRY(sigusr1_sender_threads),
};

int main(int argc, char **argv)
{
	return check_main(checks, sizeof(checks) / sizeof(checks[0]), argc, argv);
}
