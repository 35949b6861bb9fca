/*
 * threads: short-lived threads. The main thread starts THREADS threads at a
 * time (default 2), joins them, and repeats. Each thread allocates 1000
 * blocks of 16-2048 bytes, frees half of them, and leaves the other half in
 * its slot of a hand-over table that the thread of the next round (same
 * slot) frees, so memory outlives the thread that allocated it and the
 * allocator's per-thread state is created and torn down every round.
 * SCALE multiplies the number of rounds.
 */
#include "common.h"

#define TH_BLOCKS 1000

struct slot {
	void *keep[TH_BLOCKS / 2];
	size_t n[TH_BLOCKS / 2];
	uint64_t seed;
	uint64_t sum;
};

static void *th_worker(void *arg)
{
	struct slot *s = (struct slot *)arg;
	void *p[TH_BLOCKS];
	size_t n[TH_BLOCKS];
	bench_rng_t r;
	bench_rng_seed(&r, s->seed);
	for (int k = 0; k < TH_BLOCKS / 2; k++)
		if (s->keep[k]) {
			s->sum += bench_peek(s->keep[k], s->n[k]);
			free(s->keep[k]);
		}
	for (int k = 0; k < TH_BLOCKS; k++) {
		n[k] = bench_rng_range(&r, 16, 2048);
		p[k] = bench_malloc(n[k]);
		s->sum += bench_touch(p[k], n[k], k);
	}
	for (int k = 0; k < TH_BLOCKS; k++) {
		if (k % 2 == 0) {
			s->keep[k / 2] = p[k];
			s->n[k / 2] = n[k];
		} else {
			free(p[k]);
		}
	}
	return NULL;
}

int main(int argc, char **argv)
{
	int threads;
	double scale;
	bench_parse_args(argc, argv, &threads, &scale, 2);
	struct slot *slots = (struct slot *)calloc((size_t)threads, sizeof(struct slot));
	if (!slots)
		bench_die("out of memory");
	size_t rounds = bench_scaled(scale, 2000, 10) / threads;
	for (size_t i = 0; i < rounds; i++) {
		for (int t = 0; t < threads; t++)
			slots[t].seed = i * 64 + t;
		bench_run_threads(threads, th_worker, slots, sizeof(struct slot));
	}
	uint64_t sum = 0;
	for (int t = 0; t < threads; t++) {
		for (int k = 0; k < TH_BLOCKS / 2; k++)
			free(slots[t].keep[k]);
		sum += slots[t].sum;
	}
	free(slots);
	return bench_finish(sum);
}
