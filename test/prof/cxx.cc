// cxx.cc: a C++ program for the heap profiler: fill_strings keeps a
// std::vector of std::string (operator new through the vector's growth),
// build_tree keeps nodes made with new; the dump it writes while both are
// live (argument 1, through bm_ctl) names both.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

extern "C" int bm_ctl(const char *, void *, size_t *, void *, size_t)
    __attribute__((weak));

struct Node {
	std::unique_ptr<Node> left, right;
	char payload[200];
};

__attribute__((noinline)) static std::unique_ptr<Node> build_tree(int depth) {
	auto n = std::make_unique<Node>();
	n->payload[0] = static_cast<char>(depth);
	if (depth > 0) {
		n->left = build_tree(depth - 1);
		n->right = build_tree(depth - 1);
	}
	return n;
}

__attribute__((noinline)) static std::vector<std::string> fill_strings(int n) {
	std::vector<std::string> v;
	for (int i = 0; i < n; i++)
		v.push_back(std::string(300 + i % 700, 'x'));
	return v;
}

int main(int argc, char **argv) {
	auto tree = build_tree(16);                // 131071 nodes, ~28 MiB
	auto strings = fill_strings(60000);        // ~39 MiB of characters
	std::printf("%zu %d\n", strings.size(), tree->payload[0]);
	const char *path = argc > 1 ? argv[1] : nullptr;
	return bm_ctl != nullptr && path != nullptr &&
	    bm_ctl("prof.dump", nullptr, nullptr, &path, sizeof(path)) == 0 ? 0 : 1;
}
