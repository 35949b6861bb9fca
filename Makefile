# basemalloc build. `make` builds ./libbasemalloc.so; `make test` runs every
# test suite; `make bench` compares with glibc and the installed peers;
# `make bench-icount` counts the instructions of their malloc/free fast paths.
CC      ?= cc
CFLAGS_BASE = -std=c11 -O2 -g -fPIC -fvisibility=hidden -ftls-model=initial-exec \
	-fno-builtin-malloc -fno-builtin-free -fno-builtin-calloc -fno-builtin-realloc \
	-D_GNU_SOURCE -Wall -Wextra
ifeq ($(CI),true)
CFLAGS_BASE += -Werror
endif
CFLAGS  ?=
ALL_CFLAGS = $(CFLAGS_BASE) $(CFLAGS)
LDLIBS  = -lpthread
# Packed relative relocations (DT_RELR, glibc 2.36 and binutils 2.38 on):
# 19 KiB less for ld.so to read in every process; left out where the
# linker does not know the flag.
LDFLAGS_RELR := $(shell printf 'int x; int *p = &x;\n' | \
	$(CC) -shared -fPIC -Wl,--fatal-warnings -Wl,-z,pack-relative-relocs -x c - -o /dev/null \
	2>/dev/null && echo -Wl,-z,pack-relative-relocs)
# src/rtree.ld puts the page map's static part in the read-only segment.
LDFLAGS_SO = -shared -Wl,--version-script=preload/export.map \
	-Wl,-z,now -Wl,-z,nodelete $(LDFLAGS_RELR) -Wl,-Bsymbolic -Wl,-T,src/rtree.ld \
	-Wl,--dynamic-list=preload/interpose.list

# Modules in layer order (see README "Layers").
# The statistics side wing (emit, stats, report, ctl) reads the layers.
MODULES = os maps log conf secret zero cfa stackwalk symbol hooks mutex sz base rtree pages purge \
	extent huge bg slab harden arena tsd lookup resize prof profdump alloc align emit stats report ctl
# The exported names (preload/*.c); preload.c may throw through C++.
PRELOAD = preload glibc
CFLAGS_preload = -fexceptions
# free's fast path writes a freed block's two words as two stores: gcc's
# SLP pass would pack them into one vector store at the cost of 2 more
# instructions. alloc.c defines malloc and free as aliases in the library
# (the module tests link alloc.c without them).
CFLAGS_alloc = -fno-tree-slp-vectorize -DBM_ENTRY_ALIASES
HEADERS = $(wildcard src/*.h) include/basemalloc.h

.PHONY: all test test-unit bench bench-icount bench-deps clean print-modules
all: libbasemalloc.so

# A build flavour: $(1) its name (`make $(1)`), $(2) its extra CFLAGS,
# $(3) its library. Objects go to build/$(1)/. One rule set for all.
define FLAVOUR
$(1)_OBJS = $$(MODULES:%=build/$(1)/%.o) $$(PRELOAD:%=build/$(1)/%.o)
build/$(1)/%.o: src/%.c $$(HEADERS) | build/$(1)
	$$(CC) $$(ALL_CFLAGS) $(2) $$(CFLAGS_$$*) -c $$< -o $$@
build/$(1)/%.o: preload/%.c $$(HEADERS) | build/$(1)
	$$(CC) $$(ALL_CFLAGS) $(2) $$(CFLAGS_$$*) -c $$< -o $$@
build/$(1):
	mkdir -p $$@
$(3): $$($(1)_OBJS) preload/export.map src/rtree.ld preload/interpose.list
	$$(CC) -o $$@ $$($(1)_OBJS) $$(LDFLAGS_SO) $$(LDLIBS)
.PHONY: $(1)
$(1): $(3)
endef

# The flavours, one line each: the release library; `make debug`:
# assertions, lock-rank and invariant checks; `make fault`: an os layer that
# can be told to fail the Nth map (fault injection); `make hardened`:
# canaries after small blocks, guard pages after large and huge ones,
# zero-size allocations that fault, freed blocks zeroed and checked when
# reused, delayed random reuse, exact sizes for sized frees.
$(eval $(call FLAVOUR,release,,libbasemalloc.so))
$(eval $(call FLAVOUR,debug,-DBM_DEBUG,build/libbasemalloc-debug.so))
$(eval $(call FLAVOUR,fault,-DBM_FAULT_INJECT,build/libbasemalloc-fault.so))
$(eval $(call FLAVOUR,hardened,-DBM_HARDENED,build/libbasemalloc-hardened.so))

test: all
	@bash test/run

bench: all
	@bash bench/run $(if $(QUICK),--quick)

# Instructions per malloc and free under callgrind (bench/icount).
bench-icount: all
	@bash bench/icount

bench-deps:
	bash bench/deps

# The modules in layer order (for the test runners and tools).
print-modules:
	@echo $(MODULES)

clean:
	rm -rf build libbasemalloc.so test/build bench/build
