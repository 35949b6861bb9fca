/*
 * maps: the process's own mappings, read from /proc/self/maps through os's
 * raw file calls (no allocation, no libc lock, no cancellation point, errno
 * kept), for the heap profiler's stack walk and symbols. No state, no lock.
 */
#ifndef BM_MAPS_H
#define BM_MAPS_H

#include "common.h"

/* One line of /proc/self/maps. */
typedef struct {
	uintptr_t start, end;   /* [start, end) */
	uint64_t offset;        /* file offset of start */
	bool readable, executable;
	char path[256];         /* "" for anonymous mappings */
} maps_entry_t;

/* The mapping that contains addr. 0, or ENOENT (none) / the open errno. */
int maps_find(uintptr_t addr, maps_entry_t *out);

#endif
