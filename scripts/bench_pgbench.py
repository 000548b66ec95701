#!/usr/bin/env python3
"""OmenDB's server against PostgreSQL 15 with pgbench, side by side in one run.

    python3 scripts/bench_pgbench.py [--scale 10] [--clients 1,8,32] [--seconds 10] [--runs 3]
                                     [--protocols simple,prepared]

Starts both servers on free loopback ports in temporary directories, both fully durable
(PostgreSQL's defaults: fsync, synchronous_commit on; OmenDB's default --synchronous-commit
on, RocksDB storage) and both with SCRAM-SHA-256 password authentication, initialises each
with `pgbench -i -s SCALE`, then runs the select-only (`-S`) and the built-in TPC-B-like
script at each client count in each query protocol (`-M`), RUNS times for SECONDS each, and
a connection-setup workload: one client opening a new connection (SCRAM included) for every
select-only transaction (`-C`). Prints a Markdown table of median TPS (min–max), p50/p99
latency from pgbench's per-transaction log, failed transactions, and the OmenDB/PostgreSQL
ratio.

PostgreSQL runs as the `postgres` user (initdb refuses root); the OmenDB server binary is
built in release mode first (CARGO_TARGET_DIR as scripts/dev.sh sets it).
"""
import argparse
import os
import pathlib
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
PASSWORD = "pgbench secret"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pg_bin(name):
    for version in ("15", "16", "17"):
        path = pathlib.Path(f"/usr/lib/postgresql/{version}/bin/{name}")
        if path.exists():
            return str(path)
    sys.exit(f"{name} not found: install postgresql (apt-get install postgresql)")


def as_postgres(args, **kw):
    if os.geteuid() == 0:
        args = ["runuser", "-u", "postgres", "--"] + args
    return subprocess.run(args, check=True, **kw)


class Postgres:
    name = "PostgreSQL 15"

    def __init__(self, work):
        self.dir = pathlib.Path(work) / "pg"
        self.dir.mkdir()
        self.socket_dir = pathlib.Path(work) / "pgsock"
        self.socket_dir.mkdir()
        if os.geteuid() == 0:
            shutil.chown(work, "postgres")
            shutil.chown(self.dir, "postgres")
            shutil.chown(self.socket_dir, "postgres")
        self.port = free_port()
        pwfile = pathlib.Path(work) / "pgpass"
        pwfile.write_text(PASSWORD + "\n")
        if os.geteuid() == 0:
            shutil.chown(pwfile, "postgres")
        as_postgres([pg_bin("initdb"), "-D", str(self.dir), "-A", "scram-sha-256", "-U", "bench",
                     "--pwfile", str(pwfile)], stdout=subprocess.DEVNULL)
        as_postgres([pg_bin("pg_ctl"), "-D", str(self.dir), "-l", str(self.dir / "log"), "-w",
                     "-o", f"-p {self.port} -k {self.socket_dir} -c listen_addresses=127.0.0.1 "
                           "-c max_connections=100", "start"], stdout=subprocess.DEVNULL)
        subprocess.run(["createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "bench",
                        "omendb"], check=True, env=dict(os.environ, PGPASSWORD=PASSWORD))

    def stop(self):
        as_postgres([pg_bin("pg_ctl"), "-D", str(self.dir), "-m", "fast", "stop"],
                    stdout=subprocess.DEVNULL)


class OmenDb:
    name = "OmenDB"

    def __init__(self, work, binary):
        self.port = free_port()
        self.proc = subprocess.Popen(
            [binary, "--listen", f"127.0.0.1:{self.port}", "--http-listen", "127.0.0.1:0",
             "--data-dir", str(pathlib.Path(work) / "omendb"), "--auth", "scram",
             "--admin-user", "bench", "--log-level", "warn", "--cache-size", "1GiB"],
            stdout=subprocess.PIPE, text=True, env=dict(os.environ, OMENDB_ADMIN_PASSWORD=PASSWORD))
        # The server prints its addresses once it listens.
        self.proc.stdout.readline()

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


def pgbench(server, args, log_dir=None):
    cmd = ["pgbench", "-h", "127.0.0.1", "-p", str(server.port), "-U", "bench"] + args
    if log_dir:
        cmd += ["-l", "--log-prefix", str(log_dir / "tx")]
    cmd.append("omendb")
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=log_dir,
                         env=dict(os.environ, PGPASSWORD=PASSWORD))
    return out.stdout


def latencies(log_dir):
    values = []
    for path in log_dir.glob("tx*"):
        for line in path.read_text().splitlines():
            fields = line.split()
            if len(fields) >= 3 and fields[2].isdigit():
                values.append(int(fields[2]))
        path.unlink()
    values.sort()
    if not values:
        return float("nan"), float("nan")
    pick = lambda q: values[min(len(values) - 1, int(q * len(values)))] / 1000.0
    return pick(0.50), pick(0.99)


def measure(server, workload, clients, seconds, runs, work):
    script, protocol = workload
    samples = []
    for _ in range(runs):
        log_dir = pathlib.Path(tempfile.mkdtemp(dir=work))
        args = ["-c", str(clients), "-j", str(min(clients, 2)), "-T", str(seconds), "-n"]
        if script in ("select-only", "connect"):
            args.append("-S")
        if script == "connect":
            args.append("-C")
        args += ["-M", protocol]
        out = pgbench(server, args, log_dir)
        tps = float(re.search(r"tps = ([\d.]+)", out).group(1))
        failed = int(re.search(r"number of failed transactions: (\d+)", out).group(1))
        p50, p99 = latencies(log_dir)
        samples.append((tps, p50, p99, failed))
    return samples


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=int, default=10)
    parser.add_argument("--clients", default="1,8,32")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--protocols", default="simple,prepared")
    args = parser.parse_args()
    protocols = args.protocols.split(",")
    workloads = [(script, protocol) for script in ("select-only", "tpcb-like")
                 for protocol in protocols]
    cells = [(w, n) for w in workloads for n in [int(c) for c in args.clients.split(",")]]
    cells.append((("connect", "simple"), 1))
    target = os.environ.get("CARGO_TARGET_DIR",
                            str(pathlib.Path.home() / ".cache/omendb/target"))
    subprocess.run(["cargo", "build", "--release"], check=True,
                   cwd=ROOT, env=dict(os.environ, CARGO_TARGET_DIR=target))
    binary = str(pathlib.Path(target) / "release" / "omendb-server")

    work = tempfile.mkdtemp(prefix="omendb-pgbench-")
    results = {}
    servers = []
    try:
        for make in (lambda: Postgres(work), lambda: OmenDb(work, binary)):
            server = make()
            servers.append(server)
            started = time.time()
            pgbench(server, ["-i", "-s", str(args.scale), "-q"])
            print(f"{server.name}: pgbench -i -s {args.scale} in {time.time() - started:.1f} s",
                  file=sys.stderr)
            for workload, n in cells:
                results[(server.name, workload, n)] = measure(
                    server, workload, n, args.seconds, args.runs, work)
            server.stop()
            servers.remove(server)
    finally:
        for server in servers:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)

    print(f"pgbench, scale {args.scale}, {args.runs} × {args.seconds} s per cell, medians "
          "(min–max); latency in ms from pgbench's transaction log\n")
    print("| workload | protocol | clients | PostgreSQL TPS | OmenDB TPS | ratio | PG p50 / p99 | "
          "OmenDB p50 / p99 | OmenDB failed |")
    print("|---|---|---|---|---|---|---|---|---|")
    for (script, protocol), n in cells:
        pg = results[("PostgreSQL 15", (script, protocol), n)]
        om = results[("OmenDB", (script, protocol), n)]
        med = lambda s, i: statistics.median(x[i] for x in s)
        rng = lambda s: f"{min(x[0] for x in s):.0f}–{max(x[0] for x in s):.0f}"
        print(f"| {script} | {protocol} | {n} | {med(pg, 0):.0f} ({rng(pg)}) | {med(om, 0):.0f} "
              f"({rng(om)}) | {med(om, 0) / med(pg, 0):.2f}× | {med(pg, 1):.2f} / "
              f"{med(pg, 2):.2f} | {med(om, 1):.2f} / {med(om, 2):.2f} | "
              f"{sum(x[3] for x in om)} |")


if __name__ == "__main__":
    main()
