/*
 * dso.c: a small shared object for dlopen.c. Its constructor allocates a
 * table and its destructor frees it; dso_work allocates through thread-local
 * (dynamic TLS, which ld.so allocates with malloc) and returns a malloc'd
 * string that the caller frees after dlclose.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char **table;
static __thread char tls_buf[4096];
static __thread unsigned tls_calls;

__attribute__((constructor)) static void dso_init(void)
{
	table = calloc(64, sizeof(*table));
	for (int i = 0; table != NULL && i < 64; i++) {
		table[i] = malloc(16 + (size_t)i * 40);
		if (table[i] != NULL)
			memset(table[i], i, 16 + (size_t)i * 40);
	}
}

__attribute__((destructor)) static void dso_fini(void)
{
	for (int i = 0; table != NULL && i < 64; i++)
		free(table[i]);
	free(table);
	table = NULL;
}

/* A string describing call n, or NULL if the constructor's table is bad. */
char *dso_work(unsigned n)
{
	if (table == NULL)
		return NULL;
	for (int i = 0; i < 64; i++)
		if (table[i] == NULL || table[i][15] != (char)i)
			return NULL;
	tls_calls++;
	snprintf(tls_buf, sizeof(tls_buf), "call %u on this thread: %u", n, tls_calls);
	char *s = malloc(strlen(tls_buf) + 1 + n % 5000);
	if (s != NULL)
		strcpy(s, tls_buf);
	return s;
}
