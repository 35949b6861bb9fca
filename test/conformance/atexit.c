/*
 * atexit.c: snmalloc's func/multi_atexit as a whole program (check.h forks
 * every check, and this must be the process's own exit): 8192 atexit
 * handlers, registered before anything else calls the allocator (libc
 * callocs a record per 32 handlers), each freeing at exit a block main
 * allocated and allocating one more. The first handler registered runs
 * last and prints "atexit: N handlers ran"; test/conformance/run compares
 * that line and the exit status under glibc and under the preload.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { HANDLERS = 8192 };

static int ran;
static unsigned char *blocks[HANDLERS];

static void handler(void)
{
	int i = HANDLERS - 1 - ran;
	if (blocks[i] == NULL || blocks[i][0] != (unsigned char)i) {
		printf("atexit: block %d lost\n", i);
		fflush(stdout);
		_exit(1);
	}
	free(blocks[i]);
	free(malloc((size_t)i));
	ran++;
}

static void last(void)
{
	printf("atexit: %d handlers ran\n", ran);
}

int main(void)
{
	if (atexit(last) != 0)
		return 1;
	for (int i = 1; i < HANDLERS; i++)
		if (atexit(handler) != 0)
			return 1;
	for (int i = 1; i < HANDLERS; i++) {
		blocks[i] = malloc((size_t)(i % 700) + 1);
		if (blocks[i] == NULL)
			return 1;
		blocks[i][0] = (unsigned char)i;
	}
	return 0;
}
