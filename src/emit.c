/*
 * emit: buffered output for the reports. Text is formatted with log's
 * printf subset into a 4 KiB buffer that is handed to the callback (or
 * written to fd 2) whenever a line might not fit, and at emit_flush. JSON
 * members start with the comma and newline the previous member needs, then
 * two spaces per level. No allocation, no stdio, no locks.
 */
#include "emit.h"
#include "log.h"

#include <stdarg.h>

void emit_init(emit_t *e, bool json, emit_write_fn cb, void *opaque) {
	e->cb = cb;
	e->opaque = opaque;
	e->json = json;
	e->depth = 0;
	e->comma = false;
	e->len = 0;
	e->buf[0] = '\0';
}

void emit_flush(emit_t *e) {
	if (e->len == 0)
		return;
	e->buf[e->len] = '\0';
	if (e->cb != NULL)
		e->cb(e->opaque, e->buf);
	else
		log_write(e->buf, e->len);
	e->len = 0;
}

void emit_printf(emit_t *e, const char *fmt, ...) {
	if (sizeof(e->buf) - e->len < EMIT_LINE_MAX)
		emit_flush(e);
	va_list ap;
	va_start(ap, fmt);
	e->len += log_vformat(e->buf + e->len, sizeof(e->buf) - e->len, fmt, ap);
	va_end(ap);
}

const char *emit_format(char *buf, size_t cap, emit_unit_t unit, uint64_t v) {
	if (unit == EMIT_BYTES)
		return log_format_bytes(buf, cap, v);
	if (unit == EMIT_COUNT)
		log_format(buf, cap, "%lu", (unsigned long)v);
	else if (v == UINT64_MAX)
		log_format(buf, cap, "-");
	else
		log_format(buf, cap, "%lu.%lu%%", (unsigned long)(v / 10),
		    (unsigned long)(v % 10));
	return buf;
}

void emit_cell(emit_row_t *r, unsigned width, const char *fmt, ...) {
	char cell[128];
	va_list ap;
	va_start(ap, fmt);
	size_t len = log_vformat(cell, sizeof(cell), fmt, ap);
	va_end(ap);
	for (size_t i = len; i < width && r->n + 1 < sizeof(r->s); i++)
		r->s[r->n++] = ' ';
	r->n += log_format(r->s + r->n, sizeof(r->s) - r->n, "%s", cell);
}

/* Start a member: comma, newline, indentation and the key (if any). */
static void emit_json_member(emit_t *e, const char *key) {
	emit_printf(e, "%s\n", e->comma ? "," : "");
	for (unsigned i = 0; i < e->depth; i++)
		emit_printf(e, "  ");
	if (key != NULL)
		emit_printf(e, "\"%s\": ", key);
	e->comma = true;
}

void emit_json_open(emit_t *e, const char *key, char bracket) {
	emit_json_member(e, key);
	emit_printf(e, "%c", bracket);
	e->depth++;
	e->comma = false;
}

void emit_json_close(emit_t *e, char bracket) {
	e->depth--;
	emit_printf(e, "\n");
	for (unsigned i = 0; i < e->depth; i++)
		emit_printf(e, "  ");
	emit_printf(e, "%c", bracket);
	e->comma = true;
}

void emit_json_u64(emit_t *e, const char *key, uint64_t v) {
	emit_json_member(e, key);
	emit_printf(e, "%lu", (unsigned long)v);
}

void emit_json_bool(emit_t *e, const char *key, bool v) {
	emit_json_member(e, key);
	emit_printf(e, "%s", v ? "true" : "false");
}

/* A string value, escaped. */
void emit_json_str(emit_t *e, const char *key, const char *s) {
	static const char hex[] = "0123456789abcdef";
	char buf[EMIT_LINE_MAX / 2];
	size_t n = 0;
	for (; *s != '\0' && n + 8 < sizeof(buf); s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			n += log_format(buf + n, sizeof(buf) - n, "\\%c", c);
		else if (c < 0x20)
			n += log_format(buf + n, sizeof(buf) - n, "\\u00%c%c",
			    hex[c >> 4], hex[c & 15]);
		else
			buf[n++] = (char)c;
	}
	buf[n] = '\0';
	emit_json_member(e, key);
	emit_printf(e, "\"%s\"", buf);
}

void emit_json_value(emit_t *e, const char *key, emit_unit_t unit,
    uint64_t v) {
	if (unit != EMIT_PERMILLE) {
		emit_json_u64(e, key, v);
		return;
	}
	uint64_t pm = v == UINT64_MAX ? 0 : v;
	emit_json_member(e, key);
	emit_printf(e, "%lu.%c%c%c", (unsigned long)(pm / 1000),
	    (char)('0' + pm / 100 % 10), (char)('0' + pm / 10 % 10),
	    (char)('0' + pm % 10));
}
