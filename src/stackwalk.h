/*
 * stackwalk: the calling thread's call stack as return addresses, without
 * allocating and without calling malloc, for the heap profiler. Frames
 * inside basemalloc itself are left out. Two walkers:
 * - DWARF: libgcc's _Unwind_Backtrace reads the .eh_frame tables every
 *   Debian binary carries, so it gives whole stacks for programs built
 *   without frame pointers (the common case). stackwalk_load_dwarf loads it
 *   (libgcc_s, already there in C++ programs) from the library's
 *   constructor, outside any allocation; its lookups take the loader's
 *   recursive lock but allocate nothing.
 * - Frame pointers: until stackwalk_load_dwarf ran (allocations made while the
 *   process starts) or when libgcc_s cannot be had, the rbp chain is
 *   followed inside the thread's stack mapping (from /proc/self/maps), each
 *   frame above the one before: it never faults, and it ends at the first
 *   frame that keeps no frame pointer, which is usually one of basemalloc's
 *   own (built without them): such stacks are empty or short.
 * No locks of its own; stackwalk_boot and stackwalk_load_dwarf run before threads
 * use it (bootstrap, constructor).
 */
#ifndef BM_STACKWALK_H
#define BM_STACKWALK_H

#include "common.h"

#define STACKWALK_DEPTH_MAX 64

/* Find basemalloc's own code (its frames are skipped). 0, or an errno. */
int stackwalk_boot(void);
/* Load the DWARF walker; 0, or ENOENT when libgcc_s has none. Not from
 * inside malloc (it may load a library). */
int stackwalk_load_dwarf(void);
/* True once the DWARF walker is in use. */
bool stackwalk_dwarf(void);
/* Up to max return addresses of the caller's stack, innermost first,
 * basemalloc's frames left out; returns how many. */
size_t stackwalk_get(uintptr_t *frames, size_t max);

#endif
