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
	if (a != NULL)
		arena_release(a);
}

int tsd_boot(void) {
	return os_key_create(&tsd_key, tsd_thread_exit);
}

arena_t *tsd_arena_slow(void) {
	arena_t *a = tsd_tls.arena;
	if (a != NULL)
		return a;
	a = arena_acquire();
	if (a == NULL)
		return NULL;
	tsd_tls.arena = a;
	tsd_tls.cur = a->cur;
	os_key_set(tsd_key, (void *)1);
	return a;
}
