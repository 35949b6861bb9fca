-- Large-transaction SQLite workload for bench/run (real-program workload).
-- Run as: sqlite3 :memory: ".parameter set @n N" ".read tx.sql"
-- One transaction inserts @n rows with text of varied length, builds two
-- indexes, updates a third of the rows to longer text, deletes a quarter,
-- then aggregates. The in-memory database lives in SQLite's page cache,
-- which SQLite allocates with malloc. Prints one line `checksum=N`.
PRAGMA cache_size = -1000000;
BEGIN;
CREATE TABLE t(id INTEGER PRIMARY KEY, k INTEGER, name TEXT, body TEXT);
WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < @n)
INSERT INTO t(id, k, name, body)
SELECT i, (i * 7919) % 100003, 'name-' || i,
       substr(hex(zeroblob(200)), 1, 10 + (i * 37) % 300)
FROM c;
CREATE INDEX t_k ON t(k);
CREATE INDEX t_name ON t(name);
UPDATE t SET body = body || body || 'grown' WHERE id % 3 = 0;
DELETE FROM t WHERE id % 4 = 1;
CREATE TABLE g AS SELECT k % 1000 AS b, count(*) AS n, sum(length(body)) AS l
FROM t GROUP BY k % 1000;
COMMIT;
SELECT 'checksum=' || (SELECT sum(n * 31 + l) FROM g) || '-' || (SELECT count(*) FROM t);
