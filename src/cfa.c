/*
 * cfa: a CFA walker over .eh_frame_hdr and .eh_frame (see cfa.h).
 * Per frame: the object's table by os_unwind_table, a binary search of its
 * sorted FDE index, the CIE's and the FDE's call-frame programs run up to
 * the return address less one (the call), giving the CFA rule (rsp or rbp
 * plus an offset) and where rbp and the return address were saved. Only
 * rsp, rbp and the return address are followed. No locks: the rule cache
 * is relaxed atomic words; the stack range is the thread's own.
 */
#include "cfa.h"
#include "maps.h"
#include "os.h"

#include <errno.h>
#include <string.h>

#if defined(__x86_64__)

#define CFA_REG_BP  6
#define CFA_REG_SP  7
#define CFA_REG_RA  16
#define CFA_STATES  8        /* DW_CFA_remember_state depth */
#define CFA_LG_CACHE 11

typedef struct {
	uintptr_t ip, sp, bp;   /* return address; sp after return; rbp */
} cfa_regs_t;

/* The caller's registers as they will be when this call returns. */
void cfa_get_regs(cfa_regs_t *r) __attribute__((visibility("hidden")));
__asm__(".text\n\t.p2align 4\n\t.globl cfa_get_regs\n\t"
    ".hidden cfa_get_regs\n\t.type cfa_get_regs, @function\n"
    "cfa_get_regs:\n\tmovq (%rsp), %rax\n\tmovq %rax, (%rdi)\n\t"
    "leaq 8(%rsp), %rax\n\tmovq %rax, 8(%rdi)\n\tmovq %rbp, 16(%rdi)\n\t"
    "ret\n\t.size cfa_get_regs, .-cfa_get_regs\n");

enum { CFA_SAME = 0, CFA_AT = 1, CFA_LOST = 2 };

typedef struct {
	unsigned cfa_reg;        /* CFA_REG_SP or _BP; else unusable */
	int64_t cfa_off;
	uint8_t bp_how, ra_how;  /* CFA_SAME / _AT (CFA + off) / _LOST */
	int64_t bp_off, ra_off;
} cfa_rule_t;

typedef struct {
	const uint8_t *p, *end;  /* the CIE's initial program */
	uint64_t code_align;
	int64_t data_align;
	unsigned ra_reg;
	uint8_t fde_enc;
	bool aug_z;
} cfa_cie_t;

/* A return address and its packed rule, each word a relaxed atomic. The
 * rule word: bit 0 CFA from rbp, bits 1-15 rbp saved at CFA - 8k (0:
 * unchanged), bits 16-47 the CFA offset (0: the stack ends here), bits
 * 48-63 a check of the address and the rest, so that an entry read while
 * another thread rewrites it is seen as a miss (and a wrong rule that
 * slipped through could only give wrong frames: the reads are bounded).
 * The return address is always at CFA - 8. */
typedef struct {
	_Atomic uint64_t ip, rule;
} cfa_entry_t;
static cfa_entry_t cfa_cache[(size_t)1 << CFA_LG_CACHE];
#define CFA_END ((uint64_t)0)

static __thread uintptr_t cfa_lo, cfa_hi
    __attribute__((tls_model("initial-exec")));   /* stack range cached */

int cfa_boot(void) {
	const void *hdr;
	return os_unwind_table((uintptr_t)&cfa_boot, &hdr) == 0 ? 0 : ENOSYS;
}

/* ---------------------------------------------------------------------- */
/* Reading the tables (trusted: they are the loaded objects' own) */

static uint64_t cfa_uleb(const uint8_t **pp, const uint8_t *end) {
	uint64_t v = 0;
	unsigned shift = 0;
	const uint8_t *p = *pp;
	while (p < end) {
		uint8_t b = *p++;
		if (shift < 64)
			v |= (uint64_t)(b & 0x7f) << shift;
		shift += 7;
		if ((b & 0x80) == 0)
			break;
	}
	*pp = p;
	return v;
}

static int64_t cfa_sleb(const uint8_t **pp, const uint8_t *end) {
	uint64_t v = 0;
	unsigned shift = 0;
	uint8_t b = 0;
	const uint8_t *p = *pp;
	while (p < end) {
		b = *p++;
		if (shift < 64)
			v |= (uint64_t)(b & 0x7f) << shift;
		shift += 7;
		if ((b & 0x80) == 0)
			break;
	}
	if (shift < 64 && (b & 0x40))
		v |= ~(uint64_t)0 << shift;
	*pp = p;
	return (int64_t)v;
}

/* A pointer in encoding enc (DW_EH_PE_*: absolute, pc- or data-relative;
 * never indirect); false when the encoding is one it does not read. */
static bool cfa_ptr(const uint8_t **pp, const uint8_t *end, uint8_t enc,
    uintptr_t dbase, uintptr_t *out) {
	const uint8_t *p = *pp;
	uintptr_t base = (enc & 0x70) == 0x10 ? (uintptr_t)p
	    : (enc & 0x70) == 0x30 ? dbase : 0;
	if ((enc & 0x70) > 0x10 && (enc & 0x70) != 0x30)
		return false;
	int16_t s2; int32_t s4; uint16_t u2; uint32_t u4; uint64_t u8;
	uintptr_t v;
	switch (enc & 0x0f) {
	case 0x00: case 0x04: case 0x0c:
		memcpy(&u8, p, 8); v = (uintptr_t)u8; p += 8; break;
	case 0x01: v = (uintptr_t)cfa_uleb(&p, end); break;
	case 0x09: v = (uintptr_t)cfa_sleb(&p, end); break;
	case 0x02: memcpy(&u2, p, 2); v = u2; p += 2; break;
	case 0x0a: memcpy(&s2, p, 2); v = (uintptr_t)(intptr_t)s2; p += 2; break;
	case 0x03: memcpy(&u4, p, 4); v = u4; p += 4; break;
	case 0x0b: memcpy(&s4, p, 4); v = (uintptr_t)(intptr_t)s4; p += 4; break;
	default: return false;
	}
	if (p > end || (enc & 0x80) != 0)
		return false;
	*pp = p;
	*out = v + base;
	return true;
}

/* The FDE covering pc from the object's .eh_frame_hdr; NULL when none. */
static const uint8_t *cfa_fde_find(uintptr_t pc) {
	const void *v;
	if (os_unwind_table(pc, &v) != 0)
		return NULL;
	const uint8_t *hdr = v, *p = hdr + 4;
	uintptr_t eh_frame, count;
	if (hdr[0] != 1 || hdr[3] != 0x3b ||   /* datarel sdata4 pairs */
	    !cfa_ptr(&p, p + 8, hdr[1], (uintptr_t)hdr, &eh_frame) ||
	    !cfa_ptr(&p, p + 8, hdr[2], (uintptr_t)hdr, &count) ||
	    count == 0)
		return NULL;
	const int32_t *t = (const int32_t *)(const void *)p;
	size_t lo = 0, hi = count;   /* the last entry starting <= pc */
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if ((uintptr_t)hdr + (intptr_t)t[2 * mid] <= pc)
			lo = mid;
		else
			hi = mid;
	}
	if ((uintptr_t)hdr + (intptr_t)t[2 * lo] > pc)
		return NULL;
	return hdr + (intptr_t)t[2 * lo + 1];
}

/* Read the CIE at p (its length word); false when it is not one it reads. */
static bool cfa_cie_read(const uint8_t *p, cfa_cie_t *c) {
	uint32_t len;
	memcpy(&len, p, 4);
	if (len == 0 || len == 0xffffffffu)
		return false;
	const uint8_t *end = p + 4 + len;
	p += 8;                             /* length, CIE id */
	uint8_t version = *p++;
	const char *aug = (const char *)p;
	p += strnlen(aug, (size_t)(end - p)) + 1;
	if (aug[0] == 'e' && aug[1] == 'h')
		return false;
	c->code_align = cfa_uleb(&p, end);
	c->data_align = cfa_sleb(&p, end);
	c->ra_reg = version == 1 ? *p++ : (unsigned)cfa_uleb(&p, end);
	c->fde_enc = 0;
	c->aug_z = aug[0] == 'z';
	const uint8_t *aug_end = p;
	if (c->aug_z) {
		uint64_t n = cfa_uleb(&p, end);
		aug_end = p + n;
		for (const char *a = aug + 1; *a != '\0'; a++) {
			uintptr_t skip;
			if (*a == 'R')
				c->fde_enc = *p++;
			else if (*a == 'L')
				p++;
			else if (*a == 'P') {
				uint8_t enc = *p++;
				if (!cfa_ptr(&p, aug_end, enc & 0x7f, 0, &skip))
					return false;
			} else if (*a == 'S')
				return false;          /* a signal frame */
		}
	}
	c->p = aug_end;
	c->end = end;
	return c->p <= end;
}

/* ---------------------------------------------------------------------- */
/* The call-frame programs */

static void cfa_set(cfa_rule_t *r, unsigned reg, uint8_t how,
    int64_t off) {
	if (reg == CFA_REG_BP) {
		r->bp_how = how;
		r->bp_off = off;
	} else if (reg == CFA_REG_RA) {
		r->ra_how = how;
		r->ra_off = off;
	}
}

/* The rule of reg in init (DW_CFA_restore). */
static void cfa_restore(cfa_rule_t *r, const cfa_rule_t *init,
    unsigned reg) {
	if (reg == CFA_REG_BP)
		cfa_set(r, reg, init->bp_how, init->bp_off);
	else if (reg == CFA_REG_RA)
		cfa_set(r, reg, init->ra_how, init->ra_off);
}

typedef struct {
	const cfa_cie_t *cie;
	const cfa_rule_t *init;   /* after the CIE's program; NULL in it */
	cfa_rule_t saved[CFA_STATES];
	unsigned nsaved;
	uintptr_t loc, pc;
} cfa_run_t;

/* One instruction of the extended set (low 6 bits zero); false to stop. */
static bool cfa_op(cfa_run_t *x, uint8_t op, const uint8_t **pp,
    const uint8_t *end, cfa_rule_t *r) {
	const cfa_cie_t *c = x->cie;
	uint64_t reg, n;
	uint16_t d2;
	uint32_t d4;
	uintptr_t loc;
	switch (op) {
	case 0x00: return true;                                    /* nop */
	case 0x01:                                             /* set_loc */
		if (!cfa_ptr(pp, end, c->fde_enc, 0, &loc))
			return false;
		x->loc = loc;
		return true;
	case 0x02: x->loc += **pp * c->code_align; (*pp)++; return true;
	case 0x03: memcpy(&d2, *pp, 2); *pp += 2;
		x->loc += d2 * c->code_align; return true;
	case 0x04: memcpy(&d4, *pp, 4); *pp += 4;
		x->loc += d4 * c->code_align; return true;
	case 0x05: case 0x11: case 0x2f:      /* offset_extended (_sf, neg) */
		reg = cfa_uleb(pp, end);
		n = op == 0x11 ? (uint64_t)cfa_sleb(pp, end)
		    : cfa_uleb(pp, end);
		cfa_set(r, (unsigned)reg, CFA_AT, (op == 0x2f ? -1 : 1) *
		    (int64_t)n * c->data_align);
		return true;
	case 0x06:                                    /* restore_extended */
		reg = cfa_uleb(pp, end);
		if (x->init == NULL)
			return false;
		cfa_restore(r, x->init, (unsigned)reg);
		return true;
	case 0x07: case 0x08:                      /* undefined, same_value */
		reg = cfa_uleb(pp, end);
		cfa_set(r, (unsigned)reg, op == 0x07 ? CFA_LOST
		    : CFA_SAME, 0);
		if (op == 0x07 && reg == CFA_REG_RA)
			r->ra_how = CFA_LOST;
		return true;
	case 0x09:                                            /* register */
		reg = cfa_uleb(pp, end);
		cfa_uleb(pp, end);
		cfa_set(r, (unsigned)reg, CFA_LOST, 0);
		return true;
	case 0x0a:                                      /* remember_state */
		if (x->nsaved == CFA_STATES)
			return false;
		x->saved[x->nsaved++] = *r;
		return true;
	case 0x0b:                                       /* restore_state */
		if (x->nsaved == 0)
			return false;
		*r = x->saved[--x->nsaved];
		return true;
	case 0x0c: case 0x12:                          /* def_cfa (_sf) */
		r->cfa_reg = (unsigned)cfa_uleb(pp, end);
		r->cfa_off = op == 0x0c ? (int64_t)cfa_uleb(pp, end)
		    : cfa_sleb(pp, end) * c->data_align;
		return true;
	case 0x0d:                                    /* def_cfa_register */
		r->cfa_reg = (unsigned)cfa_uleb(pp, end);
		return true;
	case 0x0e: r->cfa_off = (int64_t)cfa_uleb(pp, end); return true;
	case 0x13: r->cfa_off = cfa_sleb(pp, end) * c->data_align;
		return true;
	case 0x0f:                        /* def_cfa_expression: not followed */
		n = cfa_uleb(pp, end);
		*pp += n;
		r->cfa_reg = ~0u;
		return true;
	case 0x10: case 0x16:                   /* (val_)expression */
		reg = cfa_uleb(pp, end);
		n = cfa_uleb(pp, end);
		*pp += n;
		cfa_set(r, (unsigned)reg, CFA_LOST, 0);
		return true;
	case 0x14: case 0x15:                          /* val_offset (_sf) */
		reg = cfa_uleb(pp, end);
		op == 0x14 ? (void)cfa_uleb(pp, end)
		    : (void)cfa_sleb(pp, end);
		cfa_set(r, (unsigned)reg, CFA_LOST, 0);
		return true;
	case 0x2e: cfa_uleb(pp, end); return true;        /* args_size */
	default: return false;
	}
}

/* Run the program [p, end) while its location is at most x->pc. */
static bool cfa_run(cfa_run_t *x, const uint8_t *p, const uint8_t *end,
    cfa_rule_t *r) {
	const cfa_cie_t *c = x->cie;
	while (p < end) {
		uint8_t op = *p++;
		switch (op >> 6) {
		case 1:                                        /* advance_loc */
			x->loc += (op & 0x3f) * c->code_align;
			break;
		case 2:                                             /* offset */
			cfa_set(r, op & 0x3f, CFA_AT,
			    (int64_t)cfa_uleb(&p, end) * c->data_align);
			break;
		case 3:                                            /* restore */
			if (x->init == NULL)
				return false;
			cfa_restore(r, x->init, op & 0x3f);
			break;
		default:
			if (!cfa_op(x, op, &p, end, r))
				return false;
		}
		if (x->loc > x->pc)
			return true;
	}
	return true;
}

/* The rule at pc (a return address less one); false when none is known. */
static bool cfa_rule_find(uintptr_t pc, cfa_rule_t *r) {
	const uint8_t *fde = cfa_fde_find(pc);
	cfa_cie_t c;
	uint32_t len;
	int32_t cie_off;
	if (fde == NULL)
		return false;
	memcpy(&len, fde, 4);
	memcpy(&cie_off, fde + 4, 4);
	if (len == 0 || len == 0xffffffffu || cie_off == 0 ||
	    !cfa_cie_read(fde + 4 - cie_off, &c))
		return false;
	const uint8_t *p = fde + 8, *end = fde + 4 + len;
	uintptr_t begin, range;
	if (!cfa_ptr(&p, end, c.fde_enc, 0, &begin) ||
	    !cfa_ptr(&p, end, c.fde_enc & 0x0f, 0, &range) ||
	    pc < begin || pc - begin >= range)
		return false;
	if (c.aug_z) {
		uint64_t n = cfa_uleb(&p, end);
		p += n;
	}
	memset(r, 0, sizeof(*r));
	r->cfa_reg = ~0u;
	r->ra_how = CFA_LOST;
	cfa_run_t x = { .cie = &c, .init = NULL, .loc = 0,
	    .pc = UINTPTR_MAX };
	if (!cfa_run(&x, c.p, c.end, r))
		return false;
	cfa_rule_t init = *r;
	x.init = &init;
	x.nsaved = 0;
	x.loc = begin;
	x.pc = pc;
	return cfa_run(&x, p, end, r);
}

/* ---------------------------------------------------------------------- */
/* The cache and the walk */

static size_t cfa_slot(uintptr_t ip) {
	return (size_t)(((uint64_t)ip * 0x9e3779b97f4a7c15ull) >>
	    (64 - CFA_LG_CACHE));
}

static uint64_t cfa_check(uintptr_t ip, uint64_t rule) {
	uint64_t h = ((uint64_t)ip ^ (rule & 0xffffffffffffull)) *
	    0xff51afd7ed558ccdull;
	return (h >> 48) << 48;
}

/* The packed rule of r (without its check); false when it does not fit. */
static bool cfa_pack(const cfa_rule_t *r, uint64_t *out) {
	if (r->ra_off != -8 || r->cfa_off < 8 || r->cfa_off >= ((int64_t)1 << 32)
	    || r->bp_how == CFA_LOST || (r->bp_how == CFA_AT &&
	    (r->bp_off >= 0 || (r->bp_off & 7) != 0 || r->bp_off <= -(8 << 15))))
		return false;
	uint64_t k = r->bp_how == CFA_AT ? (uint64_t)(-r->bp_off / 8) : 0;
	*out = (uint64_t)(r->cfa_reg == CFA_REG_BP) | k << 1 |
	    (uint64_t)r->cfa_off << 16;
	return true;
}

static void cfa_unpack(uint64_t packed, cfa_rule_t *r) {
	uint64_t k = (packed >> 1) & 0x7fff;
	r->cfa_reg = (packed & 1) ? CFA_REG_BP : CFA_REG_SP;
	r->cfa_off = (int64_t)((packed >> 16) & 0xffffffffull);
	r->ra_how = CFA_AT;
	r->ra_off = -8;
	r->bp_how = k != 0 ? CFA_AT : CFA_SAME;
	r->bp_off = -(int64_t)k * 8;
}

/* Whether a frame can be followed by rule r. */
static bool cfa_usable(const cfa_rule_t *r) {
	return (r->cfa_reg == CFA_REG_SP || r->cfa_reg == CFA_REG_BP) &&
	    r->ra_how == CFA_AT;
}

/* The rule for return address ip, from the cache or worked out (and kept
 * when it packs); false when the stack ends there. */
static bool cfa_rule_of(uintptr_t ip, cfa_rule_t *r) {
	cfa_entry_t *e = &cfa_cache[cfa_slot(ip)];
	if (atomic_load_explicit(&e->ip, memory_order_relaxed) == ip) {
		uint64_t rule = atomic_load_explicit(&e->rule,
		    memory_order_relaxed);
		if ((rule & ~0xffffffffffffull) == cfa_check(ip, rule)) {
			if (((rule >> 16) & 0xffffffffull) == 0)
				return false;
			cfa_unpack(rule, r);
			return true;
		}
	}
	uint64_t packed = CFA_END;
	bool ok = cfa_rule_find(ip - 1, r) && cfa_usable(r);
	if (!ok || cfa_pack(r, &packed)) {
		atomic_store_explicit(&e->ip, ip, memory_order_relaxed);
		atomic_store_explicit(&e->rule, packed | cfa_check(ip, packed),
		    memory_order_relaxed);
	}
	return ok;
}

/* The top of the stack mapping holding sp (the thread's cached range, else
 * /proc/self/maps); 0 when not found. */
static uintptr_t cfa_stack_end(uintptr_t sp) {
	if (sp >= cfa_lo && sp < cfa_hi)
		return cfa_hi;
	maps_entry_t m;
	if (maps_find(sp, &m) != 0 || !m.readable)
		return 0;
	cfa_lo = m.start;
	cfa_hi = m.end;
	return m.end;
}

/* Read the word at a if [a, a + 8) is inside [lo, hi). */
static bool cfa_read(uintptr_t a, uintptr_t lo, uintptr_t hi,
    uintptr_t *out) {
	if (a < lo || a > hi - 8 || (a & 7) != 0)
		return false;
	*out = *(const uintptr_t *)a;
	return true;
}

/* One frame up; false when the stack ends here. */
static bool cfa_step(cfa_regs_t *g, bool *bp_ok, uintptr_t lo,
    uintptr_t hi) {
	cfa_rule_t r;
	if (!cfa_rule_of(g->ip, &r) || (r.cfa_reg == CFA_REG_BP && !*bp_ok))
		return false;
	uintptr_t cfa = (r.cfa_reg == CFA_REG_BP ? g->bp : g->sp) +
	    (uintptr_t)r.cfa_off;
	uintptr_t ip, bp = g->bp;
	if (cfa <= g->sp || !cfa_read(cfa + (uintptr_t)r.ra_off, lo, hi, &ip))
		return false;
	if (r.bp_how == CFA_AT)
		*bp_ok = cfa_read(cfa + (uintptr_t)r.bp_off, lo, hi, &bp);
	else if (r.bp_how == CFA_LOST)
		*bp_ok = false;
	g->ip = ip;
	g->sp = cfa;
	g->bp = bp;
	return ip != 0;
}

BM_NOINLINE size_t cfa_walk(uintptr_t *frames, size_t max,
    uintptr_t skip_lo, uintptr_t skip_hi) {
	cfa_regs_t g;
	cfa_get_regs(&g);
	uintptr_t lo = g.sp, hi = cfa_stack_end(g.sp);
	bool bp_ok = true;
	size_t n = 0;
	if (hi == 0)
		return 0;
	while (n < max) {
		if (n > 0 || g.ip < skip_lo || g.ip >= skip_hi)
			frames[n++] = g.ip;
		if (!cfa_step(&g, &bp_ok, lo, hi))
			break;
	}
	return n;
}

#else   /* not x86-64 */

int cfa_boot(void) {
	return ENOSYS;
}

size_t cfa_walk(uintptr_t *frames, size_t max, uintptr_t skip_lo,
    uintptr_t skip_hi) {
	(void)frames; (void)max; (void)skip_lo; (void)skip_hi;
	return 0;
}

#endif
