/*
 * dlopen.c: dlopen/dlclose in a loop from several threads at once, run under
 * LD_PRELOAD by test/stress/run: our own small test/stress/dso.c (path in
 * the environment variable BM_TEST_DSO), whose constructor, destructor and dynamic TLS
 * allocate, and libm. Strings the DSO returns are freed after dlclose.
 */
#include "stress.h"

static const char *dso_path;

struct worker_s {
	int id, failed;
	long opened;
};

static int use_dso(struct worker_s *w, unsigned n)
{
	void *h = dlopen(dso_path, RTLD_NOW | RTLD_LOCAL);
	if (h == NULL) {
		STRESS_FAIL("dlopen(%s): %s", dso_path, dlerror());
		return 1;
	}
	char *(*work)(unsigned) = (char *(*)(unsigned))dlsym(h, "dso_work");
	char *s = work != NULL ? work(n) : NULL;
	if (s == NULL || strncmp(s, "call ", 5) != 0)
		STRESS_FAIL("dso_work(%u) returned %s", n, s != NULL ? s : "NULL");
	if (dlclose(h) != 0)
		STRESS_FAIL("dlclose: %s", dlerror());
	free(s);
	w->opened++;
	return 0;
}

static int use_libm(struct worker_s *w)
{
	void *h = dlopen("libm.so.6", RTLD_NOW | RTLD_LOCAL);
	if (h == NULL) {
		STRESS_FAIL("dlopen(libm.so.6): %s", dlerror());
		return 1;
	}
	double (*f)(double) = (double (*)(double))dlsym(h, "sqrt");
	if (f == NULL || f(49.0) != 7.0)
		STRESS_FAIL("sqrt from libm");
	dlclose(h);
	w->opened++;
	return 0;
}

static void *worker(void *arg)
{
	struct worker_s *w = arg;
	for (unsigned i = 0; i < 1500; i++) {
		void *noise = malloc(1 + i % 700);
		if ((i % 3 == 2 ? use_libm(w) : use_dso(w, i)) != 0)
			w->failed = 1;
		free(noise);
	}
	return NULL;
}

static int dlopen_threads(void)
{
	enum { N = 4 };
	pthread_t th[N];
	struct worker_s w[N];
	dso_path = getenv("BM_TEST_DSO");
	CHECK(dso_path != NULL, "BM_TEST_DSO is not set");
	for (int i = 0; i < N; i++) {
		w[i] = (struct worker_s){ .id = i };
		CHECK(pthread_create(&th[i], NULL, worker, &w[i]) == 0);
	}
	long opened = 0;
	for (int i = 0; i < N; i++) {
		CHECK(pthread_join(th[i], NULL) == 0);
		CHECK(!w[i].failed, "thread %d", i);
		opened += w[i].opened;
	}
	printf("  # %d threads, %ld dlopen/dlclose pairs\n", N, opened);
	CHECK(atomic_load(&stress_failures) == 0, "%d failures", atomic_load(&stress_failures));
	return CHECK_OK;
}

static const struct check_s checks[] = {
	CHECK_ENTRY(dlopen_threads),
};

int main(int argc, char **argv)
{
	return check_main(checks, sizeof(checks) / sizeof(checks[0]), argc, argv);
}
