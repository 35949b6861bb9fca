/*
 * atfork_lib.c: the library test/robust/atfork_early.c is linked with. Its
 * constructor registers fork handlers, and a library's constructor runs
 * before the preload's, so these handlers are registered before the
 * allocator's: the prepare handler runs after the allocator's prepare, the
 * parent and child handlers before the allocator's (pthread_atfork's
 * orders). Each handler allocates blocks of every kind (small, medium,
 * large, huge), writes their first page, frees them and keeps one per
 * handler for the program to check and free (the child's in the child).
 * The handlers do nothing until the program enables them (so that only
 * the forks of a watched round can hang).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "atfork_lib.h"

static _Atomic long calls[ATFORK_PHASES];
static unsigned char *kept[ATFORK_PHASES];
static _Atomic int registered_first, enabled;

/* The sizes a handler allocates: small, medium, large and huge. */
static const size_t sizes[] = { 24, 200, 3000, 40000, 300000, 3 << 20 };
enum { NSIZES = sizeof(sizes) / sizeof(sizes[0]) };

static void phase_allocate(int phase)
{
	if (!atomic_load(&enabled))
		return;
	void *blocks[NSIZES * 8];
	int n = 0;
	for (int round = 0; round < 8; round++)
		for (int i = 0; i < NSIZES; i++) {
			unsigned char *p = malloc(sizes[i]);
			if (p == NULL)
				abort();
			memset(p, phase + round, sizes[i] < 4096 ? sizes[i] : 4096);
			blocks[n++] = p;
		}
	for (int i = 0; i < n; i++)
		free(blocks[i]);
	free(kept[phase]);
	kept[phase] = malloc(ATFORK_KEPT);
	if (kept[phase] == NULL)
		abort();
	memset(kept[phase], 'a' + phase, ATFORK_KEPT);
	atomic_fetch_add(&calls[phase], 1);
}

static void on_prepare(void)
{
	phase_allocate(ATFORK_PREPARE);
}

static void on_parent(void)
{
	phase_allocate(ATFORK_PARENT);
}

static void on_child(void)
{
	phase_allocate(ATFORK_CHILD);
}

__attribute__((constructor)) static void atfork_lib_init(void)
{
	if (pthread_atfork(on_prepare, on_parent, on_child) == 0)
		atomic_store(&registered_first, 1);
}

long atfork_lib_calls(int phase)
{
	return atomic_load(&calls[phase]);
}

unsigned char *atfork_lib_take(int phase)
{
	unsigned char *p = kept[phase];
	kept[phase] = NULL;
	return p;
}

void atfork_lib_enable(void)
{
	atomic_store(&enabled, 1);
}

int atfork_lib_registered(void)
{
	return atomic_load(&registered_first);
}
