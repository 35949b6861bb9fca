# basemalloc build. `make` builds ./libbasemalloc.so; `make test` runs every
# test suite; `make bench` compares with glibc and the installed peers.
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

# Modules in layer order (see README "Layers").
MODULES = log conf os hooks mutex sz base rtree extent bg slab arena tsd stats malloc
SRCS    = $(wildcard $(MODULES:%=src/%.c))
OBJS    = $(SRCS:src/%.c=build/%.o)
DOBJS   = $(SRCS:src/%.c=build/debug/%.o)
FOBJS   = $(SRCS:src/%.c=build/fault/%.o)
PRELOAD_SRCS = $(wildcard preload/*.c) $(wildcard preload/*.cc)

.PHONY: all debug fault test test-unit bench bench-deps clean
all: libbasemalloc.so

build/%.o: src/%.c $(wildcard src/*.h) include/basemalloc.h | build
	$(CC) $(ALL_CFLAGS) -c $< -o $@
build/debug/%.o: src/%.c $(wildcard src/*.h) include/basemalloc.h | build
	$(CC) $(ALL_CFLAGS) -DBM_DEBUG -c $< -o $@
build/fault/%.o: src/%.c $(wildcard src/*.h) include/basemalloc.h | build
	$(CC) $(ALL_CFLAGS) -DBM_FAULT_INJECT -c $< -o $@
build/preload.o: preload/preload.c $(wildcard src/*.h) include/basemalloc.h | build
	$(CC) $(ALL_CFLAGS) -fexceptions -c $< -o $@
build:
	mkdir -p build build/debug build/fault

libbasemalloc.so: $(OBJS) build/preload.o preload/export.map
	$(CC) -shared -o $@ $(OBJS) build/preload.o -Wl,--version-script=preload/export.map \
		-Wl,-z,now -Wl,-z,nodelete -Wl,-Bsymbolic $(LDLIBS)

# A build with invariant checks and lock-rank checking.
debug: build/libbasemalloc-debug.so
build/libbasemalloc-debug.so: $(DOBJS) build/preload.o preload/export.map
	$(CC) -shared -o $@ $(DOBJS) build/preload.o -Wl,--version-script=preload/export.map \
		-Wl,-z,now -Wl,-z,nodelete -Wl,-Bsymbolic $(LDLIBS)

# A build whose os layer can be told to fail the Nth map (fault injection).
fault: build/libbasemalloc-fault.so
build/libbasemalloc-fault.so: $(FOBJS) build/preload.o preload/export.map
	$(CC) -shared -o $@ $(FOBJS) build/preload.o -Wl,--version-script=preload/export.map \
		-Wl,-z,now -Wl,-z,nodelete -Wl,-Bsymbolic $(LDLIBS)

test: all
	@bash test/run

bench: all
	@bash bench/run $(if $(QUICK),--quick)

bench-deps:
	bash bench/deps

clean:
	rm -rf build libbasemalloc.so test/build bench/build
