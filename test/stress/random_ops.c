/*
 * random_ops.c: threads doing random malloc/calloc/realloc/free/memalign/
 * posix_memalign/aligned_alloc on a table of live blocks, each block filled
 * with a pattern checked before it is freed or resized; about a tenth of the
 * blocks are handed through per-thread mutex inboxes to another thread, which
 * checks and frees them. Run under LD_PRELOAD by test/stress/run.
 */
#include "stress.h"

enum { SLOTS = 1024 };

struct block_s {
	unsigned char *p;
	size_t n;
	uint64_t tag;
};

struct msg_s {
	struct msg_s *next;
	struct block_s b;
};

struct inbox_s {
	pthread_mutex_t mu;
	struct msg_s *head;
};

struct worker_s {
	int id, n_workers;
	long ops;
	uint64_t seed;
	struct inbox_s *inboxes;
	pthread_barrier_t *done;
	long sent, received;
};

static void block_release(struct block_s *b, const char *how)
{
	if (stress_verify(b->p, b->n, b->tag))
		STRESS_FAIL("%s: block %p (%zu bytes, tag %#llx) was corrupted", how,
		    (void *)b->p, b->n, (unsigned long long)b->tag);
	free(b->p);
	b->p = NULL;
}

static void inbox_send(struct inbox_s *in, struct block_s b)
{
	struct msg_s *m = malloc(sizeof(*m));
	if (m == NULL) {
		STRESS_FAIL("malloc of a message failed");
		return;
	}
	m->b = b;
	pthread_mutex_lock(&in->mu);
	m->next = in->head;
	in->head = m;
	pthread_mutex_unlock(&in->mu);
}

static long inbox_drain(struct inbox_s *in)
{
	long n = 0;
	pthread_mutex_lock(&in->mu);
	struct msg_s *m = in->head;
	in->head = NULL;
	pthread_mutex_unlock(&in->mu);
	while (m != NULL) {
		struct msg_s *next = m->next;
		block_release(&m->b, "received");
		free(m);
		m = next;
		n++;
	}
	return n;
}

static void slot_resize(struct block_s *b, uint64_t *rng, uint64_t tag)
{
	size_t n = stress_size(rng);
	if (stress_verify(b->p, b->n, b->tag))
		STRESS_FAIL("before realloc: block %p (%zu bytes) was corrupted", (void *)b->p, b->n);
	size_t keep = b->n < n ? b->n : n;
	unsigned char head[64];
	size_t h = keep < 64 ? keep : 64;
	memcpy(head, b->p, h);
	unsigned char *q = realloc(b->p, n);
	if (q == NULL && n != 0) {
		STRESS_FAIL("realloc(%p, %zu) failed", (void *)b->p, n);
		return;
	}
	if (q != NULL && memcmp(q, head, h) != 0)
		STRESS_FAIL("realloc(%zu -> %zu) lost the contents", b->n, n);
	if (q == NULL) {
		b->p = NULL;
		return;
	}
	b->p = q;
	b->n = n;
	b->tag = tag;
	stress_fill(q, n, tag);
}

static void *worker(void *arg)
{
	struct worker_s *w = arg;
	struct block_s *slots = calloc(SLOTS, sizeof(*slots));
	uint64_t rng = w->seed;
	for (long i = 0; i < w->ops && slots != NULL; i++) {
		struct block_s *b = &slots[check_rand(&rng) % SLOTS];
		uint64_t r = check_rand(&rng), tag = ((uint64_t)w->id << 48) | (uint64_t)i;
		if (b->p == NULL) {
			b->n = stress_size(&rng);
			b->p = stress_alloc(&rng, b->n);
			b->tag = tag;
			if (b->p != NULL)
				stress_fill(b->p, b->n, tag);
		} else if (r % 10 == 0) {
			int to = (int)((uint64_t)w->id + 1 + (r >> 8) % (uint64_t)(w->n_workers - 1)) %
			    w->n_workers;
			inbox_send(&w->inboxes[to], *b);
			b->p = NULL;
			w->sent++;
		} else if (r % 10 < 4) {
			slot_resize(b, &rng, tag);
		} else {
			block_release(b, "freed by owner");
		}
		if (i % 64 == 0)
			w->received += inbox_drain(&w->inboxes[w->id]);
	}
	for (int k = 0; k < SLOTS && slots != NULL; k++)
		if (slots[k].p != NULL)
			block_release(&slots[k], "freed at the end");
	free(slots);
	pthread_barrier_wait(w->done);
	w->received += inbox_drain(&w->inboxes[w->id]);
	return NULL;
}

static int run_workers(int n, long ops)
{
	pthread_t th[16];
	struct worker_s w[16];
	struct inbox_s inboxes[16];
	pthread_barrier_t done;
	long sent = 0, received = 0;
	pthread_barrier_init(&done, NULL, (unsigned)n);
	for (int i = 0; i < n; i++) {
		pthread_mutex_init(&inboxes[i].mu, NULL);
		inboxes[i].head = NULL;
		w[i] = (struct worker_s){ .id = i, .n_workers = n, .ops = ops,
			.seed = check_seed() * 1000003 + (uint64_t)i, .inboxes = inboxes,
			.done = &done };
	}
	for (int i = 0; i < n; i++)
		CHECK(pthread_create(&th[i], NULL, worker, &w[i]) == 0);
	for (int i = 0; i < n; i++) {
		CHECK(pthread_join(th[i], NULL) == 0);
		sent += w[i].sent;
		received += w[i].received;
	}
	printf("  # %d threads, %ld ops each, %ld blocks freed by another thread\n", n, ops, received);
	CHECK(sent == received, "sent %ld blocks, received %ld", sent, received);
	CHECK(atomic_load(&stress_failures) == 0, "%d failures", atomic_load(&stress_failures));
	return CHECK_OK;
}

static int random_ops_2_threads(void)
{
	return run_workers(2, 200000);
}

static int random_ops_4_threads(void)
{
	return run_workers(4, 120000);
}

static int random_ops_8_threads(void)
{
	return run_workers(8, 60000);
}

static const struct check_s checks[] = {
	CHECK_ENTRY(random_ops_2_threads),
	CHECK_ENTRY(random_ops_4_threads),
	CHECK_ENTRY(random_ops_8_threads),
};

int main(int argc, char **argv)
{
	return stress_main("random_ops", checks, sizeof(checks) / sizeof(checks[0]),
	    argc, argv);
}
