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
 */
#include "robust.h"

#include <sys/resource.h>

#define HEADROOM (2 * MiB)
#define TIGHT_LEFT_MAX (512 * KiB)
enum { MAX_BLOCKS = 40000, FAILS_IN_A_ROW = 64 };

static void *blocks[MAX_BLOCKS];
static size_t sizes[MAX_BLOCKS];

static long vm_size_kib(void)
{
	char line[256];
	long kib = -1;
	FILE *f = fopen("/proc/self/status", "r");
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "VmSize:", 7) == 0)
			kib = strtol(line + 7, NULL, 10);
	fclose(f);
	return kib;
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

static const struct check_s checks[] = {
	CHECK_ENTRY(small_and_medium_until_gone),
};

int main(int argc, char **argv)
{
	return check_main(checks, sizeof(checks) / sizeof(checks[0]), argc, argv);
}
