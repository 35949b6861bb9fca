"""Allocation-heavy Python workload for bench/run (real-program workload).

Imitates what Python services do to the allocator: builds many small dicts,
lists, tuples and strings, serialises them to JSON and back, sorts and
groups, keeps a bounded cache of long-lived objects and drops the rest.
Usage: alloc.py [SCALE]. Prints one line `checksum=HEX` that depends only
on the work done (crc32, never hash(), which is randomised per process).
"""
import json
import sys
import zlib
from collections import deque


def make_record(rng, i):
    name = "user-%d-%s" % (i, "x" * (rng.next() % 40))
    tags = ["tag%d" % (rng.next() % 1000) for _ in range(rng.next() % 8)]
    return {
        "id": i,
        "name": name,
        "score": rng.next() % 10000 / 7.0,
        "tags": tags,
        "pos": (rng.next() % 1000, rng.next() % 1000),
        "blob": "%x" % rng.next() * (1 + rng.next() % 6),
    }


class Rng:
    """Deterministic xorshift, so the work is the same under every allocator."""

    def __init__(self, seed):
        self.s = seed or 1

    def next(self):
        x = self.s
        x ^= (x << 13) & 0xFFFFFFFFFFFFFFFF
        x ^= x >> 7
        x ^= (x << 17) & 0xFFFFFFFFFFFFFFFF
        self.s = x
        return x


def batch(rng, start, n, cache, crc):
    records = [make_record(rng, start + k) for k in range(n)]
    text = json.dumps(records)
    back = json.loads(text)
    back.sort(key=lambda r: (r["score"], r["id"]))
    groups = {}
    for r in back:
        for t in r["tags"]:
            groups.setdefault(t, []).append(r["id"])
    crc = zlib.crc32(text.encode(), crc)
    crc = zlib.crc32(repr(sorted((k, len(v)) for k, v in groups.items())).encode(), crc)
    for r in back[:: 16]:
        cache.append(r)
    return crc


def main():
    scale = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
    batches = max(2, int(100 * scale))
    rng = Rng(12345)
    cache = deque(maxlen=50000)
    crc = 0
    for b in range(batches):
        crc = batch(rng, b * 1000, 1000, cache, crc)
    crc = zlib.crc32(str(len(cache)).encode(), crc)
    print("checksum=%08x" % crc)


main()
