/* test/lib/tlimit.c: tlimit SECS CMD [ARGS...] runs CMD in a session (and
 * so a process group) of its own and never leaves anything behind: after
 * SECS seconds it kills CMD's whole process group; when CMD ends, by itself
 * or killed, it kills whatever CMD left running (its process group, and any
 * descendant that escaped into a session of its own, which is reparented to
 * tlimit, a child subreaper) and reaps them all before it exits. So a test
 * whose orphan still holds the runner's output pipe cannot hang the runner.
 * Exit status: CMD's own, 128 + the signal that killed it, 124 after a
 * timeout (with a line on stderr naming CMD), 127 if CMD cannot be run.
 * SIGINT, SIGTERM and SIGHUP to tlimit kill CMD's group too. Uses no malloc
 * (it may run under LD_PRELOAD of the allocator under test). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

static void say(const char *a, const char *b, const char *c)
{
	const char *parts[] = {"tlimit: ", a, b, c, "\n"};
	for (unsigned i = 0; i < 5; i++)
		if (parts[i] && write(2, parts[i], strlen(parts[i])) < 0)
			return;
}

/* Kill every child of ours (and its process group, if it made one) that
 * /proc lists; returns how many it found. */
static int kill_children(pid_t self)
{
	char path[64], buf[4096];
	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)self, (int)self);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	int found = 0;
	for (char *p = buf; *p;) {
		char *end;
		long pid = strtol(p, &end, 10);
		if (end == p)
			break;
		pid_t pg = getpgid((pid_t)pid);
		if (pg > 0 && pg != getpgrp())
			kill(-pg, SIGKILL);
		kill((pid_t)pid, SIGKILL);
		found++;
		p = end;
	}
	return found;
}

/* Kill the group of CMD and every descendant left; reap them all. */
static void kill_rest(pid_t group)
{
	pid_t self = getpid();
	kill(-group, SIGKILL);
	for (;;) {
		kill_children(self);
		if (waitpid(-1, NULL, 0) < 0 && errno == ECHILD)
			return;
	}
}

static int status_of(int st)
{
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return 1;
}

int main(int argc, char **argv)
{
	if (argc < 3 || atoi(argv[1]) <= 0) {
		say("usage: tlimit SECS CMD [ARGS...]", NULL, NULL);
		return 125;
	}
	unsigned secs = (unsigned)atoi(argv[1]);
	sigset_t set, old;
	sigemptyset(&set);
	int sigs[] = {SIGCHLD, SIGALRM, SIGINT, SIGTERM, SIGHUP};
	for (unsigned i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaddset(&set, sigs[i]);
	sigprocmask(SIG_BLOCK, &set, &old);
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	pid_t pid = fork();
	if (pid < 0) {
		say("fork: ", strerror(errno), NULL);
		return 125;
	}
	if (pid == 0) {
		sigprocmask(SIG_SETMASK, &old, NULL);
		setsid();
		execvp(argv[2], argv + 2);
		say("cannot run ", argv[2], NULL);
		_exit(127);
	}
	alarm(secs);
	int st = 0, timed_out = 0, killed_by = 0;
	for (;;) {
		pid_t r = waitpid(pid, &st, WNOHANG);
		if (r == pid)
			break;
		int sig = sigwaitinfo(&set, NULL);
		if (sig == SIGALRM)
			timed_out = 1;
		else if (sig == SIGINT || sig == SIGTERM || sig == SIGHUP)
			killed_by = sig;
		if (sig != SIGCHLD && sig > 0)
			kill(-pid, SIGKILL);
	}
	kill_rest(pid);
	if (killed_by)
		return 128 + killed_by;
	if (timed_out) {
		char n[16];
		snprintf(n, sizeof(n), "%u", secs);
		say("timed out after ", n, " s (hang or deadlock), killed the process group of:");
		say("  ", argv[2], NULL);
		return 124;
	}
	return status_of(st);
}
