/*
 * tiny: metadata-heavy. Each worker builds a linked list of millions of tiny
 * nodes (16-32 bytes), walks it, unlinks and frees every other node, allocates
 * as many again, walks again and frees everything. The allocator's own
 * bookkeeping per block and per page shows in the peak RSS and, for
 * basemalloc, in the bases' mapped and resident bytes. SCALE multiplies the
 * number of nodes.
 */
#include "common.h"

struct node {
	struct node *next;
	uint32_t v;
};

static struct node *tiny_new(bench_rng_t *r, uint32_t v, struct node *next)
{
	size_t n = bench_rng_range(r, 16, 32);
	struct node *x = (struct node *)bench_malloc(n);
	x->next = next;
	x->v = v;
	return x;
}

static uint64_t tiny_walk(const struct node *x)
{
	uint64_t sum = 0;
	for (; x; x = x->next)
		sum += x->v;
	return sum;
}

static void *tiny_worker(void *arg)
{
	struct bench_job *j = (struct bench_job *)arg;
	bench_rng_t r;
	struct node *head = NULL;
	bench_rng_seed(&r, j->seed);
	for (size_t i = 0; i < j->n; i++)
		head = tiny_new(&r, (uint32_t)i, head);
	j->sum += tiny_walk(head);
	for (struct node *x = head; x && x->next; x = x->next) {
		struct node *dead = x->next;
		x->next = dead->next;
		free(dead);
	}
	for (size_t i = 0; i < j->n / 2; i++)
		head = tiny_new(&r, (uint32_t)(i * 3), head);
	j->sum += tiny_walk(head);
	while (head) {
		struct node *next = head->next;
		free(head);
		head = next;
	}
	return NULL;
}

int main(int argc, char **argv)
{
	return bench_jobs_main(argc, argv, 1, 4e6, 1000, 700, tiny_worker);
}
