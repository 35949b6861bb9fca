/*
 * tight.c: a tight address space (issue 9, item 6). RLIMIT_AS is set to the
 * process's size plus 2 MiB; then small (16 to 512 bytes) and medium (4 to
 * 64 KiB) blocks are allocated, all kept, until 64 requests in a row fail.
 * By then the space must really be gone: the largest mapping the test can
 * still make itself must be smaller than TIGHT_LEFT_MAX (a slab of the
 * largest kind, 256 KiB, plus its share of metadata). The bytes obtained
 * are printed (compare with glibc: BM_LIB= test/robust/run). Each block is
 * checked after the exhaustion and freed, and then the allocator must
 * serve again within the limit.
 *
 * data_limit_from_the_start: the limit is set before exec instead (a data
 * limit, as `ulimit -d` sets): the allocator boots under it, and the
 * process must still get most of it for its blocks.
 */
#include "robust.h"

#include <sys/resource.h>

#define HEADROOM (2 * MiB)
#define TIGHT_LEFT_MAX (512 * KiB)
enum { MAX_BLOCKS = 40000, FAILS_IN_A_ROW = 64 };

static void *blocks[MAX_BLOCKS];
static size_t sizes[MAX_BLOCKS];

/* The figure of /proc/self/status line key ("VmSize:"), in KiB. */
static long vm_status_kib(const char *key)
{
	char line[256];
	long kib = -1;
	size_t n = strlen(key);
	FILE *f = fopen("/proc/self/status", "r");
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, key, n) == 0)
			kib = strtol(line + n, NULL, 10);
	fclose(f);
	return kib;
}

static long vm_size_kib(void)
{
	return vm_status_kib("VmSize:");
}

/* The largest anonymous mapping the process can still make (to 4 KiB). */
static size_t largest_mappable(void)
{
	size_t lo = 0, hi = HEADROOM * 2;
	while (hi - lo > 4096) {
		size_t mid = ((lo + hi) / 2) & ~(size_t)4095;
		void *p = mmap(NULL, mid, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (p != MAP_FAILED) {
			munmap(p, mid);
			lo = mid;
		} else {
			hi = mid;
		}
	}
	return lo;
}

static size_t request(uint64_t *rng)
{
	uint64_t r = check_rand(rng);
	return r % 2 == 0 ? 16 + (r >> 8) % 497 : 4096 + (r >> 8) % (60 * KiB);
}

static int small_and_medium_until_gone(void)
{
	struct rlimit r;
	uint64_t rng = check_seed();
	size_t n = 0, bytes = 0, small = 0, medium = 0;
	int fails = 0;
	printf("  # capping the address space\n");  /* stdout's buffer now */
	long vsz = vm_size_kib();
	CHECK(vsz > 0 && getrlimit(RLIMIT_AS, &r) == 0);
	rlim_t hard = r.rlim_max;
	r.rlim_cur = (rlim_t)vsz * 1024 + HEADROOM;
	CHECK(setrlimit(RLIMIT_AS, &r) == 0);
	while (fails < FAILS_IN_A_ROW && n < MAX_BLOCKS) {
		size_t s = request(&rng);
		errno = 0;
		unsigned char *p = malloc(s);
		if (p == NULL) {
			CHECK(errno == ENOMEM, "malloc(%zu) failed with errno %d", s,
			    errno);
			fails++;
			continue;
		}
		fails = 0;
		memset(p, (int)(n & 0xff), s);
		blocks[n] = p;
		sizes[n++] = s;
		bytes += s;
		*(s < 4096 ? &small : &medium) += s;
	}
	size_t left = largest_mappable();
	CHECK(n < MAX_BLOCKS, "the limit never came");
	for (size_t i = 0; i < n; i++) {
		CHECK(check_all_bytes(blocks[i], sizes[i], (unsigned char)(i & 0xff)) < 0,
		    "block %zu of %zu bytes changed", i, sizes[i]);
		free(blocks[i]);
	}
	void *again = malloc(40 * KiB), *again2 = malloc(100);
	r.rlim_cur = hard;
	CHECK(setrlimit(RLIMIT_AS, &r) == 0);
	printf("  # %zu KiB in %zu blocks (%zu KiB small, %zu KiB medium) of "
	    "%zu KiB headroom; then %zu KiB could still be mapped\n",
	    bytes >> 10, n, small >> 10, medium >> 10, HEADROOM >> 10,
	    left >> 10);
	CHECK(left < TIGHT_LEFT_MAX, "the allocator refused with %zu KiB of "
	    "address space left", left >> 10);
	CHECK(again != NULL && again2 != NULL, "after freeing everything, "
	    "malloc fails within the limit");
	free(again);
	free(again2);
	return CHECK_OK;
}

/* The program exec'ed by data_limit_from_the_start (argument
 * --data-limited): 1000-byte blocks until malloc fails (with ENOMEM), each
 * checked and freed, then one more must be had; prints the bytes it got
 * and its VmData (KiB) when main began. 0 when all went well. */
static int data_limited_child(void)
{
	long at_start = vm_status_kib("VmData:");
	size_t n = 0;
	int bad = 0;
	for (errno = 0; n < MAX_BLOCKS; n++) {
		blocks[n] = malloc(1000);
		if (blocks[n] == NULL)
			break;
		memset(blocks[n], (int)(n & 0xff), 1000);
	}
	if (n == MAX_BLOCKS || errno != ENOMEM)
		bad = 2;
	for (size_t i = 0; i < n; i++) {
		if (check_all_bytes(blocks[i], 1000, (unsigned char)(i & 0xff)) >= 0)
			bad = 3;
		free(blocks[i]);
	}
	void *again = malloc(1000);
	if (again == NULL)
		bad = 4;
	free(again);
	printf("%zu %ld\n", n * 1000, at_start);
	return bad;
}

/* A process started under a data limit (ulimit -d: RLIMIT_DATA, set before
 * exec, so the allocator boots under it) gets most of it for its blocks:
 * DATA_WANT of DATA_LIMIT (glibc: 7.2 MiB here, basemalloc 5.9 MiB; its
 * bases once took 4 MiB of it for 80 KiB of metadata, and its page map's
 * writable bss and leaves 8.5 MiB and 8 MiB each: it could not even load).
 * And when its main begins the process uses less than DATA_AT_START of it
 * (its own 640 KiB of static arrays included; glibc: 0.9 MiB, basemalloc
 * 2 MiB with the page map's 512 KiB root, 10 MiB with a writable leaf,
 * 5.5 MiB when it mapped a 4 MiB chunk first). */
#define DATA_LIMIT (8 * MiB)
#define DATA_WANT (5 * MiB)
#define DATA_AT_START (3 * MiB)
static int data_limit_from_the_start(void)
{
	int fd[2];
	CHECK(pipe(fd) == 0);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		struct rlimit r;
		dup2(fd[1], 1);
		close(fd[0]);
		close(fd[1]);
		if (getrlimit(RLIMIT_DATA, &r) != 0)
			_exit(10);
		r.rlim_cur = DATA_LIMIT;
		if (setrlimit(RLIMIT_DATA, &r) != 0)
			_exit(10);
		execl("/proc/self/exe", "tight", "--data-limited", (char *)NULL);
		_exit(11);
	}
	close(fd[1]);
	char buf[64];
	size_t len = 0;
	ssize_t k;
	while (len < sizeof(buf) - 1) {
		k = read(fd[0], buf + len, sizeof(buf) - 1 - len);
		if (k > 0)
			len += (size_t)k;
		else if (k == 0 || errno != EINTR)
			break;
	}
	buf[len] = '\0';
	close(fd[0]);
	int st;
	CHECK(waitpid(pid, &st, 0) == pid);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the limited process: "
	    "status 0x%x", st);
	char *end;
	size_t got = strtoull(buf, &end, 10);
	long at_start = strtol(end, NULL, 10);
	printf("  # %zu KiB in 1000-byte blocks under a %zu KiB RLIMIT_DATA set "
	    "before exec; VmData %ld KiB when main began\n", got >> 10,
	    DATA_LIMIT >> 10, at_start);
	CHECK(got >= DATA_WANT, "only %zu KiB of %zu KiB", got >> 10, DATA_LIMIT >> 10);
	CHECK(at_start > 0 && (size_t)at_start * KiB < DATA_AT_START,
	    "VmData %ld KiB before the program allocated", at_start);
	return CHECK_OK;
}

static const struct check_s checks[] = {
	CHECK_ENTRY(small_and_medium_until_gone),
	CHECK_ENTRY(data_limit_from_the_start),
};

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--data-limited") == 0)
		return data_limited_child();
	return check_main(checks, sizeof(checks) / sizeof(checks[0]), argc, argv);
}
