/*
 * larson-chain: Larson and Krishnan's server simulation as they wrote it.
 * THREADS chains run at once; each link is a thread that replaces random
 * slots of its table with new blocks of 16 to 1000 bytes for a number of
 * rounds, then starts its successor, hands it the table and exits. The
 * successor first waits for its predecessor to be gone (pthread_join), so
 * most blocks it frees were allocated by a thread that has exited, and the
 * links of different chains start and end at different times (no barrier,
 * unlike `larson`'s generations). SCALE multiplies the rounds.
 */
#include "common.h"

#include <semaphore.h>

#define LC_SLOTS 4000
#define LC_LINKS 100

struct chain {
	void *p[LC_SLOTS];
	size_t n[LC_SLOTS];
	size_t rounds;
	int index;
	int link;             /* the link running now, 0 .. LC_LINKS - 1 */
	pthread_t prev;       /* the link before it (joined first) */
	pthread_t last;       /* the final link (joined by main) */
	uint64_t sum;
	sem_t done;
};

static void *lc_link(void *arg)
{
	struct chain *c = (struct chain *)arg;
	if (c->link > 0 && pthread_join(c->prev, NULL) != 0)
		bench_die("pthread_join failed");
	bench_rng_t r;
	bench_rng_seed(&r, (uint64_t)c->index * 100003 + (uint64_t)c->link);
	c->sum += bench_larson_rounds(c->p, c->n, LC_SLOTS, c->rounds, &r);
	if (++c->link == LC_LINKS) {
		c->last = pthread_self();
		sem_post(&c->done);
		return NULL;
	}
	c->prev = pthread_self();
	pthread_t next;
	if (pthread_create(&next, NULL, lc_link, c) != 0)
		bench_die("pthread_create failed");
	return NULL;
}

int main(int argc, char **argv)
{
	int threads;
	double scale;
	bench_parse_args(argc, argv, &threads, &scale, 4);
	size_t rounds = bench_scaled(scale, 2e7, 1000) / threads / LC_LINKS;
	struct chain *chains = (struct chain *)calloc((size_t)threads,
	    sizeof(struct chain));
	if (!chains)
		bench_die("out of memory");
	bench_rng_t r;
	bench_rng_seed(&r, 3);
	for (int t = 0; t < threads; t++) {
		struct chain *c = &chains[t];
		c->rounds = rounds;
		c->index = t;
		sem_init(&c->done, 0, 0);
		bench_larson_fill(c->p, c->n, LC_SLOTS, &r);
	}
	for (int t = 0; t < threads; t++) {
		pthread_t first;
		if (pthread_create(&first, NULL, lc_link, &chains[t]) != 0)
			bench_die("pthread_create failed");
	}
	uint64_t sum = 0;
	for (int t = 0; t < threads; t++) {
		struct chain *c = &chains[t];
		while (sem_wait(&c->done) != 0)
			;
		pthread_join(c->last, NULL);
		for (int k = 0; k < LC_SLOTS; k++)
			free(c->p[k]);
		sum += c->sum;
		sem_destroy(&c->done);
	}
	free(chains);
	return bench_finish(sum);
}
