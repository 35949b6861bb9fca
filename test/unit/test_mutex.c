/*
 * test_mutex: lock/unlock/trylock/held, and the fork protocol: a child forked
 * while another thread held a registered lock can take it after
 * mutex_postfork_child; the parent can take it after mutex_postfork_parent.
 * Nested forks (a signal handler forking while its thread is inside fork):
 * the inner prefork takes nothing the outer holds and its postfork gives
 * back only what it took, in the parent and in the child.
 */
#include "check.h"
#include "mutex.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

static mutex_t m_arena, m_base;
static atomic_int churn_stop, churn_rounds;

/* mutex: lock, trylock, held (m_arena and m_base are set up by main) */
static int test_basic(void) {
	CHECK(!mutex_held(&m_arena));
	mutex_lock(&m_arena);
	CHECK(mutex_held(&m_arena));
	mutex_lock(&m_base);
	CHECK(mutex_held(&m_base));
	mutex_unlock(&m_base);
	mutex_unlock(&m_arena);
	CHECK(!mutex_held(&m_arena));
	CHECK(mutex_trylock(&m_base) == 0);
	CHECK(mutex_held(&m_base));
	mutex_unlock(&m_base);
	return CHECK_OK;
}

/* Takes and releases m_base in a loop until told to stop. */
static void *churner(void *arg) {
	(void)arg;
	while (atomic_load(&churn_stop) == 0) {
		mutex_lock(&m_arena);
		mutex_lock(&m_base);
		atomic_fetch_add(&churn_rounds, 1);
		mutex_unlock(&m_base);
		mutex_unlock(&m_arena);
	}
	return NULL;
}

/* In the child: both locks the churner was cycling must be free. */
static int child_body(void) {
	mutex_postfork_child();
	if (mutex_held(&m_base) || mutex_held(&m_arena))
		return 2;
	if (mutex_trylock(&m_arena) != 0)
		return 3;
	if (mutex_trylock(&m_base) != 0)
		return 4;
	mutex_unlock(&m_base);
	mutex_unlock(&m_arena);
	return 0;
}

/* mutex: fork while another thread cycles the locks */
static int test_fork(void) {
	pthread_t t;
	CHECK(pthread_create(&t, NULL, churner, NULL) == 0);
	while (atomic_load(&churn_rounds) < 100)
		sched_yield();
	unsigned bad = 0;
	for (int i = 0; i < 20; i++) {
		mutex_prefork();
		bad += !mutex_held(&m_base) || !mutex_held(&m_arena);
		pid_t pid = fork();
		if (pid == 0)
			_exit(child_body());
		mutex_postfork_parent();
		int status = 0;
		if (pid < 0 || waitpid(pid, &status, 0) != pid ||
		    !WIFEXITED(status) || WEXITSTATUS(status) != 0)
			bad++;
	}
	CHECK(bad == 0, "%u of 20 forks went wrong", bad);
	atomic_store(&churn_stop, 1);
	pthread_join(t, NULL);
	CHECK(!mutex_held(&m_base));
	CHECK(mutex_trylock(&m_base) == 0);
	mutex_unlock(&m_base);
	return CHECK_OK;
}

/* Reap child pid, which must exit 0; then m_base must be free. */
static int check_child_then_base_free(pid_t pid) {
	int status = 0;
	CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "child status %#x", status);
	CHECK(mutex_trylock(&m_base) == 0);
	mutex_unlock(&m_base);
	return CHECK_OK;
}

/* In the child: the lock the forking thread held stays held by it. */
static int child_self_body(void) {
	mutex_postfork_child();
	if (!mutex_held(&m_base))
		return 2;
	mutex_unlock(&m_base);
	return mutex_trylock(&m_base) == 0 ? 0 : 3;
}

/* mutex: a lock held by the forking thread stays with it */
static int test_fork_self_held(void) {
	mutex_lock(&m_base);
	mutex_prefork();
	pid_t pid = fork();
	if (pid == 0)
		_exit(child_self_body());
	mutex_postfork_parent();
	CHECK(mutex_held(&m_base));
	mutex_unlock(&m_base);
	return check_child_then_base_free(pid);
}

/* In the child of a nested fork: the inner postfork leaves the outer's
 * locks held, the outer's then frees them. */
static int child_nested_body(void) {
	mutex_postfork_child();
	if (!mutex_held(&m_arena) || !mutex_held(&m_base))
		return 2;
	mutex_postfork_child();
	if (mutex_held(&m_arena) || mutex_held(&m_base))
		return 3;
	if (mutex_trylock(&m_arena) != 0)
		return 4;
	mutex_unlock(&m_arena);
	return 0;
}

/* mutex: a nested prefork leaves the outer one's locks alone */
static int test_fork_nested(void) {
	mutex_prefork();
	CHECK(mutex_held(&m_arena) && mutex_held(&m_base));
	mutex_prefork();  /* would wait for itself if it took them again */
	CHECK(mutex_held(&m_arena) && mutex_held(&m_base));
	pid_t pid = fork();
	if (pid == 0)
		_exit(child_nested_body());
	mutex_postfork_parent();
	CHECK(mutex_held(&m_arena) && mutex_held(&m_base));
	mutex_postfork_parent();
	CHECK(!mutex_held(&m_arena) && !mutex_held(&m_base));
	return check_child_then_base_free(pid);
}

/* mutex: a destroyed lock leaves the fork protocol */
static int test_destroy(void) {
	mutex_t tmp;
	CHECK(mutex_init(&tmp, "test-tmp", MUTEX_RANK_LEAF) == 0);
	mutex_destroy(&tmp);
	/* If tmp were still registered, prefork would lock freed state. */
	memset(&tmp, 0xff, sizeof(tmp));
	mutex_prefork();
	mutex_postfork_parent();
	CHECK(mutex_trylock(&m_arena) == 0);
	mutex_unlock(&m_arena);
	return CHECK_OK;
}

static const struct check_s checks[] = {
	CHECK_ENTRY(test_basic),
	CHECK_ENTRY(test_fork),
	CHECK_ENTRY(test_fork_self_held),
	CHECK_ENTRY(test_fork_nested),
	CHECK_ENTRY(test_destroy),
};

int main(int argc, char **argv) {
	if (mutex_init(&m_arena, "test-arena", MUTEX_RANK_ARENA) != 0 ||
	    mutex_init(&m_base, "test-base", MUTEX_RANK_BASE) != 0)
		return 1;
	return check_main(checks, sizeof(checks) / sizeof(checks[0]), argc,
	    argv);
}
