/*
 * profdump: the heap profiler's output. The live-heap dump in pprof's
 * legacy heap-profile text format, which pprof reads as it is:
 *   heap profile: N: B [0: 0] @ heap_v2/R
 *   n: b [0: 0] @ 0x... 0x...        (one line per stack, innermost first)
 *   MAPPED_LIBRARIES:
 *   (a copy of /proc/self/maps)
 * n and b are the raw sampled count and bytes of the stack; pprof (and
 * bench/prof) scale them by 1 / (1 - exp(-(b/n)/R)). Addresses are return
 * addresses, except the first of a line, written minus one: pprof subtracts
 * one from the others, so every frame lands on its call instruction.
 * Dumps are written at exit (prof_final), on demand (bm_ctl "prof.dump")
 * and each time the estimated live heap passes its last peak by prof_gdump
 * bytes; files are named PREFIX.pid.seq.kind.heap (kind f: final, m:
 * manual, u: high-water). Also the leak report at exit (prof_leak): the
 * stacks still holding sampled memory, biggest first, symbolised.
 * Writes with the os layer's raw calls through a stack buffer (no
 * allocation, no stdio: usable from inside malloc); holds prof_lock while
 * it walks the stacks (prof_stacks_visit).
 */
#ifndef BM_PROFDUMP_H
#define BM_PROFDUMP_H

#include "common.h"

/* Write a dump to path (NULL: the next PREFIX.pid.seq.m.heap). 0, or the
 * errno of the open or a write (EAGAIN when the profiler is off). */
int profdump_write(const char *path);
/* The dump for a new high-water mark (kind u); failures are warned. */
void profdump_gdump(void);
/* Dumps written so far. */
uint64_t profdump_count(void);

#endif
