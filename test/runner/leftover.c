/* test/runner/leftover.c: programs that misbehave towards a test runner.
 * leftover MODE PIDFILE: prints "PASS leftover MODE" and then
 *   orphan: exits at once, leaving a child that keeps stdout and stderr
 *           open and sleeps for an hour;
 *   escape: the same, but the child first moves to a session of its own
 *           (out of the process group a runner would kill);
 *   hang:   sleeps for an hour itself, with a child doing the same.
 * Every child's pid is appended to PIDFILE so the runner's test can check
 * that nothing survived. */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void note_pid(const char *file)
{
	FILE *f = fopen(file, "a");
	if (f) {
		fprintf(f, "%d\n", (int)getpid());
		fclose(f);
	}
}

static void child(const char *mode, const char *file)
{
	if (strcmp(mode, "escape") == 0)
		setsid();
	note_pid(file);
	sleep(3600);
	_exit(0);
}

int main(int argc, char **argv)
{
	if (argc != 3)
		return 2;
	printf("PASS leftover %s\n", argv[1]);
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0)
		child(argv[1], argv[2]);
	if (strcmp(argv[1], "hang") == 0) {
		note_pid(argv[2]);
		sleep(3600);
	}
	return 0;
}
