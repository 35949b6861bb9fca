/*
 * harden_cxx.cc: the C++ modes of test/harden (same protocol as harden.c):
 * sized delete with a size the block cannot have, and delete through a
 * pointer to a base class without a virtual destructor (the compiler passes
 * the base's size to sized delete: a size of the same class as the
 * object's, but not the one it was allocated with).
 */
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>

static void *launder(void *p)
{
	__asm__ volatile("" : "+r"(p));
	return p;
}

static void say_addr(const void *p)
{
	std::printf("ADDR %p\n", p);
}

static int survived()
{
	std::printf("CHECK\n");
	for (int i = 0; i < 1000; i++) {
		char *a = new char[100], *b = new char[3000];
		std::memset(a, 1, 100);
		std::memset(b, 2, 3000);
		if (a[99] != 1 || b[0] != 2) {
			std::printf("BROKEN blocks overlap after the error\n");
			return 1;
		}
		delete[] a;
		delete[] b;
	}
	std::printf("SURVIVED\n");
	return 0;
}

static int mode_delete_sized_wrong()
{
	void *p = ::operator new(100);
	say_addr(p);
	::operator delete(launder(p), 1000);
	return survived();
}

struct Base {
	std::uint64_t a, b, c;             /* 24 bytes */
	~Base() {}
};

struct Derived : Base {
	std::uint64_t d;                   /* 32 bytes: the same 32-byte class */
};

static int mode_delete_wrong_type()
{
	Derived *d = new Derived();
	Base *b = static_cast<Base *>(launder(d));
	say_addr(b);
	delete b;                          /* operator delete(b, 24) */
	return survived();
}

int main(int argc, char **argv)
{
	const char *m = argc > 1 ? argv[1] : "";
	std::setvbuf(stdout, nullptr, _IONBF, 0);
	std::free(std::malloc(1));
	if (std::strcmp(m, "list") == 0) {
		std::printf("delete_sized_wrong\ndelete_wrong_type\n");
		return 0;
	}
	if (std::strcmp(m, "delete_sized_wrong") == 0)
		return mode_delete_sized_wrong();
	if (std::strcmp(m, "delete_wrong_type") == 0)
		return mode_delete_wrong_type();
	std::printf("unknown mode '%s'\n", m);
	return 2;
}
