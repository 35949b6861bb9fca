#!/usr/bin/env bash
# sqlite.sh DIR: a large scripted sqlite3 workload, run without and with
# LD_PRELOAD=$BM_LIB on a fresh database file each time. Its output (query
# results, checksums of every table, PRAGMA integrity_check) must be the
# same, and integrity_check must say "ok". sqlite's page cache is set to
# 64 MiB, so its allocations churn through every size class: rows of 0 B
# to 12 KiB (overflow pages), an external sort, window functions, JSON
# aggregates, a second attached in-memory database, updates that change row
# sizes, deletes, VACUUM. BM_SQLITE_ROWS: rows (default 150,000).
# Prints PASS/FAIL lines sqlite_same_output and sqlite_integrity.
set -u
dir=$1
rows=${BM_SQLITE_ROWS:-150000}
mkdir -p "$dir"

workload() {
	cat <<SQL
PRAGMA cache_size = -65536;
PRAGMA journal_mode = WAL;
ATTACH ':memory:' AS mem;
CREATE TABLE t (id INTEGER PRIMARY KEY, k INTEGER, name TEXT, body BLOB);
CREATE TABLE mem.scratch (k INTEGER, v TEXT);
BEGIN;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $rows)
INSERT INTO t SELECT i, (i * 7919) % 10007, printf('n%d-%.*c', i % 5000, i % 40, 'x'),
	CASE WHEN i % 97 = 0 THEN zeroblob(4000 + i % 8000)
	     ELSE substr(hex(zeroblob(200)) || printf('%x', i * 2654435761), 1, i % 300) END
	FROM n;
CREATE INDEX t_k ON t(k);
CREATE INDEX t_name ON t(name, k);
COMMIT;
INSERT INTO mem.scratch SELECT k, group_concat(name, ',') FROM t GROUP BY k;
SELECT count(*), sum(k), sum(length(body)), count(DISTINCT name) FROM t;
SELECT k, length(v) FROM mem.scratch ORDER BY length(v) DESC, k LIMIT 3;
SELECT name, count(*), sum(length(body)) FROM t GROUP BY name ORDER BY 3 DESC, 1 LIMIT 5;
SELECT id, k, rank() OVER (PARTITION BY k % 10 ORDER BY length(body) DESC, id)
	FROM t WHERE id % 1000 = 7 ORDER BY id LIMIT 10;
SELECT length(json_group_array(json_object('id', id, 'k', k, 'n', name)))
	FROM (SELECT * FROM t WHERE id % 3 = 0);
SELECT hex(md5) FROM (SELECT sum(k * (id % 13)) AS md5 FROM (SELECT * FROM t ORDER BY name DESC, body LIMIT 100000));
BEGIN;
UPDATE t SET body = CASE WHEN id % 5 = 0 THEN zeroblob(id % 9000) ELSE substr(body, 1, id % 50) END,
	name = upper(name) WHERE id % 4 = 1;
DELETE FROM t WHERE id % 11 = 0;
INSERT INTO t (k, name, body) SELECT k + 1, name || '-copy', body || body FROM t WHERE id % 23 = 0;
COMMIT;
DELETE FROM mem.scratch WHERE k % 2 = 0;
UPDATE mem.scratch SET v = v || v WHERE k % 3 = 0;
SELECT count(*), sum(length(v)) FROM mem.scratch;
VACUUM;
SELECT count(*), sum(k), sum(length(body)), sum(length(name)) FROM t;
SELECT count(*) FROM t a JOIN t b ON a.k = b.k AND a.id < b.id WHERE a.id % 500 = 0;
PRAGMA integrity_check;
PRAGMA mem.integrity_check;
SQL
}

# run LABEL PRELOAD: the workload on a fresh database; output in DIR/LABEL.out
run() {
	rm -rf "$dir/$1" && mkdir -p "$dir/$1"
	workload | (cd "$dir/$1" && env -u LD_PRELOAD ${2:+LD_PRELOAD=$2} \
		timeout -s KILL 300 sqlite3 -bail test.db) >"$dir/$1.out" 2>"$dir/$1.err"
}

SECONDS=0
run glibc ""
rc_plain=$?
run bm "$BM_LIB"
rc_bm=$?
echo "  # sqlite: $rows rows, ${SECONDS}s for both runs; exit status $rc_plain without, $rc_bm with the preload"
if [ "$rc_plain" -ne 0 ] || [ ! -s "$dir/glibc.out" ]; then
	sed -n '1,5s/^/  # /p' "$dir/glibc.err"
	echo "FAIL sqlite_same_output: the workload fails without the preload"
elif [ "$rc_bm" -eq "$rc_plain" ] && cmp -s "$dir/glibc.out" "$dir/bm.out"; then
	echo "PASS sqlite_same_output"
else
	diff "$dir/glibc.out" "$dir/bm.out" | sed -n '1,10s/^/  # /p'
	sed -n '1,5s/^/  # /p' "$dir/bm.err"
	echo "FAIL sqlite_same_output"
fi
if [ "$(grep -c '^ok$' "$dir/bm.out")" -eq 2 ]; then
	echo "PASS sqlite_integrity"
else
	echo "FAIL sqlite_integrity: PRAGMA integrity_check did not say ok twice"
fi
