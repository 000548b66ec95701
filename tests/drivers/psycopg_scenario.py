"""psycopg 3 against OmenDB: CRUD, typed values both ways, transactions, a constraint error,
server-side prepared statements reused, COPY in and out. Exits non-zero on any mismatch.

    python psycopg_scenario.py PORT PASSWORD
"""
import decimal
import sys
import uuid

import psycopg
from psycopg.types.json import Jsonb

port, password = sys.argv[1], sys.argv[2]
dsn = psycopg.conninfo.make_conninfo(host="127.0.0.1", port=port, user="omendb", password=password, dbname="omendb")
with psycopg.connect(dsn) as conn:
    assert conn.info.server_version >= 160000, conn.info.server_version
    conn.execute(
        "CREATE TABLE items (id SERIAL PRIMARY KEY, name TEXT NOT NULL, price NUMERIC(8,2), "
        "added TIMESTAMPTZ DEFAULT now(), tag UUID, meta JSONB)"
    )
    tags = [uuid.UUID(int=i) for i in range(5)]
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO items (name, price, tag, meta) VALUES (%s, %s, %s, %s)",
            [(f"n{i}", decimal.Decimal("1.25") * i, tags[i], Jsonb({"i": i})) for i in range(5)],
        )
        cur.execute("SELECT id, name, price, tag, meta FROM items WHERE id = %s", (3,))
        assert cur.fetchone() == (3, "n2", decimal.Decimal("2.50"), tags[2], {"i": 2})
        cur.execute("SELECT count(*) FROM items WHERE price > %s", (decimal.Decimal("2"),))
        assert cur.fetchone() == (3,)
    conn.commit()

    with conn.transaction():
        conn.execute("UPDATE items SET price = price + 1 WHERE id = 1")
    try:
        with conn.transaction():
            conn.execute("INSERT INTO items (id, name) VALUES (1, 'dup')")
        raise AssertionError("a duplicate key was accepted")
    except psycopg.errors.UniqueViolation as e:
        assert e.sqlstate == "23505"

    with conn.cursor(binary=True) as cur:
        cur.execute("SELECT id, name, price FROM items ORDER BY id LIMIT 2")
        assert cur.fetchall() == [(1, "n0", decimal.Decimal("1.00")), (2, "n1", decimal.Decimal("1.25"))]

    for i in range(20):
        row = conn.execute(
            "SELECT name FROM items WHERE id = %s", (i % 5 + 1,), prepare=True
        ).fetchone()
        assert row == (f"n{i % 5}",), row

    with conn.cursor().copy("COPY items (name, price) FROM STDIN") as copy:
        for i in range(3):
            copy.write_row((f"c{i}", i))
    with conn.cursor().copy("COPY (SELECT name FROM items ORDER BY id) TO STDOUT") as copy:
        names = [row[0] for row in copy.rows()]
    assert names == ["n0", "n1", "n2", "n3", "n4", "c0", "c1", "c2"], names
    conn.commit()
print("done")
