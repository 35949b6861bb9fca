# sqlite3: a large transaction into a file database, indexes, joins,
# aggregates, window functions, then PRAGMA integrity_check.
cd "$1" || exit 1
sqlite3 test.db <<'SQL'
PRAGMA journal_mode=WAL;
BEGIN;
CREATE TABLE t (id INTEGER PRIMARY KEY, k INTEGER, name TEXT, payload BLOB);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000)
INSERT INTO t SELECT i, (i * 7919) % 10007, 'name' || (i % 1000), zeroblob(i % 300) FROM n;
CREATE INDEX t_k ON t(k);
CREATE TABLE u AS SELECT k, count(*) AS c, sum(length(payload)) AS s FROM t GROUP BY k;
COMMIT;
SELECT count(*), sum(k), count(DISTINCT name) FROM t;
SELECT k, c, s FROM u ORDER BY c DESC, k LIMIT 5;
SELECT count(*) FROM t JOIN u USING (k) WHERE u.c > 9;
SELECT name, rank() OVER (ORDER BY sum(k) DESC) FROM t GROUP BY name ORDER BY 2 LIMIT 3;
UPDATE t SET name = upper(name) WHERE id % 3 = 0;
DELETE FROM t WHERE id % 7 = 0;
VACUUM;
SELECT count(*), count(DISTINCT name) FROM t;
PRAGMA integrity_check;
SQL
