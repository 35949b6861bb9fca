/*
 * os: the only module that calls the platform: memory (mmap, munmap, mremap,
 * madvise, mincore, mprotect), system facts (page size, THP mode, CPU
 * count, monotonic clock, the kernel's random bytes (getrandom), the pid), files and fd writes, futexes,
 * thread-exit keys, starting threads (the background purger), and what the
 * fork protocol needs of libc (whether the process has threads; the stdio
 * list lock). The lowest layer: it uses no other module. Every function is
 * thread-safe and takes no lock (but os_stdio_lock and os_thread_start);
 * none is a cancellation point.
 * Every function returning int returns 0 on success, an errno value on
 * failure; those that act on memory (unmap, commit, decommit, purge, huge,
 * resident pages) leave errno as they found it.
 */
#ifndef BM_OS_H
#define BM_OS_H

#include "common.h"

typedef enum {
	OS_THP_ALWAYS = 0,   /* "[always] madvise never" */
	OS_THP_MADVISE = 1,  /* "always [madvise] never": advice matters */
	OS_THP_NEVER = 2,
	OS_THP_UNKNOWN = 3,  /* no /sys file */
} os_thp_mode_t;

/* Read page size, THP mode and CPU count once. 0 on success; EINVAL when
 * the system's page size (os_page_size_system) is not PAGE. */
int os_boot(void);
/* The page size the system reports. */
long os_page_size_system(void);
/* Map size bytes of zeroed read-write memory; NULL (and errno) on failure:
 * ENOMEM when address space or memory ran out. */
void *os_map(size_t size);
/* Map size bytes aligned to alignment (power of two >= PAGE) by over-mapping
 * and trimming; NULL on failure. */
void *os_map_aligned(size_t size, size_t alignment);
/* os_map_aligned without MAP_NORESERVE, for a block the program asked for
 * (as glibc maps its mmapped chunks): under the kernel's default overcommit
 * heuristic a size it could never back (more than RAM plus swap) fails with
 * ENOMEM instead of being handed out. */
void *os_map_accounted(size_t size, size_t alignment);
/* Unmap. */
int os_unmap(void *addr, size_t size);
/* Grow or shrink a mapping, moving it if needed; NULL on failure. */
void *os_remap(void *addr, size_t old_size, size_t new_size);
/* Make pages accessible again / inaccessible (PROT_NONE), keeping the range. */
int os_commit(void *addr, size_t size);
int os_decommit(void *addr, size_t size);
/* Make whole pages a guard: any access faults. With MADV_GUARD_INSTALL
 * (Linux 6.13) a page-table marker that adds no mapping (VMA) and drops
 * the pages' contents (they read as zero once lifted; MADV_DONTNEED keeps
 * the marker); else, or where the kernel refuses it, mprotect(PROT_NONE)
 * (contents kept, the mapping split in up to 3). errno is left as it was. */
int os_guard(void *addr, size_t size);
/* Lift the guards made by os_guard on whole pages (none there: nothing
 * changes); 0, or an errno value. errno is left as it was. */
int os_unguard(void *addr, size_t size);
/* size bytes of read-only zero pages (not the process's data until
 * os_commit makes parts of them writable); NULL without memory. */
void *os_map_readonly(size_t size);
/* Reserve size bytes of address space that faults when touched (PROT_NONE,
 * no memory behind it); NULL on failure (errno left as it was). Not counted
 * as mapped. */
void *os_reserve(size_t size);
/* MADV_DONTNEED: pages read back as zero afterwards. */
int os_purge_forced(void *addr, size_t size);
/* MADV_FREE: the kernel may reclaim lazily; contents undefined afterwards. */
int os_purge_lazy(void *addr, size_t size);
/* Which of the npages pages at addr are resident (mincore): vec[i] is 1 or
 * 0. 0, or an errno value (vec undefined). */
int os_resident_pages(void *addr, size_t npages, unsigned char *vec);
/* MADV_HUGEPAGE / MADV_NOHUGEPAGE. */
int os_huge(void *addr, size_t size);
int os_nohuge(void *addr, size_t size);
/* The system THP mode read at boot. */
os_thp_mode_t os_thp_mode(void);
/* Name of a THP mode ("always", "madvise", "never", "unknown"). */
const char *os_thp_mode_name(os_thp_mode_t mode);
/* True when the process started with a finite address-space or data
 * limit (RLIMIT_AS, RLIMIT_DATA: ulimit -v, -d), read at boot. */
bool os_space_limited(void);
/* Online CPUs (>= 1). */
unsigned os_ncpus(void);
/* Fill buf with len bytes from the kernel's random generator (getrandom,
 * else /dev/urandom; never blocks). 0, or an errno value when neither
 * answered in full. errno itself is left as it was. */
int os_random(void *buf, size_t len);
/* Monotonic time in nanoseconds (coarse clock, cheap). */
uint64_t os_now_ns(void);
/* Sleep for ns nanoseconds (less when a signal arrives). */
void os_sleep_ns(uint64_t ns);
/* Run fn(NULL) on a new detached thread with every signal blocked and a
 * small stack; 0, or an errno value. The C library's thread set-up takes
 * its own locks and allocates: no allocator lock may be held. */
int os_thread_start(void *(*fn)(void *));
/* Name the calling thread (at most 15 bytes; shown by ps and top). */
void os_thread_name(const char *name);
/* Counters of kernel calls made through this module since start. */
typedef struct {
	uint64_t n_mmap, n_munmap, n_madvise, n_mremap;
	uint64_t bytes_mapped, bytes_unmapped;
} os_stats_t;
void os_stats_get(os_stats_t *out);
/* Bytes mapped minus bytes unmapped (two loads). */
uint64_t os_mapped_bytes(void);
/* Test hook: make the n-th os_map/os_map_aligned from now fail with EAGAIN
 * (0 = never); only in builds with BM_FAULT_INJECT, otherwise ignored. */
void os_fault_inject(uint64_t nth);
/* Sleep while the 32-bit word at addr still holds val (FUTEX_WAIT, private);
 * returns on a wake, a signal or a changed value. */
void os_futex_wait(_Atomic uint32_t *addr, uint32_t val);
/* Wake one thread sleeping on addr (FUTEX_WAKE, private). */
void os_futex_wake(_Atomic uint32_t *addr);
/* Write all len bytes to fd with the raw system call (never a cancellation
 * point), retrying on EINTR and short writes. 0, or the errno of the failed
 * write (EIO when it wrote nothing); errno is left as it was. */
int os_write(int fd, const void *buf, size_t len);
/* Create or truncate path for writing (mode 0644, close-on-exec) into *fd.
 * 0, or the errno of open. errno is left as it was. */
int os_open_trunc(const char *path, int *fd);
/* Close fd (errno is left as it was). */
void os_close(int fd);
/* The process id. */
int os_pid(void);
/* A thread-specific key whose destructor runs at thread exit (pthread key:
 * a low index kept in the thread descriptor, no allocation). */
typedef unsigned os_key_t;
/* Create a key with destructor dtor in *key. 0, or an errno value. */
int os_key_create(os_key_t *key, void (*dtor)(void *));
/* Set the calling thread's value of key (non-NULL arms the destructor). */
int os_key_set(os_key_t key, const void *value);
/* Whether the process has (had) other threads: glibc's fork takes its
 * locks, the stdio list lock among them, only then. */
bool os_threaded(void);
/* libc's stdio list lock, the one glibc's fork takes after the atfork
 * prepare handlers (recursive per thread): take it, release it, and reset
 * it in a fork child. No-ops on a libc that does not export it. */
void os_stdio_lock(void);
void os_stdio_unlock(void);
void os_stdio_reset(void);

/* Reading files, for the heap profiler (maps reads /proc/self/maps so).
 * Raw system calls: no allocation, no libc lock, no cancellation point,
 * errno kept. */
/* Open path for reading into *fd. 0, or the errno. */
int os_open_read(const char *path, int *fd);
/* Read up to cap bytes (retrying on EINTR); bytes read, 0 at the end or on
 * an error. */
size_t os_read(int fd, void *buf, size_t cap);
/* Map a whole file read-only (private); NULL when it cannot be. Not
 * counted in os_stats_get: os_file_unmap gives it back. */
void *os_file_map(const char *path, size_t *size);
void os_file_unmap(void *addr, size_t size);
/* Symbol sym of the shared library lib (soname), loading the library when
 * it is not loaded yet (RTLD_LOCAL); NULL when either cannot be found.
 * Allocates and takes the loader's lock: never call it from malloc. */
void *os_library_symbol(const char *lib, const char *sym);
/* The unwind table (.eh_frame_hdr) of the loaded object holding pc, by
 * glibc's _dl_find_object (2.35; lock-free, allocates nothing). 0, ENOENT
 * (no object or no table), or ENOSYS (no _dl_find_object). */
int os_unwind_table(uintptr_t pc, const void **hdr);

#endif
