/*
 * maps: /proc/self/maps read in 4 KiB pieces into a stack buffer and parsed
 * by hand (no stdio, no allocation). A line longer than the buffer is
 * dropped.
 */
#include "maps.h"
#include "os.h"

#include <errno.h>
#include <string.h>

static uint64_t maps_parse_hex(const char **s) {
	uint64_t v = 0;
	for (;; (*s)++) {
		char c = **s;
		unsigned d = c >= '0' && c <= '9' ? (unsigned)(c - '0')
		    : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10) : 16;
		if (d == 16)
			return v;
		v = v * 16 + d;
	}
}

/* Parse one maps line ("start-end perms offset dev inode path"); true when
 * it holds addr. */
static bool maps_parse(const char *l, uintptr_t addr, maps_entry_t *m) {
	m->start = maps_parse_hex(&l);
	l++;
	m->end = maps_parse_hex(&l);
	if (addr < m->start || addr >= m->end)
		return false;
	l++;
	m->readable = l[0] == 'r';
	m->executable = l[2] == 'x';
	l += 5;
	m->offset = maps_parse_hex(&l);
	for (int field = 0; field < 2; field++) {   /* dev, inode */
		while (*l == ' ')
			l++;
		while (*l != ' ' && *l != '\0')
			l++;
	}
	while (*l == ' ')
		l++;
	size_t n = strlen(l);
	n = MIN(n, sizeof(m->path) - 1);
	memcpy(m->path, l, n);
	m->path[n] = '\0';
	return true;
}

int maps_find(uintptr_t addr, maps_entry_t *out) {
	int fd, err = os_open_read("/proc/self/maps", &fd);
	if (err != 0)
		return err;
	char buf[4096];
	size_t have = 0, n;
	err = ENOENT;
	while (err == ENOENT &&
	    (n = os_read(fd, buf + have, sizeof(buf) - 1 - have)) > 0) {
		have += n;
		buf[have] = '\0';
		char *line = buf, *nl;
		while ((nl = strchr(line, '\n')) != NULL) {
			*nl = '\0';
			if (maps_parse(line, addr, out)) {
				err = 0;
				break;
			}
			line = nl + 1;
		}
		have = (size_t)(buf + have - line);
		memmove(buf, line, have);
		if (have == sizeof(buf) - 1)
			have = 0;   /* a line longer than the buffer: drop it */
	}
	os_close(fd);
	return err;
}

