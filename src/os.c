/*
 * os: the only file that calls mmap, munmap, mremap, mprotect and madvise,
 * and the only one that reads system facts (THP mode from /sys, CPU count,
 * clock, random bytes from getrandom or /dev/urandom),
 * opens files, writes to fds, creates thread keys and starts threads (the
 * background purger). Every call is thread-safe, and all but
 * os_thread_start are lock-free; counters are relaxed atomics. /sys is read
 * with open/read into a stack buffer: no stdio, no allocation. Reads and writes
 * use the raw system calls (syscall(2)), so none is a cancellation point: a
 * thread with a pending cancel finishes what the allocator writes.
 * The int-returning calls that act on memory give their error as the value
 * and restore errno (free() must never change errno). The stdio list lock
 * functions are libc's exported ABI (glibc, since 2.2.5), referenced weakly
 * so that the library still loads where they do not exist; no lookup (no
 * dlsym).
 */
#include "os.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/single_threaded.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

_Static_assert(sizeof(os_key_t) == sizeof(pthread_key_t),
    "os_key_t holds a pthread_key_t");

extern void _IO_list_lock(void) __attribute__((weak));
extern void _IO_list_unlock(void) __attribute__((weak));
extern void _IO_list_resetlock(void) __attribute__((weak));

static os_thp_mode_t os_thp = OS_THP_UNKNOWN;
static unsigned os_cpus = 1;
static bool os_limited;

static _Atomic uint64_t n_mmap, n_munmap, n_madvise, n_mremap;
static _Atomic uint64_t bytes_mapped, bytes_unmapped;
#ifdef BM_FAULT_INJECT
static _Atomic uint64_t fault_countdown;
#endif

#define COUNT(c, v) atomic_fetch_add_explicit(&(c), (v), memory_order_relaxed)

static os_thp_mode_t os_read_thp_mode(void) {
	char buf[128];
	int fd = (int)syscall(SYS_openat, AT_FDCWD,
	    "/sys/kernel/mm/transparent_hugepage/enabled", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return OS_THP_UNKNOWN;
	long n = syscall(SYS_read, fd, buf, sizeof(buf) - 1);
	os_close(fd);
	if (n <= 0)
		return OS_THP_UNKNOWN;
	buf[n] = '\0';
	if (strstr(buf, "[always]"))
		return OS_THP_ALWAYS;
	if (strstr(buf, "[madvise]"))
		return OS_THP_MADVISE;
	if (strstr(buf, "[never]"))
		return OS_THP_NEVER;
	return OS_THP_UNKNOWN;
}

long os_page_size_system(void) {
	return sysconf(_SC_PAGESIZE);
}

int os_boot(void) {
	if (os_page_size_system() != (long)PAGE)
		return EINVAL;
	os_thp = os_read_thp_mode();
	struct rlimit as, data;
	os_limited = (getrlimit(RLIMIT_AS, &as) == 0 &&
	    as.rlim_cur != RLIM_INFINITY) ||
	    (getrlimit(RLIMIT_DATA, &data) == 0 &&
	    data.rlim_cur != RLIM_INFINITY);
	unsigned long set[16];   /* 1024 CPUs; the raw call: libc's wrapper and
	                          * CPU_COUNT are 64 KiB of its text that a
	                          * small program touches for nothing else */
	long n = syscall(SYS_sched_getaffinity, 0, sizeof(set), set);
	unsigned c = 0;
	for (long i = 0; i < n / (long)sizeof(set[0]); i++)
		c += (unsigned)__builtin_popcountl(set[i]);
	os_cpus = c > 0 ? c : 1;
	return 0;
}

static int os_fault_now(void) {
#ifdef BM_FAULT_INJECT
	uint64_t c = atomic_load_explicit(&fault_countdown, memory_order_relaxed);
	while (c != 0) {
		if (atomic_compare_exchange_weak(&fault_countdown, &c, c - 1))
			return c == 1;
	}
#endif
	return 0;
}

void os_fault_inject(uint64_t nth) {
#ifdef BM_FAULT_INJECT
	atomic_store(&fault_countdown, nth);
#else
	(void)nth;
#endif
}

/* flags: MAP_NORESERVE or 0 (the kernel's overcommit check applies). */
static void *os_map_prot(size_t size, int prot, int flags) {
	if (os_fault_now()) {
		errno = EAGAIN;  /* a failure, but not address-space exhaustion */
		return NULL;
	}
	void *p = mmap(NULL, size, prot, MAP_PRIVATE | MAP_ANONYMOUS | flags,
	    -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	COUNT(n_mmap, 1);
	COUNT(bytes_mapped, size);
	return p;
}

static void *os_map_flags(size_t size, int flags) {
	return os_map_prot(size, PROT_READ | PROT_WRITE, flags);
}

void *os_map(size_t size) {
	return os_map_flags(size, MAP_NORESERVE);
}

void *os_map_readonly(size_t size) {
	return os_map_prot(size, PROT_READ, MAP_NORESERVE);
}

/* errno as the result, errno itself restored to saved. */
static int os_error(int saved) {
	int err = errno;
	errno = saved;
	return err;
}

int os_unmap(void *addr, size_t size) {
	int saved = errno;
	if (munmap(addr, size) != 0)
		return os_error(saved);
	COUNT(n_munmap, 1);
	COUNT(bytes_unmapped, size);
	return 0;
}

/* Give back a fresh mapping that cannot be used (the kernel would not cut
 * it: at its limit on mappings, an unmap that splits one fails with
 * ENOMEM) and fail with ENOMEM. Unmapping it whole splits less (at most
 * one side); should even that fail, the bytes stay mapped, untouched. */
static void *os_map_undo(void *addr, size_t size) {
	os_unmap(addr, size);
	errno = ENOMEM;
	return NULL;
}

/* Over-map by alignment - PAGE and unmap the misaligned head and tail. */
static void *os_map_trimmed(size_t size, size_t alignment, int flags) {
	size_t over = size + alignment - PAGE;
	if (over < size)
		return NULL;
	char *p = os_map_flags(over, flags);
	if (p == NULL)
		return NULL;
	char *aligned = (char *)ALIGN_UP((uintptr_t)p, alignment);
	size_t lead = (size_t)(aligned - p);
	size_t trail = over - lead - size;
	if (lead != 0 && os_unmap(p, lead) != 0)
		return os_map_undo(p, over);
	if (trail != 0 && os_unmap(aligned + size, trail) != 0)
		return os_map_undo(aligned, size + trail);
	return aligned;
}

static void *os_map_aligned_flags(size_t size, size_t alignment, int flags) {
	void *p = os_map_flags(size, flags);
	if (alignment <= PAGE || p == NULL ||
	    ((uintptr_t)p & (alignment - 1)) == 0)
		return p;
	if (os_unmap(p, size) != 0)
		return os_map_undo(p, size);
	return os_map_trimmed(size, alignment, flags);
}

void *os_map_aligned(size_t size, size_t alignment) {
	return os_map_aligned_flags(size, alignment, MAP_NORESERVE);
}

void *os_map_accounted(size_t size, size_t alignment) {
	return os_map_aligned_flags(size, alignment, 0);
}

void *os_remap(void *addr, size_t old_size, size_t new_size) {
	if (new_size > old_size && os_fault_now())
		return NULL;
	void *p = mremap(addr, old_size, new_size, MREMAP_MAYMOVE);
	if (p == MAP_FAILED)
		return NULL;
	COUNT(n_mremap, 1);
	if (new_size > old_size)
		COUNT(bytes_mapped, new_size - old_size);
	else
		COUNT(bytes_unmapped, old_size - new_size);
	return p;
}

int os_commit(void *addr, size_t size) {
	int saved = errno;
	return mprotect(addr, size, PROT_READ | PROT_WRITE) == 0 ? 0
	    : os_error(saved);
}

int os_decommit(void *addr, size_t size) {
	int saved = errno;
	void *p = mmap(addr, size, PROT_NONE,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
	return p == addr ? 0 : os_error(saved);
}

/* Guard pages as page-table markers (Linux 6.13): no VMA of their own. */
#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#define MADV_GUARD_REMOVE 103
#endif

/* How guards are made: unknown before the first; by madvise once the
 * kernel made one so; by mprotect when it answered the first with EINVAL
 * (it has no MADV_GUARD_INSTALL). A later refusal (a locked mapping) falls
 * back to mprotect for that guard alone, and os_guard_protected tells
 * os_unguard to lift such guards too. */
enum { OS_GUARD_UNKNOWN, OS_GUARD_ADVISE, OS_GUARD_PROTECT };
static _Atomic int os_guard_how;
static _Atomic bool os_guard_protected;

int os_guard(void *addr, size_t size) {
	int saved = errno;
	int how = atomic_load_explicit(&os_guard_how, memory_order_relaxed);
	if (how != OS_GUARD_PROTECT) {
		COUNT(n_madvise, 1);
		if (madvise(addr, size, MADV_GUARD_INSTALL) == 0) {
			if (how == OS_GUARD_UNKNOWN)
				atomic_store_explicit(&os_guard_how,
				    OS_GUARD_ADVISE, memory_order_relaxed);
			errno = saved;
			return 0;
		}
		if (how == OS_GUARD_UNKNOWN && errno == EINVAL)
			atomic_store_explicit(&os_guard_how, OS_GUARD_PROTECT,
			    memory_order_relaxed);
	}
	if (!atomic_load_explicit(&os_guard_protected, memory_order_relaxed))
		atomic_store_explicit(&os_guard_protected, true,
		    memory_order_relaxed);
	return mprotect(addr, size, PROT_NONE) == 0 ? 0 : os_error(saved);
}

int os_unguard(void *addr, size_t size) {
	int saved = errno, err = 0;
	if (atomic_load_explicit(&os_guard_how, memory_order_relaxed) ==
	    OS_GUARD_ADVISE) {
		COUNT(n_madvise, 1);
		if (madvise(addr, size, MADV_GUARD_REMOVE) != 0)
			err = errno;
	}
	if (atomic_load_explicit(&os_guard_protected, memory_order_relaxed))
		err = mprotect(addr, size, PROT_READ | PROT_WRITE) == 0 ? 0
		    : errno;
	errno = saved;
	return err;
}

void *os_reserve(size_t size) {
	int saved = errno;
	void *p = mmap(NULL, size, PROT_NONE,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	errno = saved;
	return p == MAP_FAILED ? NULL : p;
}

static int os_advise(void *addr, size_t size, int advice) {
	int saved = errno;
	COUNT(n_madvise, 1);
	return madvise(addr, size, advice) == 0 ? 0 : os_error(saved);
}

int os_purge_forced(void *addr, size_t size) {
	return os_advise(addr, size, MADV_DONTNEED);
}

int os_purge_lazy(void *addr, size_t size) {
	return os_advise(addr, size, MADV_FREE);
}

int os_resident_pages(void *addr, size_t npages, unsigned char *vec) {
	int saved = errno;
	if (mincore(addr, npages * PAGE, vec) != 0) {
		int err = errno;
		errno = saved;
		return err;
	}
	for (size_t i = 0; i < npages; i++)
		vec[i] &= 1;
	return 0;
}

int os_huge(void *addr, size_t size) {
	return os_advise(addr, size, MADV_HUGEPAGE);
}

int os_nohuge(void *addr, size_t size) {
	return os_advise(addr, size, MADV_NOHUGEPAGE);
}

os_thp_mode_t os_thp_mode(void) {
	return os_thp;
}

const char *os_thp_mode_name(os_thp_mode_t mode) {
	static const char *const names[] = { "always", "madvise", "never",
	    "unknown" };
	return mode <= OS_THP_UNKNOWN ? names[mode] : "unknown";
}

bool os_space_limited(void) {
	return os_limited;
}

unsigned os_ncpus(void) {
	return os_cpus;
}

/* Fill buf with len bytes from getrandom(2) without blocking (fd < 0; the
 * raw syscall, since glibc's wrapper is newer than some of the systems we
 * run on) or from fd, retrying short reads and EINTR. */
static int os_fill(int fd, unsigned char *buf, size_t len) {
	while (len > 0) {
		long n = fd < 0 ? syscall(SYS_getrandom, buf, len, GRND_NONBLOCK)
		    : syscall(SYS_read, fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n == 0 ? EIO : errno;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

int os_random(void *buf, size_t len) {
	int saved = errno;
	int err = os_fill(-1, buf, len);
	if (err != 0) {
		int fd = (int)syscall(SYS_openat, AT_FDCWD, "/dev/urandom",
		    O_RDONLY | O_CLOEXEC);
		err = fd < 0 ? errno : os_fill(fd, buf, len);
		if (fd >= 0)
			syscall(SYS_close, fd);
	}
	errno = saved;
	return err;
}

uint64_t os_now_ns(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void os_sleep_ns(uint64_t ns) {
	struct timespec ts = { (time_t)(ns / 1000000000u),
	    (long)(ns % 1000000000u) };
	int saved = errno;
	nanosleep(&ts, NULL);
	errno = saved;
}

/* The thread's stack: enough for the purger, and not the 8 MiB default. */
#define OS_THREAD_STACK ((size_t)256 << 10)

void os_thread_name(const char *name) {
	pthread_setname_np(pthread_self(), name);
}

int os_thread_start(void *(*fn)(void *)) {
	pthread_attr_t attr;
	if (pthread_attr_init(&attr) != 0)
		return EAGAIN;
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, OS_THREAD_STACK);
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_t t;
	int err = pthread_create(&t, &attr, fn, NULL);
	if (err == EINVAL) {  /* the program's TLS needs a bigger stack */
		pthread_attr_setstacksize(&attr, OS_THREAD_STACK * 32);
		err = pthread_create(&t, &attr, fn, NULL);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	return err;
}

void os_stats_get(os_stats_t *out) {
	out->n_mmap = atomic_load(&n_mmap);
	out->n_munmap = atomic_load(&n_munmap);
	out->n_madvise = atomic_load(&n_madvise);
	out->n_mremap = atomic_load(&n_mremap);
	out->bytes_mapped = atomic_load(&bytes_mapped);
	out->bytes_unmapped = atomic_load(&bytes_unmapped);
}

uint64_t os_mapped_bytes(void) {
	return atomic_load_explicit(&bytes_mapped, memory_order_relaxed) -
	    atomic_load_explicit(&bytes_unmapped, memory_order_relaxed);
}

void os_futex_wait(_Atomic uint32_t *addr, uint32_t val) {
	int saved = errno;
	syscall(SYS_futex, addr, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
	errno = saved;
}

void os_futex_wake(_Atomic uint32_t *addr) {
	int saved = errno;
	syscall(SYS_futex, addr, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
	errno = saved;
}

int os_write(int fd, const void *buf, size_t len) {
	int saved = errno, err = 0;
	const char *p = buf;
	while (len > 0) {
		long n = syscall(SYS_write, fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			err = n < 0 ? errno : EIO;
			break;
		}
		p += n;
		len -= (size_t)n;
	}
	errno = saved;
	return err;
}

int os_open_trunc(const char *path, int *fd) {
	int saved = errno, err = 0;
	long r = syscall(SYS_openat, AT_FDCWD, path,
	    O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (r < 0)
		err = errno;
	else
		*fd = (int)r;
	errno = saved;
	return err;
}

void os_close(int fd) {
	int saved = errno;
	syscall(SYS_close, fd);
	errno = saved;
}

int os_pid(void) {
	return (int)getpid();
}

int os_key_create(os_key_t *key, void (*dtor)(void *)) {
	pthread_key_t k;
	int err = pthread_key_create(&k, dtor);
	if (err == 0)
		*key = (os_key_t)k;
	return err;
}

int os_key_set(os_key_t key, const void *value) {
	return pthread_setspecific((pthread_key_t)key, value);
}

bool os_threaded(void) {
	return __libc_single_threaded == 0;
}

void os_stdio_lock(void) {
	if (_IO_list_lock != NULL)
		_IO_list_lock();
}

void os_stdio_unlock(void) {
	if (_IO_list_unlock != NULL)
		_IO_list_unlock();
}

void os_stdio_reset(void) {
	if (_IO_list_resetlock != NULL)
		_IO_list_resetlock();
}

/* ---------------------------------------------------------------------- */
/* Reading files (heap profiler): raw system calls, so that the profiler
 * (and maps, for /proc/self/maps) can read files from inside malloc: no
 * allocation, no cancellation point, errno left alone. */

int os_open_read(const char *path, int *fd) {
	int saved = errno;
	long r;
	do {
		r = syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
	} while (r < 0 && errno == EINTR);
	int err = r < 0 ? errno : 0;
	errno = saved;
	if (err == 0)
		*fd = (int)r;
	return err;
}

size_t os_read(int fd, void *buf, size_t cap) {
	int saved = errno;
	long r;
	do {
		r = syscall(SYS_read, fd, buf, cap);
	} while (r < 0 && errno == EINTR);
	errno = saved;
	return r > 0 ? (size_t)r : 0;
}

void *os_file_map(const char *path, size_t *size) {
	int fd;
	if (os_open_read(path, &fd) != 0)
		return NULL;
	int saved = errno;
	off_t end = lseek(fd, 0, SEEK_END);
	void *p = end > 0 ? mmap(NULL, (size_t)end, PROT_READ, MAP_PRIVATE, fd,
	    0) : MAP_FAILED;
	os_close(fd);
	errno = saved;
	if (p == MAP_FAILED)
		return NULL;
	*size = (size_t)end;
	return p;
}

void os_file_unmap(void *addr, size_t size) {
	int saved = errno;
	munmap(addr, size);
	errno = saved;
}

void *os_library_symbol(const char *lib, const char *sym) {
	void *h = dlopen(lib, RTLD_NOW | RTLD_NOLOAD);
	if (h == NULL)
		h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
	return h != NULL ? dlsym(h, sym) : NULL;
}

extern int _dl_find_object(void *, struct dl_find_object *) __attribute__((weak));

int os_unwind_table(uintptr_t pc, const void **hdr) {
	struct dl_find_object fo;
	if (_dl_find_object == NULL)
		return ENOSYS;
	if (_dl_find_object((void *)pc, &fo) != 0 || fo.dlfo_eh_frame == NULL)
		return ENOENT;
	*hdr = fo.dlfo_eh_frame;
	return 0;
}
