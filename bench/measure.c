/*
 * measure: run one command and record what it cost. Part of the benchmark
 * suite (bench/run, bench/compare), not of the library.
 *
 *   measure [-o RESULT] [-r RSSFILE] [-i MS] [-t SECONDS] [-p PRELOAD]
 *           [-e NAME=VALUE]... [-d DRIVER] -- COMMAND ARGS...
 *
 * Forks COMMAND in its own process group (with LD_PRELOAD=PRELOAD and the
 * -e variables in its environment only), samples the resident set of its process tree from
 * /proc every MS milliseconds (default 10) into RSSFILE ("ms kib" lines),
 * waits for it with wait4() and writes "key=value" lines to RESULT (default
 * stdout): wall and CPU seconds, ru_maxrss, faults, the sampled peak and the
 * last sample before exit, and how it ended.
 *
 * With -d, COMMAND is a server: DRIVER runs through /bin/sh -c (without the
 * preload) while the server runs; when the driver ends, the server gets one
 * last RSS sample and SIGTERM, and its own rusage is what is reported.
 *
 * Invariant: SIGCHLD stays blocked in this process so that sigtimedwait()
 * wakes as soon as a child ends (exact wall time) or at the next sample tick.
 * Single-threaded; no locks.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MEASURE_MAX_TREE 256
#define MEASURE_MAX_ENV 32

struct opts {
	const char *result;
	const char *rssfile;
	const char *preload;
	const char *driver;
	char *env[MEASURE_MAX_ENV];
	int nenv;
	long interval_ms;
	double timeout_s;
	char **argv;
};

struct state {
	pid_t pid;		/* the measured process */
	pid_t driver;		/* 0 when none or finished */
	int status;		/* wait status of pid */
	int driver_status;
	int timed_out;
	struct rusage ru;
	double t0;
	double term_at;		/* when the server got SIGTERM, 0 if not */
	long page_kib;
	long peak_kib;
	long last_kib;
	long samples;
	FILE *rss;
};

static double measure_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void measure_usage(void)
{
	fprintf(stderr, "usage: measure [-o RESULT] [-r RSSFILE] [-i MS] "
	    "[-t SECONDS] [-p PRELOAD] [-e NAME=VALUE]... [-d DRIVER] -- "
	    "COMMAND ARGS...\n");
	exit(2);
}

static int measure_parse_opts(int argc, char **argv, struct opts *o)
{
	int c;
	memset(o, 0, sizeof(*o));
	o->interval_ms = 10;
	while ((c = getopt(argc, argv, "+o:r:i:t:p:e:d:")) != -1) {
		switch (c) {
		case 'o': o->result = optarg; break;
		case 'r': o->rssfile = optarg; break;
		case 'i': o->interval_ms = atol(optarg); break;
		case 't': o->timeout_s = atof(optarg); break;
		case 'p': o->preload = optarg; break;
		case 'd': o->driver = optarg; break;
		case 'e':
			if (o->nenv == MEASURE_MAX_ENV || !strchr(optarg, '='))
				return EINVAL;
			o->env[o->nenv++] = optarg;
			break;
		default: return EINVAL;
		}
	}
	if (optind >= argc || o->interval_ms <= 0)
		return EINVAL;
	o->argv = argv + optind;
	return 0;
}

/*
 * Reads the start of a /proc file into buf (size bytes, NUL-terminated);
 * returns the length read, 0 if the file cannot be read or is empty.
 */
static ssize_t measure_read_proc(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, size - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	return n;
}

/* Resident KiB of one process, 0 if it is gone or a zombie. */
static long measure_rss_kib(pid_t pid, long page_kib)
{
	char path[64], buf[128];
	long size = 0, res = 0;
	snprintf(path, sizeof(path), "/proc/%d/statm", (int)pid);
	if (measure_read_proc(path, buf, sizeof(buf)) == 0)
		return 0;
	if (sscanf(buf, "%ld %ld", &size, &res) != 2)
		return 0;
	return res * page_kib;
}

/* Children of pid's main thread, into out (at most max); returns the count. */
static int measure_children(pid_t pid, pid_t *out, int max)
{
	char path[96], buf[4096];
	int n = 0;
	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)pid,
	    (int)pid);
	if (measure_read_proc(path, buf, sizeof(buf)) == 0)
		return 0;
	for (char *p = buf; *p && n < max;) {
		char *end;
		long v = strtol(p, &end, 10);
		if (end == p)
			break;
		out[n++] = (pid_t)v;
		p = end;
	}
	return n;
}

/* Sum of the resident sets of the process tree under root. */
static long measure_tree_kib(pid_t root, long page_kib)
{
	pid_t todo[MEASURE_MAX_TREE];
	int head = 0, tail = 0;
	long sum = 0;
	todo[tail++] = root;
	while (head < tail) {
		pid_t p = todo[head++];
		sum += measure_rss_kib(p, page_kib);
		tail += measure_children(p, todo + tail, MEASURE_MAX_TREE - tail);
	}
	return sum;
}

static void measure_sample(struct state *s)
{
	long kib = measure_tree_kib(s->pid, s->page_kib);
	if (kib <= 0)
		return;
	s->last_kib = kib;
	if (kib > s->peak_kib)
		s->peak_kib = kib;
	s->samples++;
	if (s->rss)
		fprintf(s->rss, "%ld %ld\n",
		    (long)((measure_now() - s->t0) * 1000.0 + 0.5), kib);
}

/* Adds "LD_PRELOAD=preload" in front of any preload already set. */
static void measure_set_preload(const char *preload)
{
	const char *old = getenv("LD_PRELOAD");
	if (!preload || !*preload)
		return;
	if (old && *old) {
		size_t n = strlen(preload) + strlen(old) + 2;
		char *v = malloc(n);
		if (!v)
			_exit(127);
		snprintf(v, n, "%s:%s", preload, old);
		setenv("LD_PRELOAD", v, 1);
	} else {
		setenv("LD_PRELOAD", preload, 1);
	}
}

/* Forks and execs argv; the child gets the preload and the -e variables
 * when o is given (the measured command), nothing extra otherwise. */
static pid_t measure_spawn(char **argv, const struct opts *o, int own_group)
{
	pid_t pid = fork();
	if (pid != 0)
		return pid;
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (own_group)
		setpgid(0, 0);
	if (o) {
		for (int i = 0; i < o->nenv; i++)
			putenv(o->env[i]);
		measure_set_preload(o->preload);
	}
	execvp(argv[0], argv);
	fprintf(stderr, "measure: cannot run %s: %s\n", argv[0],
	    strerror(errno));
	_exit(127);
}

static const char *measure_status_text(int status, int timed_out, char *buf,
    size_t len)
{
	if (timed_out)
		snprintf(buf, len, "timeout");
	else if (WIFEXITED(status))
		snprintf(buf, len, "exit:%d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "signal:%d", WTERMSIG(status));
	else
		snprintf(buf, len, "unknown");
	return buf;
}

/* Reaps whatever ended; returns 1 once the measured process has ended. */
static int measure_reap(struct state *s)
{
	for (;;) {
		int st;
		struct rusage ru;
		pid_t p = wait4(-1, &st, WNOHANG, &ru);
		if (p <= 0)
			return 0;
		if (p == s->pid) {
			s->status = st;
			s->ru = ru;
			return 1;
		}
		if (p == s->driver) {
			s->driver_status = st;
			s->driver = 0;
			measure_sample(s);
			kill(s->pid, SIGTERM);
			s->term_at = measure_now();
		}
	}
}

/* Sleeps until the next tick or a SIGCHLD, whichever comes first. */
static void measure_wait_tick(double deadline)
{
	sigset_t chld;
	double left = deadline - measure_now();
	if (left <= 0)
		return;
	struct timespec ts = { (time_t)left, (long)((left - (time_t)left) * 1e9) };
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigtimedwait(&chld, NULL, &ts);
}

static void measure_loop(struct state *s, const struct opts *o)
{
	double tick = o->interval_ms / 1000.0;
	double next = s->t0 + tick;
	while (!measure_reap(s)) {
		double now = measure_now();
		if (now >= next) {
			measure_sample(s);
			next += tick * (1 + (long)((now - next) / tick));
		}
		if (o->timeout_s > 0 && !s->timed_out && now - s->t0 > o->timeout_s) {
			s->timed_out = 1;
			kill(-s->pid, SIGKILL);
			if (s->driver)
				kill(s->driver, SIGKILL);
		}
		/* A server that outlives its driver by 10 s is killed. */
		if (s->term_at > 0 && now - s->term_at > 10.0) {
			kill(-s->pid, SIGKILL);
			s->term_at = 0;
		}
		measure_wait_tick(next);
	}
}

static void measure_write_result(const struct state *s, const struct opts *o,
    double wall)
{
	char st[32], dst[32];
	FILE *f = stdout;
	if (o->result && !(f = fopen(o->result, "w"))) {
		fprintf(stderr, "measure: %s: %s\n", o->result, strerror(errno));
		exit(2);
	}
	fprintf(f, "wall_s=%.6f\n", wall);
	fprintf(f, "user_s=%.6f\n", s->ru.ru_utime.tv_sec + s->ru.ru_utime.tv_usec / 1e6);
	fprintf(f, "sys_s=%.6f\n", s->ru.ru_stime.tv_sec + s->ru.ru_stime.tv_usec / 1e6);
	fprintf(f, "maxrss_kib=%ld\n", s->ru.ru_maxrss);
	fprintf(f, "minflt=%ld\n", s->ru.ru_minflt);
	fprintf(f, "majflt=%ld\n", s->ru.ru_majflt);
	fprintf(f, "peak_sampled_kib=%ld\n", s->peak_kib);
	fprintf(f, "last_sampled_kib=%ld\n", s->last_kib);
	fprintf(f, "samples=%ld\n", s->samples);
	fprintf(f, "status=%s\n", measure_status_text(s->status, s->timed_out, st, sizeof(st)));
	if (o->driver)
		fprintf(f, "driver_status=%s\n",
		    measure_status_text(s->driver_status, 0, dst, sizeof(dst)));
	if (f != stdout)
		fclose(f);
}

int main(int argc, char **argv)
{
	struct opts o;
	struct state s;
	sigset_t chld;

	if (measure_parse_opts(argc, argv, &o) != 0)
		measure_usage();
	memset(&s, 0, sizeof(s));
	s.page_kib = sysconf(_SC_PAGESIZE) / 1024;
	if (o.rssfile && !(s.rss = fopen(o.rssfile, "w"))) {
		fprintf(stderr, "measure: %s: %s\n", o.rssfile, strerror(errno));
		return 2;
	}
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);

	s.t0 = measure_now();
	s.pid = measure_spawn(o.argv, &o, 1);
	if (s.pid < 0) {
		perror("measure: fork");
		return 2;
	}
	if (o.driver) {
		char *dargv[] = { "/bin/sh", "-c", (char *)o.driver, NULL };
		s.driver = measure_spawn(dargv, NULL, 0);
	}
	measure_loop(&s, &o);
	double wall = measure_now() - s.t0;
	if (s.driver) {
		kill(s.driver, SIGKILL);
		waitpid(s.driver, &s.driver_status, 0);
	}
	if (s.rss)
		fclose(s.rss);
	measure_write_result(&s, &o, wall);
	return 0;
}
