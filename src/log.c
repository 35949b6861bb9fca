/*
 * log: a small printf subset that formats into a caller's buffer, and writers
 * to fd 2. Never allocates, never uses stdio, holds no lock; each message is
 * sent with a single os_write (the raw system call, not a cancellation point)
 * so lines from threads do not interleave.
 */
#include "log.h"
#include "os.h"

#include <stdlib.h>

typedef struct {
	char *buf;
	size_t cap, len;
} out_t;

static void out_char(out_t *o, char c) {
	if (o->len + 1 < o->cap)
		o->buf[o->len] = c;
	o->len++;
}

static void out_str(out_t *o, const char *s) {
	if (s == NULL)
		s = "(null)";
	while (*s)
		out_char(o, *s++);
}

static void out_unsigned(out_t *o, unsigned long long v, unsigned base) {
	char tmp[24];
	int n = 0;
	do {
		unsigned d = (unsigned)(v % base);
		tmp[n++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
		v /= base;
	} while (v != 0);
	while (n > 0)
		out_char(o, tmp[--n]);
}

static void out_signed(out_t *o, long long v) {
	if (v < 0) {
		out_char(o, '-');
		out_unsigned(o, 0ULL - (unsigned long long)v, 10);
	} else {
		out_unsigned(o, (unsigned long long)v, 10);
	}
}

/* One conversion; *fmt points just past the '%'. Returns the new fmt. */
static const char *out_conversion(out_t *o, const char *fmt, va_list *ap) {
	int longs = 0, size_t_arg = 0;
	for (;; fmt++) {
		if (*fmt == 'l')
			longs++;
		else if (*fmt == 'z')
			size_t_arg = 1;
		else
			break;
	}
	char c = *fmt;
	if (c == '\0')
		return fmt;
	if (c == 'd' || c == 'i') {
		long long v = size_t_arg ? (long long)va_arg(*ap, ssize_t)
		    : longs ? va_arg(*ap, long) : va_arg(*ap, int);
		out_signed(o, v);
	} else if (c == 'u' || c == 'x') {
		unsigned long long v = size_t_arg ? va_arg(*ap, size_t)
		    : longs ? va_arg(*ap, unsigned long) : va_arg(*ap, unsigned);
		out_unsigned(o, v, c == 'x' ? 16 : 10);
	} else if (c == 'p') {
		out_str(o, "0x");
		out_unsigned(o, (uintptr_t)va_arg(*ap, void *), 16);
	} else if (c == 's') {
		out_str(o, va_arg(*ap, const char *));
	} else if (c == 'c') {
		out_char(o, (char)va_arg(*ap, int));
	} else {
		out_char(o, c);
	}
	return fmt + 1;
}

size_t log_vformat(char *buf, size_t cap, const char *fmt, va_list ap) {
	out_t o = { buf, cap, 0 };
	va_list aq;
	va_copy(aq, ap);
	while (*fmt) {
		if (*fmt != '%') {
			out_char(&o, *fmt++);
			continue;
		}
		fmt = out_conversion(&o, fmt + 1, &aq);
	}
	va_end(aq);
	if (cap > 0)
		buf[o.len < cap ? o.len : cap - 1] = '\0';
	return o.len < cap ? o.len : (cap ? cap - 1 : 0);
}

size_t log_format(char *buf, size_t cap, const char *fmt, ...) {
	va_list ap;
	va_start(ap, fmt);
	size_t n = log_vformat(buf, cap, fmt, ap);
	va_end(ap);
	return n;
}

void log_write(const char *buf, size_t len) {
	os_write(2, buf, len);
}

static void log_vwarn(const char *fmt, va_list ap) {
	char buf[512];
	size_t n = log_format(buf, sizeof(buf), "basemalloc: ");
	n += log_vformat(buf + n, sizeof(buf) - n - 1, fmt, ap);
	buf[n++] = '\n';
	log_write(buf, n);
}

void log_warn(const char *fmt, ...) {
	va_list ap;
	va_start(ap, fmt);
	log_vwarn(fmt, ap);
	va_end(ap);
}

void log_fatal(const char *fmt, ...) {
	va_list ap;
	va_start(ap, fmt);
	log_vwarn(fmt, ap);
	va_end(ap);
	abort();
}

void log_error(bool fatal, const char *fmt, ...) {
	va_list ap;
	va_start(ap, fmt);
	log_vwarn(fmt, ap);
	va_end(ap);
	if (fatal)
		log_fatal("aborting (set BASEMALLOC_CONF=abort_on_invalid:false "
		    "to continue)");
}

void log_assert_fail(const char *file, int line, const char *expr) {
	log_fatal("%s:%d: assertion failed: %s", file, line, expr);
}

const char *log_format_bytes(char *buf, size_t cap, uint64_t v) {
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	unsigned u = 0;
	uint64_t scale = 1;
	while (u < 4 && v >= scale * 1024) {
		scale *= 1024;
		u++;
	}
	if (u == 0) {
		log_format(buf, cap, "%lu B", (unsigned long)v);
		return buf;
	}
	uint64_t whole = v / scale, tenth = ((v % scale) * 10 + scale / 2) / scale;
	if (tenth == 10) {
		whole++;
		tenth = 0;
	}
	log_format(buf, cap, "%lu.%lu %s", (unsigned long)whole,
	    (unsigned long)tenth, units[u]);
	return buf;
}
