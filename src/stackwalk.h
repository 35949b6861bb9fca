/*
 * stackwalk: the calling thread's call stack as return addresses, without
 * allocating and without calling malloc, for the heap profiler. Frames
 * inside basemalloc itself are left out. Three walkers, the first that
 * can be had:
 * - Tables (cfa.c): the .eh_frame call-frame tables every Debian binary
 *   carries, read in place, so programs built without frame pointers (the
 *   common case) get whole stacks; x86-64 with glibc 2.35 or later. Used
 *   from the first allocation on.
 * - libgcc: _Unwind_Backtrace reads the same tables, about 30 times
 *   slower; where the tables walker cannot work, stackwalk_load_dwarf loads
 *   it (libgcc_s, already there in C++ programs) from the library's
 *   constructor, outside any allocation; its lookups take the loader's
 *   recursive lock but allocate nothing.
 * - Frame pointers: before libgcc is loaded, or when it cannot be had, the
 *   rbp chain is followed inside the thread's stack mapping (from
 *   /proc/self/maps), each frame above the one before: it never faults,
 *   and it ends at the first frame that keeps no frame pointer, which is
 *   usually one of basemalloc's own (built without them): such stacks are
 *   empty or short.
 * No locks of its own; stackwalk_boot and stackwalk_load_dwarf run before
 * threads use it (bootstrap, constructor); stackwalk_use is for tests.
 */
#ifndef BM_STACKWALK_H
#define BM_STACKWALK_H

#include "common.h"

#define STACKWALK_DEPTH_MAX 64

typedef enum {
	STACKWALK_FP, STACKWALK_LIBGCC, STACKWALK_TABLES
} stackwalk_mode_t;

/* Find basemalloc's own code (its frames are skipped) and start the tables
 * walker when it works here. 0, or an errno. */
int stackwalk_boot(void);
/* Make sure a DWARF walker is in use: libgcc's unless the tables walker
 * is; 0, or ENOENT when libgcc_s has none. Not from inside malloc (it may
 * load a library). */
int stackwalk_load_dwarf(void);
/* True once a DWARF walker (tables or libgcc) is in use. */
bool stackwalk_dwarf(void);
/* The walker in use; stackwalk_use switches to one (tests), ENOENT when it
 * cannot be had (libgcc: loads it, not from inside malloc). */
stackwalk_mode_t stackwalk_mode(void);
int stackwalk_use(stackwalk_mode_t mode);
/* Up to max return addresses of the caller's stack, innermost first,
 * basemalloc's frames left out; returns how many. */
size_t stackwalk_get(uintptr_t *frames, size_t max);

#endif
