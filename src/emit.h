/*
 * emit: the one output mechanism of the reports (text, JSON, glibc's
 * malloc_stats and malloc_info): a buffer flushed to a write callback (or to
 * fd 2), value formatting by unit, right-aligned table cells, and JSON
 * members with nesting and commas. Never allocates; no locks (an emitter
 * belongs to one call). Lines longer than EMIT_LINE_MAX are cut.
 */
#ifndef BM_EMIT_H
#define BM_EMIT_H

#include "common.h"

#define EMIT_LINE_MAX 512

/* How a value reads: bytes ("1.5 KiB" in text), a plain count, or
 * thousandths (a percentage in text, a ratio in JSON; UINT64_MAX = none). */
typedef enum { EMIT_BYTES, EMIT_COUNT, EMIT_PERMILLE } emit_unit_t;

typedef void (*emit_write_fn)(void *opaque, const char *text);

typedef struct {
	emit_write_fn cb;      /* NULL: fd 2 */
	void *opaque;
	bool json;             /* the report's form */
	unsigned depth;        /* JSON nesting */
	bool comma;            /* JSON: a member precedes at this depth */
	size_t len;
	char buf[4096];
} emit_t;

/* Start an emitter writing to cb(opaque, text) (NULL: fd 2). */
void emit_init(emit_t *e, bool json, emit_write_fn cb, void *opaque);
/* Append formatted text (log_format's conversions). */
void emit_printf(emit_t *e, const char *fmt, ...) BM_FORMAT(2, 3);
/* Hand the buffered text to the callback. */
void emit_flush(emit_t *e);

/* v in the text form of unit into buf; returns buf. */
const char *emit_format(char *buf, size_t cap, emit_unit_t unit, uint64_t v);

/* A table row being built: cells right-aligned in their widths. */
typedef struct {
	char s[EMIT_LINE_MAX];
	size_t n;
} emit_row_t;
void emit_cell(emit_row_t *r, unsigned width, const char *fmt, ...)
    BM_FORMAT(3, 4);

/* JSON: open an object ('{') or array ('[') as member key (NULL inside an
 * array), close it; members of each kind. */
void emit_json_open(emit_t *e, const char *key, char bracket);
void emit_json_close(emit_t *e, char bracket);
void emit_json_u64(emit_t *e, const char *key, uint64_t v);
void emit_json_bool(emit_t *e, const char *key, bool v);
void emit_json_str(emit_t *e, const char *key, const char *s);
/* A member in unit: numbers as they are, thousandths as a ratio "0.123"
 * (0 for none). */
void emit_json_value(emit_t *e, const char *key, emit_unit_t unit,
    uint64_t v);

#endif
