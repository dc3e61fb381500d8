-- tests/realworld/workloads/workload.sql: deterministic SQL workload for the sqlite3
-- shell (insert, index, update, delete, join, json, integrity_check); output
-- under the mojcc build must equal the clang build's.
CREATE TABLE t(a INTEGER PRIMARY KEY, b TEXT, c REAL);
WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM n WHERE x < 20000)
INSERT INTO t SELECT x, printf('row-%05d-%s', x, substr('abcdefghij', x % 10, 3)), x * 1.5 FROM n;
CREATE INDEX tb ON t(b);
SELECT count(*), sum(c), min(b), max(b) FROM t;
SELECT b, length(b) FROM t WHERE a % 2000 = 0 ORDER BY b DESC;
UPDATE t SET c = c / 3 WHERE a % 7 = 0;
DELETE FROM t WHERE a % 11 = 0;
SELECT count(*), round(sum(c), 3), group_concat(a, ',') FILTER (WHERE a < 30) FROM t;
SELECT json_object('k', b, 'v', c) FROM t WHERE a IN (1, 2, 3);
CREATE TABLE u AS SELECT a, upper(b) AS ub FROM t WHERE a < 1000;
SELECT t.a, u.ub FROM t JOIN u USING (a) WHERE t.a % 250 = 1;
PRAGMA integrity_check;
