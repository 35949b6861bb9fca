/*
 * test_zero: the hardened build's zero-size region: distinct units, reuse
 * after free, double and interior frees told apart, and a fault on touch.
 */
#include "test.h"
#include "zero.h"

#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

static void test_units(void) {
	test_begin("zero: distinct units, reused after free");
	REQUIRE(zero_boot() == 0);
	enum { N = 1000 };
	static char *u[N];
	unsigned dup = 0;
	for (int i = 0; i < N; i++) {
		u[i] = zero_alloc();
		REQUIRE(u[i] != NULL && zero_owns(u[i]) && zero_live(u[i]));
		if (i > 0 && u[i] == u[i - 1])
			dup++;
	}
	CHECK(dup == 0);
	CHECK(zero_free(u[5]) == 0 && !zero_live(u[5]));
	CHECK(zero_free(u[5]) == EALREADY);
	CHECK(zero_free(u[6] + 1) == EINVAL);
	CHECK(!zero_owns((char *)zero_base + ZERO_SIZE) && !zero_owns(NULL));
	for (int i = 0; i < N; i++)
		if (i != 5)
			CHECK(zero_free(u[i]) == 0);
	test_end();
}

static void test_fault(void) {
	test_begin("zero: touching a unit faults");
	char *p = zero_alloc();
	REQUIRE(p != NULL);
	pid_t pid = fork();
	if (pid == 0) {
		*(volatile char *)p = 1;
		_exit(0);
	}
	int st = 0;
	waitpid(pid, &st, 0);
	/* Under ASan its SEGV handler reports and exits non-zero instead. */
	CHECKF((WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV) ||
	    (WIFEXITED(st) && WEXITSTATUS(st) != 0), "status %#x", st);
	CHECK(zero_free(p) == 0);
	test_end();
}

int main(void) {
	test_units();
	test_fault();
	return test_finish();
}
