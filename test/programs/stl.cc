// stl.cc: an allocation-heavy C++ program for test/programs (map,
// unordered_map, vector, string, shared_ptr, list, threads). Its output is
// deterministic: each thread's result is combined in thread order.
#include <cstdint>
#include <cstdio>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

struct Node {
	std::string name;
	std::vector<std::shared_ptr<Node>> children;
	explicit Node(std::string n) : name(std::move(n)) {}
};

static uint64_t step(uint64_t &x)
{
	x = x * 6364136223846793005ULL + 1442695040888963407ULL;
	return x >> 33;
}

static uint64_t work(unsigned id)
{
	uint64_t x = 1000 + id, h = 0;
	std::unordered_map<std::string, std::vector<int>> um;
	std::map<uint64_t, std::string> m;
	for (int i = 0; i < 200000; i++) {
		uint64_t r = step(x);
		std::string k = "k" + std::to_string(r % 20000);
		um[k].push_back(i);
		if (i % 4 == 0)
			m.emplace(r, std::string(r % 300, 'a' + r % 26));
		if (i % 7 == 0 && !m.empty())
			m.erase(m.begin());
	}
	for (auto &kv : um)
		h += kv.first.size() * kv.second.size();
	for (auto &kv : m)
		h = h * 31 + kv.second.size();
	auto root = std::make_shared<Node>("root");
	std::vector<std::shared_ptr<Node>> all{root};
	for (int i = 0; i < 50000; i++) {
		auto n = std::make_shared<Node>("n" + std::to_string(i));
		all[step(x) % all.size()]->children.push_back(n);
		all.push_back(n);
	}
	size_t edges = 0;
	for (auto &n : all)
		edges += n->children.size();
	h = h * 131 + edges;
	std::list<std::string> l;
	for (int i = 0; i < 100000; i++) {
		l.push_back(std::string(i % 100, 'x'));
		if (i % 3 == 0)
			l.pop_front();
	}
	return h * 7 + l.size();
}

int main()
{
	const unsigned n = 4;
	std::vector<uint64_t> results(n);
	std::vector<std::thread> threads;
	std::mutex mu;
	std::vector<std::string> shared;
	for (unsigned t = 0; t < n; t++)
		threads.emplace_back([t, &results, &mu, &shared] {
			results[t] = work(t);
			std::lock_guard<std::mutex> g(mu);
			shared.push_back(std::string(1000 * (t + 1), 'z'));
		});
	for (auto &th : threads)
		th.join();
	size_t total = 0;
	for (auto &s : shared)
		total += s.size();
	for (unsigned t = 0; t < n; t++)
		std::printf("thread %u: %llu\n", t, (unsigned long long)results[t]);
	std::printf("shared %zu\n", total);
	std::string big;
	for (int i = 0; i < 100000; i++)
		big += std::to_string(i);
	std::printf("big %zu\n", big.size());
	return 0;
}
