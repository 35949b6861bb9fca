/*
 * tsd: the thread's arena and its exit hook. Setting a thread key (os_key_set)
 * created at bootstrap (a low key index, stored inside the thread descriptor:
 * no allocation) arms the destructor that abandons the arena.
 */
#include "tsd.h"
#include "os.h"

__thread tsd_t tsd_tls __attribute__((tls_model("initial-exec"))) = {
	.cur = arena_no_cur,
};
static os_key_t tsd_key;

static void tsd_thread_exit(void *unused) {
	(void)unused;
	arena_t *a = tsd_tls.arena;
	tsd_tls.arena = NULL;
	tsd_tls.cur = arena_no_cur;
	tsd_tls.exited = true;
	if (a != NULL)
		arena_release(a);
}

int tsd_boot(void) {
	return os_key_create(&tsd_key, tsd_thread_exit);
}

static void tsd_bind(arena_t *a) {
	tsd_tls.arena = a;
	tsd_tls.cur = a->cur;
	os_key_set(tsd_key, (void *)1);
}

arena_t *tsd_arena_slow(void) {
	arena_t *a = tsd_tls.arena;
	if (a != NULL)
		return a;
	a = arena_acquire();
	if (a != NULL)
		tsd_bind(a);
	return a;
}

void tsd_free_adopt(slab_t *s, void *p) {
	arena_t *a = s->ext.owner;
	if (!tsd_tls.exited && arena_acquire_pooled(a) == a) {
		tsd_bind(a);
		return arena_free_local(a, s, p);
	}
	arena_free_remote(s, p);
}
