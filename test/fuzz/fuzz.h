/*
 * fuzz.h: what the libFuzzer targets here share. FUZZ_ASSERT(c, fmt, ...)
 * prints "FUZZ_NAME: c: " and the message on stderr and aborts, so that
 * libFuzzer keeps the input; the including file defines FUZZ_NAME (its
 * target's name) first. No state, no locks.
 */
#ifndef BM_TEST_FUZZ_H
#define BM_TEST_FUZZ_H

#include <stdio.h>
#include <stdlib.h>

#ifndef FUZZ_NAME
#error "define FUZZ_NAME (the target's name) before including fuzz.h"
#endif

#define FUZZ_ASSERT(c, ...) do { \
	if (!(c)) { \
		fprintf(stderr, FUZZ_NAME ": %s: ", #c); \
		fprintf(stderr, __VA_ARGS__); \
		fprintf(stderr, "\n"); \
		abort(); \
	} \
} while (0)

#endif
