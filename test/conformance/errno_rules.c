/*
 * errno_rules.c: errno after failures, as glibc 2.36 leaves it (issue 9):
 *  - posix_memalign_enomem_errno: glibc's posix_memalign that returns ENOMEM
 *    also leaves errno ENOMEM (its EINVAL leaves errno alone).
 *  - free_keeps_errno_when_munmap_fails (tst-free-errno): with the process
 *    at vm.max_map_count, freeing a huge block whose munmap would split a
 *    VMA must not change errno.
 */
#include "conf.h"

#include <fcntl.h>
#include <sys/mman.h>

static int posix_memalign_enomem_errno(void)
{
	void *p = &p;
	conf_set_errno(0);
	int r = posix_memalign(&p, 8, conf_opaque(SIZE_MAX));
	CHECK(r == ENOMEM && p == &p);
	CHECK(conf_errno() == ENOMEM, "errno %d after posix_memalign failed with ENOMEM", errno);
	conf_set_errno(0);
	r = posix_memalign(&p, 3, 8);
	CHECK(r == EINVAL && conf_errno() == 0, "errno %d after EINVAL", errno);
	return CHECK_OK;
}

static int free_keeps_errno_when_munmap_fails(void)
{
	enum { N = 8 };
	void *huge[N];
	for (int i = 0; i < N; i++) {
		huge[i] = malloc(40 * MiB);
		CHECK(huge[i] != NULL);
		memset(huge[i], 1, 4096);
	}
	conf_set_errno(1789);
	free(NULL);
	CHECK(conf_errno() == 1789);
	char path[] = "/tmp/bm-free-errno-XXXXXX";
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	unlink(path);
	CHECK(ftruncate(fd, 4096) == 0);
	int n = 0;
	while (n < 70000 && mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0) != MAP_FAILED)
		n++;
	CHECK(n < 70000, "could not reach the map count limit");
	/* every other huge block: its neighbours keep its VMA merged with them */
	for (int i = 1; i < N; i += 2) {
		conf_set_errno(1789);
		free(huge[i]);
		CHECK(conf_errno() == 1789, "free changed errno to %d at the map limit", errno);
	}
	return CHECK_OK;
}

static const struct check_s checks[] = {
	CHECK_ENTRY(posix_memalign_enomem_errno),
	CHECK_ENTRY(free_keeps_errno_when_munmap_fails),
};

int main(int argc, char **argv)
{
	return check_main(checks, sizeof(checks) / sizeof(checks[0]), argc, argv);
}
