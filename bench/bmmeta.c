/*
 * bmmeta.so: preloaded after libbasemalloc.so when a real program (python,
 * redis, sqlite, a user's command) runs under basemalloc, to report the
 * allocator's metadata figures at exit the same way the bench workloads do:
 * `bm_meta_mapped=N bm_meta_resident=N` on stderr, read through bm_ctl
 * "stats.base.mapped" and "stats.base.resident". Does nothing when bm_ctl is
 * not there. Part of the benchmark suite only; no locks.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

typedef int (*bmmeta_ctl_fn)(const char *, void *, size_t *, void *, size_t);

__attribute__((destructor)) static void bmmeta_report(void)
{
	bmmeta_ctl_fn ctl = (bmmeta_ctl_fn)dlsym(RTLD_DEFAULT, "bm_ctl");
	size_t mapped = 0, resident = 0, len = sizeof(size_t);
	char line[96];
	uint64_t epoch = 1;
	if (!ctl)
		return;
	ctl("epoch", NULL, NULL, &epoch, sizeof(epoch));	/* fresh snapshot */
	if (ctl("stats.base.mapped", &mapped, &len, NULL, 0) != 0)
		return;
	len = sizeof(size_t);
	if (ctl("stats.base.resident", &resident, &len, NULL, 0) != 0)
		return;
	int n = snprintf(line, sizeof(line), "bm_meta_mapped=%zu bm_meta_resident=%zu\n",
	    mapped, resident);
	if (n > 0 && write(2, line, (size_t)n) < 0)
		return;
}
