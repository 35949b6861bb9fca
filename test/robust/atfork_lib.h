/* atfork_lib.h: what test/robust/atfork_lib.c (a library whose constructor
 * registers fork handlers that allocate) tells the program linked with it. */
#ifndef BM_TEST_ATFORK_LIB_H
#define BM_TEST_ATFORK_LIB_H

enum { ATFORK_PREPARE, ATFORK_PARENT, ATFORK_CHILD, ATFORK_PHASES };
/* Bytes of the block each handler keeps, filled with 'a' + its phase. */
enum { ATFORK_KEPT = 5000 };

/* How many times the handler of phase ran in this process. */
long atfork_lib_calls(int phase);
/* The block the handler of phase kept last (NULL if none); the caller
 * frees it. */
unsigned char *atfork_lib_take(int phase);
/* From now on the handlers allocate (in this process and its children). */
void atfork_lib_enable(void);
/* 1 when the constructor registered the handlers. */
int atfork_lib_registered(void);

#endif
