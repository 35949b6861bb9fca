/*
 * symbol: ELF lookups over a mapped file (64-bit, the host's byte order).
 * Every offset read from the file is checked against its size first.
 */
#include "symbol.h"
#include "maps.h"
#include "os.h"

#include <elf.h>
#include <errno.h>
#include <string.h>

typedef struct {
	const char *img;
	size_t size;
} symbol_file_t;

/* A pointer to len bytes at off of the file, or NULL when outside it. */
static const void *symbol_at(const symbol_file_t *f, uint64_t off,
    uint64_t len) {
	return off <= f->size && len <= f->size - off ? f->img + off : NULL;
}

/* The ELF address of file offset off (through the PT_LOAD holding it). */
static int symbol_vaddr(const symbol_file_t *f, uint64_t off, uint64_t *out) {
	const Elf64_Ehdr *eh = symbol_at(f, 0, sizeof(*eh));
	if (eh == NULL || memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 ||
	    eh->e_ident[EI_CLASS] != ELFCLASS64)
		return EINVAL;
	const Elf64_Phdr *ph = symbol_at(f, eh->e_phoff,
	    (uint64_t)eh->e_phnum * sizeof(*ph));
	for (unsigned i = 0; ph != NULL && i < eh->e_phnum; i++) {
		if (ph[i].p_type == PT_LOAD && off >= ph[i].p_offset &&
		    off - ph[i].p_offset < ph[i].p_filesz) {
			*out = off - ph[i].p_offset + ph[i].p_vaddr;
			return 0;
		}
	}
	return ENOENT;
}

/* Search symbol table section sh (with its string table) for the function
 * covering vaddr. */
static bool symbol_search(const symbol_file_t *f, const Elf64_Shdr *sh,
    const Elf64_Shdr *strs, uint64_t vaddr, symbol_t *out) {
	const Elf64_Sym *sym = symbol_at(f, sh->sh_offset, sh->sh_size);
	const char *str = symbol_at(f, strs->sh_offset, strs->sh_size);
	if (sym == NULL || str == NULL)
		return false;
	size_t n = sh->sh_size / sizeof(*sym);
	for (size_t i = 0; i < n; i++) {
		unsigned type = ELF64_ST_TYPE(sym[i].st_info);
		if ((type != STT_FUNC && type != STT_GNU_IFUNC) ||
		    vaddr < sym[i].st_value ||
		    vaddr - sym[i].st_value >= sym[i].st_size ||
		    sym[i].st_name >= strs->sh_size)
			continue;
		size_t len = strnlen(str + sym[i].st_name,
		    strs->sh_size - sym[i].st_name);
		len = MIN(len, sizeof(out->name) - 1);
		memcpy(out->name, str + sym[i].st_name, len);
		out->name[len] = '\0';
		out->name_off = vaddr - sym[i].st_value;
		return true;
	}
	return false;
}

/* The function covering vaddr: .symtab first, then .dynsym. */
static void symbol_function(const symbol_file_t *f, uint64_t vaddr,
    symbol_t *out) {
	const Elf64_Ehdr *eh = symbol_at(f, 0, sizeof(*eh));
	const Elf64_Shdr *sh = symbol_at(f, eh->e_shoff,
	    (uint64_t)eh->e_shnum * sizeof(*sh));
	if (sh == NULL)
		return;
	static const unsigned types[] = { SHT_SYMTAB, SHT_DYNSYM };
	for (unsigned t = 0; t < 2; t++) {
		for (unsigned i = 0; i < eh->e_shnum; i++) {
			if (sh[i].sh_type == types[t] &&
			    sh[i].sh_link < eh->e_shnum &&
			    symbol_search(f, &sh[i], &sh[sh[i].sh_link], vaddr,
			    out))
				return;
		}
	}
}

int symbol_lookup(uintptr_t addr, symbol_t *out) {
	maps_entry_t m;
	memset(out, 0, sizeof(*out));
	out->vaddr = addr;
	if (maps_find(addr, &m) != 0)
		return ENOENT;
	if (m.path[0] != '/')
		return 0;
	memcpy(out->module, m.path, sizeof(out->module));
	symbol_file_t f;
	f.img = os_file_map(m.path, &f.size);
	if (f.img == NULL)
		return 0;
	if (symbol_vaddr(&f, addr - m.start + m.offset, &out->vaddr) == 0)
		symbol_function(&f, out->vaddr, out);
	os_file_unmap((void *)f.img, f.size);
	return 0;
}
