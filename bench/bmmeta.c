/*
 * bmmeta.so: preloaded after libbasemalloc.so when a real program (python,
 * redis, sqlite, a user's command) runs under basemalloc, to report the
 * allocator's metadata figures at exit the same way the bench workloads do:
 * `bm_meta_mapped=N bm_meta_resident=N` on stderr, read through bm_ctl
 * "stats.base.mapped" and "stats.base.resident". Does nothing when bm_ctl is
 * not there. Part of the benchmark suite only; no locks.
 */
#include "workloads/common.h"

__attribute__((destructor)) static void bmmeta_report(void)
{
	bench_print_meta();
}
