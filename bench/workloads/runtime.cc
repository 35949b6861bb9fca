/*
 * runtime: a mixed workload that imitates a language runtime (a Python or
 * Ruby web worker): each request builds records as dict-like hash tables
 * (std::unordered_map) of string keys to reference-counted values (strings,
 * integers, lists), concatenates strings, serialises the records into one
 * growing string and drops them; one record in twenty is kept in a bounded
 * long-lived cache that evicts the oldest, so short- and long-lived objects
 * interleave. Uses operator new/delete. Each of THREADS workers is its own
 * interpreter; SCALE multiplies the requests.
 */
#include "common.h"

#include <deque>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace {

struct Value;
using Ref = std::shared_ptr<Value>;
using Dict = std::unordered_map<std::string, Ref>;

struct Value {
	int kind;		/* 0 int, 1 string, 2 list */
	long i;
	std::string s;
	std::vector<Ref> list;
};

const size_t cache_max = 20000;

std::string rt_word(bench_rng_t *r, size_t len)
{
	std::string w;
	for (size_t k = 0; k < len; k++)
		w.push_back((char)('a' + bench_rng_next(r) % 26));
	return w;
}

Ref rt_value(bench_rng_t *r, int depth)
{
	auto v = std::make_shared<Value>();
	uint64_t pick = bench_rng_next(r) % 10;
	if (pick < 4) {
		v->kind = 0;
		v->i = (long)(bench_rng_next(r) % 100000);
	} else if (pick < 9 || depth > 0) {
		v->kind = 1;
		v->s = rt_word(r, bench_rng_range(r, 16, 120));
	} else {
		v->kind = 2;
		size_t n = bench_rng_range(r, 2, 12);
		for (size_t k = 0; k < n; k++)
			v->list.push_back(rt_value(r, depth + 1));
	}
	return v;
}

std::unique_ptr<Dict> rt_record(bench_rng_t *r)
{
	std::unique_ptr<Dict> d(new Dict());
	size_t fields = bench_rng_range(r, 4, 24);
	for (size_t f = 0; f < fields; f++) {
		std::string key = "field_" + std::to_string(f) + "_" +
		    rt_word(r, bench_rng_range(r, 4, 20));
		(*d)[key] = rt_value(r, 0);
	}
	return d;
}

void rt_dump(const Ref &v, std::string *out)
{
	if (v->kind == 0) {
		*out += std::to_string(v->i);
	} else if (v->kind == 1) {
		*out += '"';
		*out += v->s;
		*out += '"';
	} else {
		*out += '[';
		for (const Ref &x : v->list) {
			rt_dump(x, out);
			*out += ',';
		}
		*out += ']';
	}
}

uint64_t rt_request(bench_rng_t *r, std::deque<std::unique_ptr<Dict>> *cache)
{
	std::vector<std::unique_ptr<Dict>> records;
	size_t n = bench_rng_range(r, 10, 60);
	for (size_t k = 0; k < n; k++)
		records.push_back(rt_record(r));
	std::string out;
	for (auto &rec : records)
		for (auto &kv : *rec) {
			out += kv.first;
			out += ':';
			rt_dump(kv.second, &out);
			out += ';';
		}
	uint64_t sum = out.size();
	for (auto &rec : records)
		if (bench_rng_next(r) % 20 == 0) {
			cache->push_back(std::move(rec));
			if (cache->size() > cache_max)
				cache->pop_front();
		}
	return sum;
}

void *rt_worker(void *arg)
{
	bench_job *j = (bench_job *)arg;
	bench_rng_t r;
	bench_rng_seed(&r, j->seed);
	std::deque<std::unique_ptr<Dict>> cache;
	for (size_t i = 0; i < j->n; i++)
		j->sum += rt_request(&r, &cache);
	j->sum += cache.size();
	return nullptr;
}

}  // namespace

int main(int argc, char **argv)
{
	return bench_jobs_main(argc, argv, 2, 6000, 10, 900, rt_worker);
}
