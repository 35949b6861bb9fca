/*
 * unwind: the two stack walkers (see unwind.h). The DWARF walker's
 * functions come from libgcc_s through os_library_symbol, called once from
 * the constructor; they are published with a release store and used only
 * after an acquire load sees them.
 */
#include "unwind.h"
#include "os.h"

#include <errno.h>
#include <unwind.h>

typedef _Unwind_Reason_Code (*unwind_trace_fn_t)(_Unwind_Trace_Fn, void *);
typedef _Unwind_Ptr (*unwind_get_ip_fn_t)(struct _Unwind_Context *);

static uintptr_t unwind_self_lo, unwind_self_hi;   /* basemalloc's code */
static unwind_get_ip_fn_t unwind_get_ip;
static _Atomic(unwind_trace_fn_t) unwind_trace;

int unwind_boot(void) {
	os_mapping_t m;
	int err = os_mapping_find((uintptr_t)&unwind_boot, &m);
	if (err != 0)
		return err;
	unwind_self_lo = m.start;
	unwind_self_hi = m.end;
	return 0;
}

int unwind_load_dwarf(void) {
	if (unwind_dwarf())
		return 0;
	void *trace = os_library_symbol("libgcc_s.so.1", "_Unwind_Backtrace");
	void *get_ip = os_library_symbol("libgcc_s.so.1", "_Unwind_GetIP");
	if (trace == NULL || get_ip == NULL)
		return ENOENT;
	unwind_get_ip = (unwind_get_ip_fn_t)get_ip;
	atomic_store_explicit(&unwind_trace, (unwind_trace_fn_t)trace,
	    memory_order_release);
	return 0;
}

bool unwind_dwarf(void) {
	return atomic_load_explicit(&unwind_trace, memory_order_acquire) != NULL;
}

static bool unwind_is_self(uintptr_t ip) {
	return ip >= unwind_self_lo && ip < unwind_self_hi;
}

typedef struct {
	uintptr_t *frames;
	size_t n, max;
} unwind_walk_t;

/* Keep ip unless it is one of basemalloc's frames above the caller's;
 * false when the walk is full. */
static bool unwind_keep(unwind_walk_t *w, uintptr_t ip) {
	if (w->n == 0 && unwind_is_self(ip))
		return true;
	w->frames[w->n++] = ip;
	return w->n < w->max;
}

static _Unwind_Reason_Code unwind_step(struct _Unwind_Context *ctx,
    void *arg) {
	uintptr_t ip = (uintptr_t)unwind_get_ip(ctx);
	if (ip == 0 || !unwind_keep(arg, ip))
		return _URC_END_OF_STACK;
	return _URC_NO_REASON;
}

/* The frame-pointer walk: each frame is [saved rbp, return address]; the
 * chain must climb inside the mapping that holds the stack. */
BM_NOINLINE static size_t unwind_fp(unwind_walk_t *w) {
	uintptr_t *fp = __builtin_frame_address(0);
	os_mapping_t m;
	if (os_mapping_find((uintptr_t)fp, &m) != 0 || !m.readable)
		return 0;
	while (((uintptr_t)fp & 7) == 0 && (uintptr_t)fp >= m.start &&
	    (uintptr_t)fp + 2 * sizeof(uintptr_t) <= m.end) {
		uintptr_t ip = fp[1];
		uintptr_t *next = (uintptr_t *)fp[0];
		if (ip == 0 || !unwind_keep(w, ip) || next <= fp)
			break;
		fp = next;
	}
	return w->n;
}

size_t unwind_backtrace(uintptr_t *frames, size_t max) {
	unwind_walk_t w = { frames, 0, max };
	if (max == 0)
		return 0;
	unwind_trace_fn_t trace = atomic_load_explicit(&unwind_trace,
	    memory_order_acquire);
	if (trace == NULL)
		return unwind_fp(&w);
	trace(unwind_step, &w);
	return w.n;
}
