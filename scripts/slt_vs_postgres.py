#!/usr/bin/env python3
"""Runs the sqllogictest corpus (tests/slt/*.slt) against a real PostgreSQL and reports every
record whose result differs from the expectation written in the file.

    python3 scripts/slt_vs_postgres.py [--host /tmp/pgsock --port 54329 --user postgres] [files…]

Each file runs in a fresh database through one psql session, so transaction blocks that span
records behave as in the engine's runner. Results are compared as sqllogictest does: values
separated by single spaces, NULL spelled out, an empty string as (empty), errors by SQLSTATE.
EXPLAIN records are skipped (OmenDB's plans are its own); records that expect 0A000 (a feature
OmenDB does not have yet) and records after a `# differs from PostgreSQL:` comment are listed as
known gaps rather than failures.
"""
import argparse
import pathlib
import re
import subprocess
import sys

MARK = "@@record@@"
# A comment line starting so, right before a record, marks a known, documented difference.
DIFFERS = "# differs from PostgreSQL:"


def records(path):
    """(line, kind, sql, expected) for each record: kind is 'ok', 'error' or 'query'."""
    lines = path.read_text().splitlines()
    i = 0
    differs = False
    while i < len(lines):
        line = lines[i].strip()
        if line.startswith(DIFFERS):
            differs = True
        if not line or line.startswith("#"):
            i += 1
            continue
        start = i + 1
        header = line.split()
        i += 1
        sql = []
        while i < len(lines) and lines[i].strip() and lines[i].strip() != "----":
            sql.append(lines[i])
            i += 1
        expected = None
        if header[0] == "query":
            expected = []
            if i < len(lines) and lines[i].strip() == "----":
                i += 1
                while i < len(lines) and lines[i].strip():
                    expected.append(" ".join(lines[i].split()))
                    i += 1
            kind = "query"
            if "rowsort" in header:
                expected.sort()
        elif header[0] == "statement" and header[1] == "error":
            kind = "error"
            match = re.search(r"\((\w{5})\)", line)
            expected = match.group(1) if match else None
        elif header[0] == "statement":
            kind = "ok"
        else:
            continue
        if differs:
            kind, differs = "differs", False
        yield start, kind, "\n".join(sql), expected, "rowsort" in header


def run(path, args):
    db = "slt_" + re.sub(r"\W", "_", path.stem)
    base = ["psql", "-X", "-h", args.host, "-p", str(args.port), "-U", args.user]
    subprocess.run(base + ["-qc", f"DROP DATABASE IF EXISTS {db}"], check=True,
                   capture_output=True)
    subprocess.run(base + ["-qc", f"CREATE DATABASE {db}"], check=True, capture_output=True)
    if re.search(r"^connection ", path.read_text(), flags=re.M):
        print(f"{path.name}: uses several connections; not checked")
        return 0
    recs = list(records(path))
    script = ["\\set VERBOSITY verbose", "\\pset null NULL", "SET TimeZone = 'UTC';"]
    for n, (_, _, sql, _, _) in enumerate(recs):
        script.append(f"\\echo {MARK}{n}")
        script.append(sql.rstrip().rstrip(";") + ";")
    out = subprocess.run(
        base + ["-d", db, "-A", "-t", "-F", "\t", "-q"],
        input="\n".join(script), capture_output=False, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True).stdout
    chunks = re.split(rf"^{MARK}(\d+)\n?", out, flags=re.M)
    results = {int(chunks[k]): chunks[k + 1] for k in range(1, len(chunks) - 1, 2)}
    failures = 0
    for n, (line, kind, sql, expected, rowsort) in enumerate(recs):
        text = results.get(n, "")
        if sql.lstrip().upper().startswith("EXPLAIN"):
            continue
        if kind == "differs":
            print(f"{path.name}:{line}: known difference: {sql.strip()}")
            continue
        if kind == "error" and expected == "0A000":
            if "ERROR:" not in text:
                print(f"{path.name}:{line}: known gap (PostgreSQL runs it): {sql.strip()}")
            continue
        error = re.search(r"ERROR:\s+(\w{5}):", text)
        if kind == "ok":
            bad = error is not None
        elif kind == "error":
            bad = error is None or (expected is not None and error.group(1) != expected)
        else:
            rows = [" ".join("(empty)" if v == "" else v for v in r.split("\t"))
                    for r in text.splitlines() if r and not r.startswith("psql:")]
            rows = [" ".join(r.split()) for r in rows]
            if rowsort:
                rows.sort()
            bad = error is not None or rows != expected
            text = "\n".join(rows) if not error else text
        if bad:
            failures += 1
            print(f"{path.name}:{line}: {sql.strip()}\n  expected: {expected}\n  postgres: {text.strip()}\n")
    return failures


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="/tmp/pgsock")
    parser.add_argument("--port", type=int, default=54329)
    parser.add_argument("--user", default="postgres")
    parser.add_argument("files", nargs="*")
    args = parser.parse_args()
    root = pathlib.Path(__file__).resolve().parent.parent
    files = [pathlib.Path(f) for f in args.files] or sorted((root / "tests/slt").glob("*.slt"))
    total = sum(run(f, args) for f in files)
    print(f"{total} record(s) differ from PostgreSQL")
    sys.exit(1 if total else 0)


if __name__ == "__main__":
    main()
