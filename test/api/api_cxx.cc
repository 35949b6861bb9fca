/*
 * api_cxx.cc: every C++ operator new/delete form under LD_PRELOAD (plain,
 * nothrow, sized, align_val_t, arrays), run by test/api/run. An impossible
 * size makes the throwing forms throw std::bad_alloc and the nothrow forms
 * return NULL; aligned forms honour every alignment up to 1 MiB.
 */
#include "check.h"

#include <cstdint>
#include <malloc.h>
#include <map>
#include <memory>
#include <new>
#include <string>
#include <vector>

static volatile size_t v_huge = SIZE_MAX / 2;

static const size_t sizes[] = { 1, 16, 100, 1000, 5000, 100 * 1024, 4 << 20 };

static bool usable(void *p, size_t n, size_t align)
{
	if (p == nullptr || (reinterpret_cast<uintptr_t>(p) & (align - 1)) != 0)
		return false;
	memset(p, 0x5c, n);
	return malloc_usable_size(p) >= n;
}

static int new_delete_plain(void)
{
	for (size_t n : sizes) {
		void *p = operator new(n);
		CHECK(usable(p, n, 16), "operator new(%zu) = %p", n, p);
		operator delete(p);
		p = operator new[](n);
		CHECK(usable(p, n, 16), "operator new[](%zu) = %p", n, p);
		operator delete[](p);
	}
	return CHECK_OK;
}

static int new_delete_sized(void)
{
	for (size_t n : sizes) {
		void *p = operator new(n);
		CHECK(usable(p, n, 16));
		operator delete(p, n);
		p = operator new[](n);
		CHECK(usable(p, n, 16));
		operator delete[](p, n);
	}
	return CHECK_OK;
}

static int new_delete_nothrow(void)
{
	for (size_t n : sizes) {
		void *p = operator new(n, std::nothrow);
		CHECK(usable(p, n, 16), "operator new(%zu, nothrow) = %p", n, p);
		operator delete(p, std::nothrow);
		p = operator new[](n, std::nothrow);
		CHECK(usable(p, n, 16), "operator new[](%zu, nothrow) = %p", n, p);
		operator delete[](p, std::nothrow);
	}
	return CHECK_OK;
}

static int new_delete_aligned(void)
{
	for (size_t a = 1; a <= (1 << 20); a <<= 1) {
		std::align_val_t al = static_cast<std::align_val_t>(a);
		for (size_t n : sizes) {
			void *p = operator new(n, al);
			CHECK(usable(p, n, a), "operator new(%zu, align %zu) = %p", n, a, p);
			operator delete(p, al);
			p = operator new[](n, al);
			CHECK(usable(p, n, a), "operator new[](%zu, align %zu) = %p", n, a, p);
			operator delete[](p, al);
			p = operator new(n, al, std::nothrow);
			CHECK(usable(p, n, a), "operator new(%zu, align %zu, nothrow) = %p", n, a, p);
			operator delete(p, al, std::nothrow);
			p = operator new[](n, al, std::nothrow);
			CHECK(usable(p, n, a), "operator new[](%zu, align %zu, nothrow)", n, a);
			operator delete[](p, al, std::nothrow);
			p = operator new(n, al);
			CHECK(usable(p, n, a));
			operator delete(p, n, al);
			p = operator new[](n, al);
			CHECK(usable(p, n, a));
			operator delete[](p, n, al);
		}
	}
	return CHECK_OK;
}

static int new_impossible_throws(void)
{
	int thrown = 0;
	try {
		void *p = operator new(v_huge);
		printf("  # operator new(huge) returned %p\n", p);
	} catch (const std::bad_alloc &) {
		thrown++;
	}
	try {
		void *p = operator new[](v_huge);
		printf("  # operator new[](huge) returned %p\n", p);
	} catch (const std::bad_alloc &) {
		thrown++;
	}
	try {
		void *p = operator new(v_huge, std::align_val_t(64));
		printf("  # operator new(huge, align) returned %p\n", p);
	} catch (const std::bad_alloc &) {
		thrown++;
	}
	try {
		void *p = operator new[](v_huge, std::align_val_t(4096));
		printf("  # operator new[](huge, align) returned %p\n", p);
	} catch (const std::bad_alloc &) {
		thrown++;
	}
	CHECK(thrown == 4, "%d of 4 forms threw std::bad_alloc", thrown);
	return CHECK_OK;
}

static int new_impossible_nothrow_null(void)
{
	CHECK(operator new(v_huge, std::nothrow) == nullptr);
	CHECK(operator new[](v_huge, std::nothrow) == nullptr);
	CHECK(operator new(v_huge, std::align_val_t(64), std::nothrow) == nullptr);
	CHECK(operator new[](v_huge, std::align_val_t(4096), std::nothrow) == nullptr);
	return CHECK_OK;
}

struct alignas(256) Wide {
	unsigned char bytes[300];
};

static int new_expressions(void)
{
	std::vector<std::unique_ptr<Wide>> wides;
	for (int i = 0; i < 1000; i++) {
		wides.emplace_back(new Wide());
		CHECK((reinterpret_cast<uintptr_t>(wides.back().get()) & 255) == 0);
		memset(wides.back()->bytes, i & 0xff, sizeof(Wide::bytes));
	}
	Wide *arr = new Wide[17];
	CHECK((reinterpret_cast<uintptr_t>(arr) & 255) == 0);
	delete[] arr;
	std::map<std::string, std::vector<int>> m;
	for (int i = 0; i < 20000; i++)
		m[std::to_string(i * 7919 % 10007)].push_back(i);
	long sum = 0;
	for (auto &kv : m)
		for (int v : kv.second)
			sum += v;
	CHECK(sum == 19999L * 20000 / 2, "sum %ld", sum);
	for (int i = 0; i < 1000; i++)
		CHECK(wides[i]->bytes[299] == (i & 0xff));
	auto sp = std::make_shared<std::string>(100000, 'x');
	std::shared_ptr<std::string> sp2 = sp;
	CHECK(sp2->size() == 100000 && sp.use_count() == 2);
	return CHECK_OK;
}

/* Under the preload, every operator resolves to the library, except the
 * nothrow forms of operator new: the C++ runtime's call ours inside a catch
 * (a new-handler may throw, and C code cannot catch). */
static int operators_resolve_to_library(void)
{
	static const char *names[] = {
		"_Znwm", "_Znam", "_ZdlPv", "_ZdaPv", "_ZdlPvm", "_ZdaPvm",
		"_ZdlPvRKSt9nothrow_t", "_ZdaPvRKSt9nothrow_t",
		"_ZnwmSt11align_val_t", "_ZnamSt11align_val_t",
		"_ZdlPvSt11align_val_t", "_ZdaPvSt11align_val_t",
		"_ZdlPvSt11align_val_tRKSt9nothrow_t", "_ZdaPvSt11align_val_tRKSt9nothrow_t",
		"_ZdlPvmSt11align_val_t", "_ZdaPvmSt11align_val_t",
	};
	if (!check_expect_preload())
		NOT_APPLICABLE("running under glibc (BM_LIB empty)");
	for (const char *name : names) {
		const char *owner = check_symbol_owner(name);
		CHECK(strstr(owner, "libbasemalloc") != nullptr, "%s resolves to '%s'", name, owner);
	}
	return CHECK_OK;
}

static const struct check_s checks[] = {
	CHECK_ENTRY(operators_resolve_to_library),
	CHECK_ENTRY(new_delete_plain),
	CHECK_ENTRY(new_delete_sized),
	CHECK_ENTRY(new_delete_nothrow),
	CHECK_ENTRY(new_delete_aligned),
	CHECK_ENTRY(new_impossible_throws),
	CHECK_ENTRY(new_impossible_nothrow_null),
	CHECK_ENTRY(new_expressions),
};

int main(int argc, char **argv)
{
	return check_main(checks, sizeof(checks) / sizeof(checks[0]), argc, argv);
}
