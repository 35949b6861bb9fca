/*
 * log: formatting and writing to stderr (fd 2) without allocating and without
 * stdio; assertion failures; fatal errors. Safe on every path, before init and
 * inside a fork child. No locks: each message is one os_write (never a
 * cancellation point).
 */
#ifndef BM_LOG_H
#define BM_LOG_H

#include "common.h"
#include <stdarg.h>

/* Format into buf (always NUL-terminated); supports %s %d %u %ld %lu %zu %zd
 * %x %lx %zx %p %c %%. Returns the length written (excluding the NUL). */
size_t log_format(char *buf, size_t cap, const char *fmt, ...) BM_FORMAT(3, 4);
/* v bytes as "123 B", "1.5 KiB", "12.0 MiB", ... into buf; returns buf. */
const char *log_format_bytes(char *buf, size_t cap, uint64_t v);
/* Same with a va_list. */
size_t log_vformat(char *buf, size_t cap, const char *fmt, va_list ap);
/* Write "basemalloc: <message>\n" to fd 2 in one write. */
void log_warn(const char *fmt, ...) BM_FORMAT(1, 2);
/* log_warn, then abort(). */
BM_NORETURN void log_fatal(const char *fmt, ...) BM_FORMAT(1, 2);
/* A memory error basemalloc found: log_warn the line; when fatal, then say
 * how to go on instead (abort_on_invalid:false) and abort(). */
void log_error(bool fatal, const char *fmt, ...) BM_FORMAT(2, 3);
/* Write raw bytes to fd 2 (os_write: retrying, errno left as it was). */
void log_write(const char *buf, size_t len);
/* Called by BM_ASSERT on failure: prints file, line, expression; aborts. */
BM_NORETURN void log_assert_fail(const char *file, int line, const char *expr);

#define BM_ASSERT(e) do { \
	if (config_debug && UNLIKELY(!(e))) \
		log_assert_fail(__FILE__, __LINE__, #e); \
} while (0)

#endif
