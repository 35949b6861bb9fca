/*
 * cxx.cc: C++ behaviours of snmalloc's func tests (multi_threadatexit,
 * teardown, new, aligned_dealloc) and mimalloc's test-api (c++
 * new-handler), written anew: a thread's many thread_local destructors
 * allocate and free while the thread exits, after the allocator's own
 * thread-exit hook; a pthread key destructor allocates after it too; every
 * operator new/delete form; a new-handler that throws. Run on glibc and
 * under the preload.
 */
#include "conf.h"

#include <atomic>
#include <new>
#include <pthread.h>
#include <utility>

static std::atomic<long> dtor_runs, dtor_failures;

/* A thread_local whose destructor allocates, writes and frees. */
struct exit_alloc {
	void *keep = nullptr;
	exit_alloc() { keep = malloc(24); }
	~exit_alloc()
	{
		unsigned char *p = (unsigned char *)malloc(100 + dtor_runs % 900);
		if (p == nullptr || keep == nullptr)
			dtor_failures++;
		else
			memset(p, 0x77, 100);
		free(p);
		free(keep);
		dtor_runs++;
	}
};

template <size_t I> static exit_alloc &slot()
{
	static thread_local exit_alloc obj;
	return obj;
}

template <size_t... I> static void touch_all(std::index_sequence<I...>)
{
	((void)slot<I>(), ...);
}

enum { N_TLS = 600 };

static void *tls_thread(void *)
{
	touch_all(std::make_index_sequence<N_TLS>{});
	return nullptr;
}

/* multi_threadatexit, teardown: 600 thread_local objects (each registered
 * with a calloc'ed record) whose destructors allocate while the thread
 * exits; all run, all allocations succeed, and under the preload the
 * exited threads leave no arenas behind. */
static int thread_local_destructors_allocate(void)
{
	for (int t = 0; t < 20; t++) {
		pthread_t th;
		CHECK(pthread_create(&th, nullptr, tls_thread, nullptr) == 0);
		pthread_join(th, nullptr);
	}
	CHECK(dtor_runs == 20L * N_TLS, "%ld destructors ran", (long)dtor_runs);
	CHECK(dtor_failures == 0);
	if (conf_preloaded()) {
		long n = conf_ctl_unsigned("arenas.in_use");
		CHECK(n >= 0 && n <= 2, "%ld arenas in use after the threads exited", n);
	}
	return CHECK_OK;
}

static pthread_key_t late_key;
static void *late_blocks[200];

static void late_dtor(void *v)
{
	intptr_t i = (intptr_t)v;
	unsigned char *p = (unsigned char *)malloc(5000);
	if (p != nullptr)
		memset(p, (int)i, 5000);
	late_blocks[i] = p;
}

static void *late_thread(void *v)
{
	void *warm = malloc(64);
	free(warm);
	pthread_setspecific(late_key, v);
	return nullptr;
}

/* A key created after the allocator's own has its destructor run after the
 * allocator's thread-exit hook; it allocates there, and the main thread
 * later frees what it allocated. */
static int allocation_after_thread_exit_hook(void)
{
	CHECK(pthread_key_create(&late_key, late_dtor) == 0);
	for (intptr_t i = 1; i < 200; i++) {
		pthread_t th;
		CHECK(pthread_create(&th, nullptr, late_thread, (void *)i) == 0);
		pthread_join(th, nullptr);
	}
	for (int i = 1; i < 200; i++) {
		CHECK(late_blocks[i] != nullptr && check_all_bytes(late_blocks[i], 5000, (unsigned char)i) < 0);
		free(late_blocks[i]);
	}
	if (conf_preloaded()) {
		long n = conf_ctl_unsigned("arenas.narenas");
		CHECK(n >= 1 && n <= 3, "%ld arenas for one thread at a time", n);
	}
	return CHECK_OK;
}

static volatile size_t v_huge = (size_t)-1;

/* snmalloc func/new: every delete form takes nullptr; new(0) is a block;
 * an impossible new throws bad_alloc and its nothrow form returns nullptr;
 * sized and aligned forms for alignments 8 to 4096. */
static int operator_new_delete_forms(void)
{
	const std::align_val_t page{4096};
	operator delete(nullptr, (size_t)42);
	operator delete(nullptr, std::nothrow);
	operator delete(nullptr, (size_t)42, page);
	operator delete(nullptr, page);
	operator delete(nullptr, page, std::nothrow);
	operator delete[](nullptr);
	operator delete[](nullptr, (size_t)42);
	operator delete[](nullptr, std::nothrow);
	operator delete[](nullptr, page);
	operator delete[](nullptr, (size_t)42, page);
	operator delete[](nullptr, page, std::nothrow);
	void *p = operator new(0);
	CHECK(p != nullptr);
	operator delete(p);
	bool threw = false;
	try {
		p = operator new(v_huge);
	} catch (std::bad_alloc &) {
		threw = true;
	}
	CHECK(threw, "operator new(SIZE_MAX) did not throw");
	CHECK(operator new(v_huge, std::nothrow) == nullptr);
	/* SIZE_MAX / 2: libstdc++ 12 rounds an aligned size up to the
	 * alignment, and SIZE_MAX wraps to 0 there (a block on glibc) */
	CHECK(operator new[](v_huge / 2, page, std::nothrow) == nullptr);
	for (size_t a = 8; a <= 4096; a *= 2) {
		std::align_val_t al{a};
		p = operator new(42, al);
		CHECK(conf_aligned(p, a) && malloc_usable_size(p) >= 42);
		operator delete(p, al);
		p = operator new[](0, al);
		CHECK(p != nullptr && conf_aligned(p, a));
		operator delete[](p, al);
		p = operator new(42, al);
		operator delete(p, (size_t)42, al);
	}
	p = operator new(42);
	operator delete(p, (size_t)42);
	return CHECK_OK;
}

/* snmalloc func/aligned_dealloc: an alignment far above the size still
 * gives a block of at least the size, freed by the sized aligned delete. */
static int aligned_new_sized_delete(void)
{
	static const size_t cases[][2] = {
		{ 33 * KiB, 128 * KiB }, { 48, 64 * KiB }, { 17 * KiB, 256 * KiB },
		{ 64 * KiB, 64 * KiB }, { 32, 32 },
	};
	for (int i = 0; i < 5; i++) {
		std::align_val_t al{cases[i][1]};
		void *p = operator new(cases[i][0], al);
		CHECK(conf_aligned(p, cases[i][1]) && malloc_usable_size(p) >= cases[i][0]);
		memset(p, 1, cases[i][0]);
		operator delete(p, cases[i][0], al);
	}
	return CHECK_OK;
}

/* mimalloc test-api "c++ new-handler": with a new-handler that throws
 * bad_alloc, the nothrow new of an impossible size returns nullptr (the
 * nothrow form catches what the handler throws) and the throwing form
 * throws. */
static int new_handler_that_throws(void)
{
	std::set_new_handler([] { throw std::bad_alloc(); });
	CHECK(operator new(v_huge / 2, std::nothrow) == nullptr);
	CHECK(operator new[](v_huge / 2, std::align_val_t{64}, std::nothrow) == nullptr);
	bool threw = false;
	try {
		void *p = operator new[](v_huge / 2);
		operator delete[](p);
	} catch (std::bad_alloc &) {
		threw = true;
	}
	CHECK(threw);
	std::set_new_handler(nullptr);
	return CHECK_OK;
}

static const struct check_s checks[] = {
	CHECK_ENTRY(thread_local_destructors_allocate),
	CHECK_ENTRY(allocation_after_thread_exit_hook),
	CHECK_ENTRY(operator_new_delete_forms),
	CHECK_ENTRY(aligned_new_sized_delete),
	CHECK_ENTRY(new_handler_that_throws),
};

int main(int argc, char **argv)
{
	return check_main(checks, sizeof(checks) / sizeof(checks[0]), argc, argv);
}
