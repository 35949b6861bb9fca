/*
 * cfa: the calling thread's call stack by the call-frame tables
 * (.eh_frame) every Debian binary carries, read in place, for programs
 * built without frame pointers (the common case); x86-64 with glibc's
 * _dl_find_object (2.35). It allocates nothing, takes no lock, never calls
 * the loader's locking functions, and whatever a frame holds (no frame
 * pointer, anything in rbp) it does not fault: every stack word it reads
 * lies between the walk's own stack pointer and the end of the mapping that
 * holds it (found in /proc/self/maps at a thread's first walk, and again
 * whenever the stack pointer is outside that range; a stack unmapped and
 * replaced by a shorter one at the same place is not seen), and each
 * frame's CFA must be above the one before. A frame whose rule it does not
 * follow (a CFA by DWARF expression: signal trampolines, stack realignment
 * in main; the return address or rbp in another register) ends the stack.
 * Each return address's rule, once worked out, is kept in a lossy hash
 * table of two-word entries (relaxed atomics; the rule word carries a check
 * of the address, so an entry torn by a concurrent writer reads as a miss),
 * so a stack seen before costs a few dozen instructions a frame (libgcc's
 * _Unwind_Backtrace: about 1,600).
 */
#ifndef BM_CFA_H
#define BM_CFA_H

#include "common.h"

/* 0 when the walker can work here; ENOSYS when it cannot (not x86-64, or
 * glibc without _dl_find_object). */
int cfa_boot(void);
/* Up to max return addresses of the caller's stack, innermost first; the
 * frames before the first one outside [skip_lo, skip_hi) are left out.
 * Returns how many. Only after cfa_boot returned 0. */
size_t cfa_walk(uintptr_t *frames, size_t max, uintptr_t skip_lo,
    uintptr_t skip_hi);

#endif
