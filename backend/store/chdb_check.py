#!/usr/bin/env python3
"""Replays Footfall's ClickHouse DDL and queries on chDB (current ClickHouse) and, with --server,
on a running ClickHouse server (the Debian 18.16 one started by scripts/infra/clickhouse.sh), and
checks that every query returns exactly the rows DuckDB returned on the same dataset.

Input: the JSON written by the footfall-store conformance test
(FOOTFALL_CONFORMANCE_OUT=path cargo test -p footfall-store conformance):
{"database", "ddl": [...], "inserts": [{"table", "rows": [jsonl...]}], "queries": [{"name", "sql", "expected": [[str...]]}]}

Usage: chdb_check.py CHECK.json [--server http://127.0.0.1:18123] [--no-chdb]
Exit status 0 when every engine gave every expected answer.
"""
import json
import shutil
import sys
import tempfile
import urllib.parse
import urllib.request


def unescape_tsv(field):
    out, i = [], 0
    while i < len(field):
        c = field[i]
        if c == "\\" and i + 1 < len(field):
            n = field[i + 1]
            out.append({"t": "\t", "n": "\n", "\\": "\\", "'": "'", "0": "\0", "r": "\r", "b": "\b", "f": "\f"}.get(n, n))
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def parse_tsv(text):
    if not text:
        return []
    return [[unescape_tsv(f) for f in line.split("\t")] for line in text.rstrip("\n").split("\n")]


class Chdb:
    name = "chdb"

    def __init__(self, db):
        from chdb import session  # noqa: PLC0415

        self.dir = tempfile.mkdtemp(prefix="footfall-chdb-")
        self.s = session.Session(self.dir)
        self.db = db

    def run(self, sql, data=None, use_db=True):
        if data is not None:
            sql = sql + "\n" + data
        if use_db:
            sql_db = "USE " + self.db
            self.s.query(sql_db)
        res = self.s.query(sql, "TabSeparated")
        return res.bytes().decode() if hasattr(res, "bytes") else str(res)

    def version(self):
        return self.run("SELECT version()", use_db=False).strip()

    def close(self):
        self.s.close()
        shutil.rmtree(self.dir, ignore_errors=True)


class Server:
    def __init__(self, url, db):
        self.url = url.rstrip("/")
        self.db = db
        self.name = "server " + self.url

    def run(self, sql, data=None, use_db=True):
        params = {}
        if use_db:
            params["database"] = self.db
        if data is None:
            body = (sql + " FORMAT TabSeparated" if sql.lstrip().upper().startswith("SELECT") else sql).encode()
        else:
            params["query"] = sql
            body = data.encode()
        req = urllib.request.Request(self.url + "/?" + urllib.parse.urlencode(params), data=body, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return r.read().decode()
        except urllib.error.HTTPError as e:
            raise RuntimeError(e.read().decode()) from e

    def version(self):
        return self.run("SELECT version()", use_db=False).strip()

    def close(self):
        pass


def canonical_funnel_rows(rows):
    """Funnel rows as conformance.rs compares them: a row per distinct id and breakdown value
    (DuckDB answers one, ClickHouse a row per step event) with its packed steps sorted as text,
    without repeats and joined by commas; the rows sorted."""
    grouped, other = {}, []
    for row in rows:
        if len(row) != 3:
            other.append(row)
            continue
        keys = row[-1]
        if keys.startswith("[") and keys.endswith("]"):
            keys = keys[1:-1]
        grouped.setdefault((row[0], row[1]), set()).update(keys.split(","))
    other.extend([i, b, ",".join(sorted(keys))] for (i, b), keys in grouped.items())
    return sorted(other)


def check(engine, spec):
    db = spec["database"]
    failures = []
    print(f"== {engine.name} (ClickHouse {engine.version()})")
    engine.run(f"DROP DATABASE IF EXISTS `{db}`", use_db=False)
    for stmt in spec["ddl"]:
        try:
            engine.run(stmt, use_db=False)
        except Exception as e:  # noqa: BLE001
            failures.append(f"DDL failed: {stmt}\n  {e}")
    if failures:
        return failures
    print(f"   {len(spec['ddl'])} DDL statements OK")
    for ins in spec["inserts"]:
        engine.run(f"INSERT INTO `{db}`.{ins['table']} FORMAT JSONEachRow", "\n".join(ins["rows"]) + "\n", use_db=False)
    for q in spec["queries"]:
        try:
            got = parse_tsv(engine.run(q["sql"]))
            if q.get("funnel_rows"):
                got = canonical_funnel_rows(got)
        except Exception as e:  # noqa: BLE001
            failures.append(f"{q['name']}: query failed: {e}\n  SQL: {q['sql']}")
            continue
        if got != q["expected"]:
            failures.append(f"{q['name']}: {len(got)} rows differ from DuckDB's {len(q['expected'])}\n  first got: {got[:3]}\n  first expected: {q['expected'][:3]}")
        else:
            print(f"   {q['name']}: {len(got)} rows identical to DuckDB")
    engine.run(f"DROP DATABASE IF EXISTS `{db}`", use_db=False)
    return failures


def main():
    args = sys.argv[1:]
    if not args:
        print(__doc__)
        return 2
    spec = json.load(open(args[0]))
    engines = []
    if "--no-chdb" not in args:
        engines.append(Chdb(spec["database"]))
    if "--server" in args:
        engines.append(Server(args[args.index("--server") + 1], spec["database"]))
    failures = []
    for e in engines:
        failures += [f"[{e.name}] {f}" for f in check(e, spec)]
        e.close()
    for f in failures:
        print("FAIL", f)
    print("OK: every DDL statement and query ran with identical answers" if not failures else f"{len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
