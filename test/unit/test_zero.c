/*
 * test_zero: the hardened build's zero-size region: distinct units, reuse
 * after free, double and interior frees told apart, and a fault on touch.
 */
#include "check.h"
#include "zero.h"

#include <signal.h>
#include <sys/wait.h>

/* zero: distinct units, released and told apart from bad frees */
static int test_units(void) {
	enum { N = 1000 };
	static char *u[N];
	CHECK(zero_boot() == 0);
	for (int i = 0; i < N; i++) {
		u[i] = zero_alloc();
		CHECK(u[i] != NULL && zero_owns(u[i]) && zero_live(u[i]));
		CHECK(i == 0 || u[i] != u[i - 1], "unit %d handed out twice", i);
	}
	CHECK(zero_free(u[5]) == 0 && !zero_live(u[5]));
	CHECK(zero_free(u[5]) == EALREADY);
	CHECK(zero_free(u[6] + 1) == EINVAL);
	CHECK(!zero_owns((char *)zero_base + ZERO_SIZE) && !zero_owns(NULL));
	for (int i = 0; i < N; i++)
		CHECK(i == 5 || zero_free(u[i]) == 0, "unit %d", i);
	return CHECK_OK;
}

/* zero: touching a unit faults */
static int test_fault(void) {
	CHECK(zero_boot() == 0);
	char *p = zero_alloc();
	CHECK(p != NULL);
	pid_t pid = fork();
	if (pid == 0) {
		*(volatile char *)p = 1;
		_exit(0);
	}
	int st = 0;
	waitpid(pid, &st, 0);
	/* Under ASan its SEGV handler reports and exits non-zero instead. */
	CHECK((WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV) ||
	    (WIFEXITED(st) && WEXITSTATUS(st) != 0), "status %#x", st);
	CHECK(zero_free(p) == 0);
	return CHECK_OK;
}

static const struct check_s checks[] = {
	CHECK_ENTRY(test_units),
	CHECK_ENTRY(test_fault),
};

int main(int argc, char **argv) {
	return check_main(checks, sizeof(checks) / sizeof(checks[0]), argc,
	    argv);
}
