/*
 * fault_cxx.cc: C++ allocation under injected OS failures (fault build
 * preloaded, see fault.c): operator new throws std::bad_alloc, the nothrow
 * forms return nullptr, the new-handler is called and its retry succeeds,
 * containers keep their strong guarantee, and the heap works afterwards.
 */
#include "rel.h"

#include <new>
#include <string>
#include <vector>

static const size_t HUGE_SZ = (size_t)33 << 20;
static int points;

static int inject1(void)
{
	points++;
	return rel_fault_inject(1);
}

/* Hide the pointer from the optimiser so new/delete pairs are kept. */
static void *keep(void *p)
{
	__asm__ volatile("" : "+r"(p));
	return p;
}

static int check_new_throws(void)
{
	if (!check_expect_preload())
		NOT_APPLICABLE("needs the fault build");
	for (int form = 0; form < 4; form++) {
		CHECK(inject1() == 0);
		bool threw = false;
		try {
			void *p;
			switch (form) {
			case 0: p = keep(new char[HUGE_SZ]); delete[] (char *)p; break;
			case 1: p = keep(::operator new(HUGE_SZ)); ::operator delete(p); break;
			case 2: p = keep(::operator new(HUGE_SZ, std::align_val_t(4096)));
				::operator delete(p, std::align_val_t(4096)); break;
			default: p = keep(::operator new[](HUGE_SZ, std::align_val_t(1 << 21)));
				::operator delete[](p, std::align_val_t(1 << 21)); break;
			}
		} catch (const std::bad_alloc &) {
			threw = true;
		}
		CHECK(threw, "form %d did not throw std::bad_alloc", form);
	}
	CHECK(rel_heap_alive());
	printf("  # fault-points %d\n", points);
	return CHECK_OK;
}

static int check_nothrow_null(void)
{
	if (!check_expect_preload())
		NOT_APPLICABLE("needs the fault build");
	CHECK(inject1() == 0);
	CHECK(keep(new (std::nothrow) char[HUGE_SZ]) == nullptr);
	CHECK(inject1() == 0);
	CHECK(keep(::operator new(HUGE_SZ, std::nothrow)) == nullptr);
	CHECK(inject1() == 0);
	CHECK(keep(::operator new(HUGE_SZ, std::align_val_t(8192), std::nothrow)) == nullptr);
	void *p = keep(new (std::nothrow) char[HUGE_SZ]);
	CHECK(p != nullptr, "nothrow new after the fault");
	delete[] (char *)p;
	CHECK(rel_heap_alive());
	printf("  # fault-points %d\n", points);
	return CHECK_OK;
}

static int handler_calls;
static void count_handler(void)
{
	handler_calls++;
}

/* The handler runs once, the retry finds the maps working again. */
static int check_new_handler_retry(void)
{
	if (!check_expect_preload())
		NOT_APPLICABLE("needs the fault build");
	std::set_new_handler(count_handler);
	CHECK(inject1() == 0);
	char *p = (char *)keep(new char[HUGE_SZ]);
	std::set_new_handler(nullptr);
	CHECK(handler_calls == 1, "new-handler called %d times", handler_calls);
	p[0] = 1;
	p[HUGE_SZ - 1] = 2;
	delete[] p;
	printf("  # fault-points %d\n", points);
	return CHECK_OK;
}

/* A vector that cannot grow throws and keeps its elements. */
static int check_container_strong(void)
{
	if (!check_expect_preload())
		NOT_APPLICABLE("needs the fault build");
	std::vector<uint64_t> v;
	for (uint64_t i = 0; i < 1000; i++)
		v.push_back(i * 7);
	std::string s(100000, 'x');
	CHECK(inject1() == 0);
	bool threw = false;
	try {
		v.reserve(HUGE_SZ / sizeof(uint64_t));
	} catch (const std::bad_alloc &) {
		threw = true;
	}
	CHECK(threw, "reserve did not throw");
	CHECK(v.size() == 1000);
	for (uint64_t i = 0; i < 1000; i++)
		CHECK(v[i] == i * 7, "element %lu changed", (unsigned long)i);
	CHECK(inject1() == 0);
	threw = false;
	try {
		s.reserve(HUGE_SZ);
	} catch (const std::bad_alloc &) {
		threw = true;
	}
	CHECK(threw && s.size() == 100000 && s[99999] == 'x');
	v.reserve(HUGE_SZ / sizeof(uint64_t));
	CHECK(v.capacity() >= HUGE_SZ / sizeof(uint64_t) && v[999] == 999 * 7);
	CHECK(rel_heap_alive());
	printf("  # fault-points %d\n", points);
	return CHECK_OK;
}

int main(int argc, char **argv)
{
	static const struct check_s checks[] = {
		CHECK_ENTRY(check_new_throws),
		CHECK_ENTRY(check_nothrow_null),
		CHECK_ENTRY(check_new_handler_retry),
		CHECK_ENTRY(check_container_strong),
	};
	return check_main(checks, sizeof(checks) / sizeof(checks[0]), argc, argv);
}
