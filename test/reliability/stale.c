/*
 * stale.c: valid programs whose blocks hold stale copies of the allocator's
 * own bookkeeping must not be told they double-freed. Freed small blocks
 * carry basemalloc's free key in their second word; when their pages are
 * reused for a larger block, the bytes the program never wrote still hold
 * it, and realloc (which copies the old block's whole usable size) or a
 * plain memcpy of those bytes puts it into the second word of a live small
 * block. Freeing that block must work, as it does on glibc. Run by
 * test/reliability/run under the preload.
 */
#include "rel.h"

enum { N = 4096 };
static void *blocks[N];

/* Fill two or more slabs of 64-byte blocks and free them all: their pages
 * go back to the arena as dirty runs, every block marked free. */
static void leave_freed_blocks(void)
{
	for (int i = 0; i < N; i++)
		blocks[i] = malloc(64);
	for (int i = 0; i < N; i++)
		free(blocks[i]);
}

static int check_realloc_of_unwritten_bytes(void)
{
	leave_freed_blocks();
	for (int round = 0; round < 64; round++) {
		char *big = malloc(20000);  /* only the first byte is written */
		CHECK(big != NULL);
		big[0] = 'x';
		char *small = realloc(big, 40);
		CHECK(small != NULL && small[0] == 'x');
		free(small);  /* aborted with "double free or corruption" */
	}
	return CHECK_OK;
}

static int check_copy_of_unwritten_bytes(void)
{
	leave_freed_blocks();
	for (int round = 0; round < 64; round++) {
		char *big = malloc(20000);
		char *small = malloc(64);
		CHECK(big != NULL && small != NULL);
		memcpy(small, big, 64);  /* a struct copy with padding, say */
		CHECK(malloc_usable_size(small) >= 64);
		free(small);
		free(big);
	}
	return CHECK_OK;
}

int main(int argc, char **argv)
{
	static const struct check_s checks[] = {
		CHECK_ENTRY(check_realloc_of_unwritten_bytes),
		CHECK_ENTRY(check_copy_of_unwritten_bytes),
	};
	return check_main(checks, sizeof(checks) / sizeof(checks[0]), argc, argv);
}
