/* test/runner/leftover.c: programs that misbehave towards a test runner.
 * leftover MODE PIDFILE: prints "PASS leftover MODE" and then
 *   orphan: exits at once, leaving a child that keeps stdout and stderr
 *           open and sleeps for an hour;
 *   escape: the same, but the child first moves to a session of its own
 *           (out of the process group a runner would kill);
 *   hang:   sleeps for an hour itself, with a child doing the same.
 * Every child's pid is appended to PIDFILE so the runner's test can check
 * that nothing survived. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void note_pid(const char *file, pid_t pid)
{
	FILE *f = fopen(file, "a");
	if (f) {
		fprintf(f, "%d\n", (int)pid);
		fclose(f);
	}
}

/* The child tells the parent (one byte on READY) once it is set up, so the
 * parent records its pid and exits only then. */
static void child(const char *mode, int ready)
{
	if (strcmp(mode, "escape") == 0)
		setsid();
	if (write(ready, "", 1) != 1)
		_exit(1);
	sleep(3600);
	_exit(0);
}

int main(int argc, char **argv)
{
	if (argc != 3)
		return 2;
	printf("PASS leftover %s\n", argv[1]);
	fflush(stdout);
	int fds[2];
	char c;
	if (pipe(fds) != 0)
		return 1;
	pid_t pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0)
		child(argv[1], fds[1]);
	if (read(fds[0], &c, 1) != 1)
		return 1;
	note_pid(argv[2], pid);
	if (strcmp(argv[1], "hang") == 0) {
		note_pid(argv[2], getpid());
		sleep(3600);
	}
	return 0;
}
