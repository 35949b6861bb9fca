/*
 * symbol: an address of this process to its module (the file mapped there)
 * and its function, without allocating and without the loader's lock: the
 * module comes from /proc/self/maps, and the function from the module's ELF
 * symbol table (.symtab when the file has one, else .dynsym), read from a
 * read-only mapping of the file that is dropped again. For the leak report;
 * file and line are the viewer's job (bench/prof, with addr2line).
 * No state, no locks.
 */
#ifndef BM_SYMBOL_H
#define BM_SYMBOL_H

#include "common.h"

typedef struct {
	char module[256];     /* the file, "" when the address is anonymous */
	uint64_t vaddr;       /* the address in the file's ELF terms (what
	                       * addr2line -e module takes) */
	char name[128];       /* the function, "" when no symbol covers it */
	uint64_t name_off;    /* the address minus the function's start */
} symbol_t;

/* Describe addr. 0, or ENOENT when no mapping holds it (out->module is
 * then ""); a module without a symbol for it leaves out->name "". */
int symbol_lookup(uintptr_t addr, symbol_t *out);

#endif
