//! psql's describe commands (`\dt`, `\d table`, `\di`, `\dv`, `\l`, `\dn`, `\du`) against the
//! server: they read `pg_catalog` with regular expressions, arrays, `::regclass` casts and
//! catalog functions, and must print what PostgreSQL would for the same schema.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test or benchmark may panic

mod common;

use common::Server;

const ADMIN_PASSWORD: &str = "describe me";

/// Runs `script` in psql as the bootstrap superuser and returns what it printed.
fn describe(server: &Server, script: &str) -> String {
    let output = common::psql(server, "omendb", Some(ADMIN_PASSWORD), &[], script);
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

fn server(dir: &std::path::Path) -> Server {
    let server = Server::start_with_env(
        dir,
        &["--storage", "memory", "--auth", "scram"],
        &[("OMENDB_ADMIN_PASSWORD", ADMIN_PASSWORD)],
    );
    describe(
        &server,
        "CREATE TABLE orders (id INT PRIMARY KEY, customer TEXT NOT NULL DEFAULT 'anon', \
                              total NUMERIC(10,2) CHECK (total >= 0), code VARCHAR(8) UNIQUE);\n\
         CREATE INDEX orders_customer ON orders (customer);\n\
         CREATE TABLE notes (body TEXT);\n\
         CREATE VIEW big_orders AS SELECT id, total FROM orders WHERE total > 100;\n\
         CREATE ROLE alice LOGIN PASSWORD 'pw';\n\
         CREATE ROLE readers;\n",
    );
    server
}

#[test]
fn psql_lists_and_describes_tables() {
    let dir = tempfile::tempdir().unwrap();
    let server = server(dir.path());
    let out = describe(
        &server,
        "\\dt\n\\d orders\n\\d notes\n\\di\n\\dv\n\\d big_orders\n",
    );
    assert_eq!(out, EXPECTED_TABLES);
}

#[test]
fn psql_lists_databases_schemas_and_roles() {
    let dir = tempfile::tempdir().unwrap();
    let server = server(dir.path());
    let out = describe(&server, "\\l\n\\dn\n\\du\n");
    assert_eq!(out, EXPECTED_GLOBALS);
}

#[test]
fn psql_describes_a_table_in_full() {
    let dir = tempfile::tempdir().unwrap();
    let server = server(dir.path());
    let out = describe(&server, "\\d+ orders\n");
    assert_eq!(out, EXPECTED_FULL, "{out}");
}

#[test]
fn a_missing_relation_is_reported_like_postgresql() {
    let dir = tempfile::tempdir().unwrap();
    let server = server(dir.path());
    let output = common::psql(&server, "omendb", Some(ADMIN_PASSWORD), &[], "\\d nosuch\n");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("Did not find any relation named \"nosuch\"."),
        "{stderr}"
    );
}

/// What PostgreSQL 15 prints for the same schema, but for the primary key's access method
/// (the learned index, which keeps the table in key order: CLUSTER) and the CHECK's deparsing
/// (`0` where PostgreSQL writes `0::numeric`).
const EXPECTED_TABLES: &str = concat!(
    "        List of relations\n",
    " Schema |  Name  | Type  | Owner  \n",
    "--------+--------+-------+--------\n",
    " public | notes  | table | omendb\n",
    " public | orders | table | omendb\n",
    "(2 rows)\n",
    "\n",
    "                         Table \"public.orders\"\n",
    "  Column  |         Type         | Collation | Nullable |   Default    \n",
    "----------+----------------------+-----------+----------+--------------\n",
    " id       | integer              |           | not null | \n",
    " customer | text                 |           | not null | 'anon'::text\n",
    " total    | numeric(10,2)        |           |          | \n",
    " code     | character varying(8) |           |          | \n",
    "Indexes:\n",
    "    \"orders_pkey\" PRIMARY KEY, alex (id) CLUSTER\n",
    "    \"orders_code_key\" UNIQUE CONSTRAINT, btree (code)\n",
    "    \"orders_customer\" btree (customer)\n",
    "Check constraints:\n",
    "    \"orders_total_check\" CHECK (total >= 0)\n",
    "\n",
    "              Table \"public.notes\"\n",
    " Column | Type | Collation | Nullable | Default \n",
    "--------+------+-----------+----------+---------\n",
    " body   | text |           |          | \n",
    "\n",
    "                 List of relations\n",
    " Schema |      Name       | Type  | Owner  | Table  \n",
    "--------+-----------------+-------+--------+--------\n",
    " public | orders_code_key | index | omendb | orders\n",
    " public | orders_customer | index | omendb | orders\n",
    " public | orders_pkey     | index | omendb | orders\n",
    "(3 rows)\n",
    "\n",
    "          List of relations\n",
    " Schema |    Name    | Type | Owner  \n",
    "--------+------------+------+--------\n",
    " public | big_orders | view | omendb\n",
    "(1 row)\n",
    "\n",
    "                View \"public.big_orders\"\n",
    " Column |     Type      | Collation | Nullable | Default \n",
    "--------+---------------+-----------+----------+---------\n",
    " id     | integer       |           |          | \n",
    " total  | numeric(10,2) |           |          | \n",
    "\n",
);
/// What PostgreSQL prints, but for the locale (OmenDB compares text by bytes: C).
const EXPECTED_GLOBALS: &str = concat!(
    "                                        List of databases\n",
    "  Name  | Owner  | Encoding | Collate | Ctype | ICU Locale | Locale Provider | Access privileges \n",
    "--------+--------+----------+---------+-------+------------+-----------------+-------------------\n",
    " omendb | omendb | UTF8     | C       | C     |            | libc            | \n",
    "(1 row)\n",
    "\n",
    " List of schemas\n",
    "  Name  | Owner  \n",
    "--------+--------\n",
    " public | omendb\n",
    "(1 row)\n",
    "\n",
    "                                   List of roles\n",
    " Role name |                         Attributes                         | Member of \n",
    "-----------+------------------------------------------------------------+-----------\n",
    " alice     |                                                            | {}\n",
    " omendb    | Superuser, Create role, Create DB, Replication, Bypass RLS | {}\n",
    " readers   | Cannot login                                               | {}\n",
    "\n",
);

/// `\\d+`: PostgreSQL's storage strategies per type; no compression, statistics targets or
/// comments.
const EXPECTED_FULL: &str = concat!(
    "                                                    Table \"public.orders\"\n",
    "  Column  |         Type         | Collation | Nullable |   Default    | Storage  | Compression | Stats target | Description \n",
    "----------+----------------------+-----------+----------+--------------+----------+-------------+--------------+-------------\n",
    " id       | integer              |           | not null |              | plain    |             |              | \n",
    " customer | text                 |           | not null | 'anon'::text | extended |             |              | \n",
    " total    | numeric(10,2)        |           |          |              | main     |             |              | \n",
    " code     | character varying(8) |           |          |              | extended |             |              | \n",
    "Indexes:\n",
    "    \"orders_pkey\" PRIMARY KEY, alex (id) CLUSTER\n",
    "    \"orders_code_key\" UNIQUE CONSTRAINT, btree (code)\n",
    "    \"orders_customer\" btree (customer)\n",
    "Check constraints:\n",
    "    \"orders_total_check\" CHECK (total >= 0)\n",
    "Access method: heap\n",
    "\n",
);
