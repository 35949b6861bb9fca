/*
 * stackwalk: the three stack walkers (see stackwalk.h). libgcc's functions
 * come from libgcc_s through os_library_symbol, called once from the
 * constructor when cfa cannot be used; they are published with a
 * release store of the mode and used only after an acquire load sees it.
 */
#include "stackwalk.h"
#include "maps.h"
#include "os.h"
#include "cfa.h"

#include <errno.h>
#include <unwind.h>

typedef _Unwind_Reason_Code (*stackwalk_trace_fn_t)(_Unwind_Trace_Fn, void *);
typedef _Unwind_Ptr (*stackwalk_get_ip_fn_t)(struct _Unwind_Context *);

static uintptr_t stackwalk_self_lo, stackwalk_self_hi;   /* basemalloc's code */
static stackwalk_get_ip_fn_t stackwalk_get_ip;
static stackwalk_trace_fn_t stackwalk_trace;
static bool stackwalk_tables;                            /* cfa works */  
static _Atomic int stackwalk_now = STACKWALK_FP;         /* the mode */

int stackwalk_boot(void) {
	maps_entry_t m;
	int err = maps_find((uintptr_t)&stackwalk_boot, &m);
	if (err != 0)
		return err;
	stackwalk_self_lo = m.start;
	stackwalk_self_hi = m.end;
	stackwalk_tables = cfa_boot() == 0;
	if (stackwalk_tables)
		atomic_store(&stackwalk_now, STACKWALK_TABLES);
	return 0;
}

/* Load libgcc's walker (not from malloc). */
static int stackwalk_load_libgcc(void) {
	if (stackwalk_trace != NULL)
		return 0;
	void *trace = os_library_symbol("libgcc_s.so.1", "_Unwind_Backtrace");
	void *get_ip = os_library_symbol("libgcc_s.so.1", "_Unwind_GetIP");
	if (trace == NULL || get_ip == NULL)
		return ENOENT;
	stackwalk_get_ip = (stackwalk_get_ip_fn_t)get_ip;
	stackwalk_trace = (stackwalk_trace_fn_t)trace;
	return 0;
}

int stackwalk_load_dwarf(void) {
	if (stackwalk_dwarf())
		return 0;
	return stackwalk_use(STACKWALK_LIBGCC);
}

int stackwalk_use(stackwalk_mode_t mode) {
	if (mode == STACKWALK_TABLES && !stackwalk_tables)
		return ENOENT;
	if (mode == STACKWALK_LIBGCC && stackwalk_load_libgcc() != 0)
		return ENOENT;
	atomic_store_explicit(&stackwalk_now, mode, memory_order_release);
	return 0;
}

stackwalk_mode_t stackwalk_mode(void) {
	return atomic_load_explicit(&stackwalk_now, memory_order_acquire);
}

bool stackwalk_dwarf(void) {
	return stackwalk_mode() != STACKWALK_FP;
}

static bool stackwalk_is_self(uintptr_t ip) {
	return ip >= stackwalk_self_lo && ip < stackwalk_self_hi;
}

typedef struct {
	uintptr_t *frames;
	size_t n, max;
} stackwalk_walk_t;

/* Keep ip unless it is one of basemalloc's frames above the caller's;
 * false when the walk is full. */
static bool stackwalk_keep(stackwalk_walk_t *w, uintptr_t ip) {
	if (w->n == 0 && stackwalk_is_self(ip))
		return true;
	w->frames[w->n++] = ip;
	return w->n < w->max;
}

static _Unwind_Reason_Code stackwalk_step(struct _Unwind_Context *ctx,
    void *arg) {
	uintptr_t ip = (uintptr_t)stackwalk_get_ip(ctx);
	if (ip == 0 || !stackwalk_keep(arg, ip))
		return _URC_END_OF_STACK;
	return _URC_NO_REASON;
}

/* The frame-pointer walk: each frame is [saved rbp, return address]; the
 * chain must climb inside the mapping that holds the stack. */
BM_NOINLINE static size_t stackwalk_fp(stackwalk_walk_t *w) {
	uintptr_t *fp = __builtin_frame_address(0);
	maps_entry_t m;
	if (maps_find((uintptr_t)fp, &m) != 0 || !m.readable)
		return 0;
	while (((uintptr_t)fp & 7) == 0 && (uintptr_t)fp >= m.start &&
	    (uintptr_t)fp + 2 * sizeof(uintptr_t) <= m.end) {
		uintptr_t ip = fp[1];
		uintptr_t *next = (uintptr_t *)fp[0];
		if (ip == 0 || !stackwalk_keep(w, ip) || next <= fp)
			break;
		fp = next;
	}
	return w->n;
}

size_t stackwalk_get(uintptr_t *frames, size_t max) {
	stackwalk_walk_t w = { frames, 0, max };
	if (max == 0)
		return 0;
	switch (stackwalk_mode()) {
	case STACKWALK_TABLES:
		return cfa_walk(frames, max, stackwalk_self_lo,
		    stackwalk_self_hi);
	case STACKWALK_LIBGCC:
		stackwalk_trace(stackwalk_step, &w);
		return w.n;
	default:
		return stackwalk_fp(&w);
	}
}
