/*
 * mallocfork.c: glibc's tst-mallocfork, written anew: a signal handler
 * forks while the main thread waits for the child that sent the signal,
 * 200 times. Under the preload it used to hang about 1 run in 20, when the
 * signal landed while the main thread was itself inside fork() (between
 * the prepare handlers and the parent handlers): the handler's fork spun
 * on the registry flag the interrupted prepare held (issue 9; test/robust
 * fork_signal.c covers the interleavings in depth).
 * SIGUSR1, not SIGALRM as in the original: check.h's watchdog is an alarm.
 */
#include "conf.h"

static void mf_handler(int sig)
{
	(void)sig;
	pid_t child = fork();
	if (child == 0)
		_exit(0);
	if (child > 0)
		while (waitpid(child, NULL, 0) < 0 && errno == EINTR)
			;
}

/* A signal handler that forks, while the main thread waits for (or is
 * still forking) the child that sent the signal, after one malloc. */
static int fork_from_signal_while_waiting(void)
{
	void *p = malloc(sizeof(int));
	CHECK(p != NULL);
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = mf_handler;
	sigemptyset(&sa.sa_mask);
	CHECK(sigaction(SIGUSR1, &sa, NULL) == 0);
	pid_t parent = getpid();
	pid_t child = fork();
	CHECK(child >= 0);
	if (child == 0) {
		kill(parent, SIGUSR1);
		_exit(0);
	}
	int status;
	while (waitpid(child, &status, 0) < 0)
		CHECK(errno == EINTR);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	free(p);
	void *q = malloc(100);
	CHECK(q != NULL);
	free(q);
	return CHECK_OK;
}

static int fork_from_signal_repeated(void)
{
	for (int i = 0; i < 200; i++)
		CHECK(fork_from_signal_while_waiting() == CHECK_OK, "round %d", i);
	return CHECK_OK;
}

static const struct check_s checks[] = {
	CHECK_ENTRY(fork_from_signal_repeated),
};

int main(int argc, char **argv)
{
	return check_main(checks, sizeof(checks) / sizeof(checks[0]), argc, argv);
}
