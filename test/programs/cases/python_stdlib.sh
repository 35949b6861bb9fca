# python3 -c: a one-liner-style script over the standard library (sqlite3,
# json, re, decimal, fractions, collections, hashlib, zlib, itertools).
cd "$1" || exit 1
python3 -c '
import sqlite3, json, re, decimal, fractions, collections, hashlib, zlib, itertools, statistics
decimal.getcontext().prec = 60
print("pi-ish", sum(decimal.Decimal(1) / decimal.Decimal(16) ** k * (decimal.Decimal(4) / (8 * k + 1) - decimal.Decimal(2) / (8 * k + 4) - decimal.Decimal(1) / (8 * k + 5) - decimal.Decimal(1) / (8 * k + 6)) for k in range(60)))
print("harmonic", sum(fractions.Fraction(1, n) for n in range(1, 300)).limit_denominator(10**12))
db = sqlite3.connect(":memory:")
db.execute("create table t (k integer primary key, v text)")
db.executemany("insert into t values (?, ?)", ((i, "v%d" % (i * i % 9973)) for i in range(100000)))
print("sqlite", db.execute("select count(*), count(distinct v), max(v) from t").fetchone())
c = collections.Counter(re.findall(r"[a-z]+", json.dumps([str(i) + "abc"[i % 3] * (i % 7) for i in range(100000)])))
print("counter", c.most_common(3))
data = json.dumps({str(i): list(range(i % 50)) for i in range(20000)}).encode()
z = zlib.compress(data, 9)
assert zlib.decompress(z) == data
print("zlib", len(data), len(z), hashlib.sha1(data).hexdigest())
print("perms", sum(1 for p in itertools.permutations(range(9)) if p[0] < p[-1]))
print("stats", statistics.median(i * 37 % 1001 for i in range(100001)))
'
