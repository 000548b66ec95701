//! `omendb-bench server`: OmenDB's server against PostgreSQL (Debian's, 15 or newer) with
//! pgbench, side by side in one run.
//!
//! Both servers run at once on free loopback ports in a temporary directory, both fully durable
//! (PostgreSQL's defaults; OmenDB's `--synchronous-commit on`, RocksDB) and both with
//! SCRAM-SHA-256 passwords; each is initialised with `pgbench -i -s SCALE`. Each workload then
//! runs at each client count, alternating which server goes first in each repetition:
//! pgbench's select-only and TPC-B-like scripts, and custom scripts for a point select and a
//! 100-row range select. TPS comes from pgbench's summary, p50/p99 latency from its
//! per-transaction log. PostgreSQL runs as the `postgres` user when this runs as root (initdb
//! refuses root).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::report::{Better, Figures, Loopback, RoundTrips, median};

const PASSWORD: &str = "pgbench secret";
const USER: &str = "bench";
const DATABASE: &str = "omendb";

/// A workload: pgbench's built-in scripts or one of ours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    SelectOnly,
    TpcbLike,
    PointSelect,
    RangeSelect,
    /// Select-only with a new connection (SCRAM handshake included) per transaction (`-C`).
    Connect,
}

impl Workload {
    pub const ALL: [Workload; 4] = [
        Workload::SelectOnly,
        Workload::TpcbLike,
        Workload::PointSelect,
        Workload::RangeSelect,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Workload::SelectOnly => "select-only",
            Workload::TpcbLike => "tpcb-like",
            Workload::PointSelect => "point select",
            Workload::RangeSelect => "range select, 100 rows",
            Workload::Connect => "connect and select-only",
        }
    }

    /// The custom script's text, for workloads that have one.
    fn script(self) -> Option<&'static str> {
        match self {
            Workload::PointSelect => Some(
                "\\set aid random(1, 100000 * :scale)\n\
                 SELECT aid, abalance FROM pgbench_accounts WHERE aid = :aid;\n",
            ),
            Workload::RangeSelect => Some(
                "\\set aid random(1, 100000 * :scale - 99)\n\
                 SELECT sum(abalance) FROM pgbench_accounts WHERE aid BETWEEN :aid AND :aid + 99;\n",
            ),
            _ => None,
        }
    }
}

/// The bytes of one echoed message: about a prepared point select's Bind, Execute and Sync,
/// and about its answer.
const ECHO_BYTES: usize = 48;

/// The machine's round trips over loopback on one connection, with the two ends on two cores
/// (where there are two) and on one: see [`round_trips`].
pub fn loopback_round_trips(duration: Duration) -> std::io::Result<Loopback> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    Ok(Loopback {
        cross_core: (cores > 1)
            .then(|| round_trips(duration, [0, 1]))
            .transpose()?,
        same_core: round_trips(duration, [0, 0])?,
    })
}

/// One connection's round trips over loopback for `duration`: a thread echoes each message as
/// soon as it reads it to another that sends the next as soon as it has the answer, pinned to
/// `cores` (echo, client), both with blocking sockets and Nagle off (as pgbench and both
/// servers have). Nothing is done between a message and its answer, so with a client and a
/// server placed so, no client's transactions per second on one connection can exceed this
/// here, whatever the server does. Where the two ends run on different cores every message
/// wakes a thread on the other one — on a virtual machine, an interrupt between virtual CPUs,
/// and the most expensive part of a round trip.
fn round_trips(
    duration: Duration,
    [echo_core, client_core]: [usize; 2],
) -> std::io::Result<RoundTrips> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let address = listener.local_addr()?;
    let echo = std::thread::spawn(move || -> std::io::Result<()> {
        pin_to(echo_core)?;
        let (mut socket, _) = listener.accept()?;
        socket.set_nodelay(true)?;
        let mut message = [0; ECHO_BYTES];
        loop {
            match socket.read(&mut message)? {
                0 => return Ok(()),
                n => socket.write_all(&message[..n])?,
            }
        }
    });
    let client = std::thread::spawn(move || -> std::io::Result<RoundTrips> {
        pin_to(client_core)?;
        let mut socket = TcpStream::connect(address)?;
        socket.set_nodelay(true)?;
        let mut message = [7; ECHO_BYTES];
        let mut times = Vec::new();
        let started = Instant::now();
        while started.elapsed() < duration {
            let sent = Instant::now();
            socket.write_all(&message)?;
            socket.read_exact(&mut message)?;
            times.push(sent.elapsed().as_secs_f64() * 1e6);
        }
        let elapsed = started.elapsed().as_secs_f64();
        times.sort_by(f64::total_cmp);
        Ok(RoundTrips {
            per_s: times.len() as f64 / elapsed,
            p50_us: median(&times),
            p99_us: times[(times.len() * 99 / 100).min(times.len() - 1)],
        })
    });
    let panicked = |_| std::io::Error::other("a round-trip thread panicked");
    // The client's end closes when it returns, which ends the echo.
    let measured = client.join().map_err(panicked)?;
    echo.join().map_err(panicked)??;
    measured
}

/// Pins the calling thread to `core`.
fn pin_to(core: usize) -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    // SAFETY: `set` is a plain bit set, zeroed, then given the bit of `core` (checked to be
    // below CPU_SETSIZE); sched_setaffinity only reads it, for the calling thread (pid 0).
    unsafe {
        if core >= libc::CPU_SETSIZE as usize {
            return Err(std::io::Error::other(format!("no core {core}")));
        }
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(core, &mut set);
        if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = core;
    Ok(())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// A PostgreSQL program (`initdb`, `pg_ctl`, `pgbench`): the newest installed of 15–17.
pub fn pg_bin(name: &str) -> Result<PathBuf, String> {
    ["17", "16", "15"]
        .iter()
        .map(|v| PathBuf::from(format!("/usr/lib/postgresql/{v}/bin/{name}")))
        .find(|p| p.exists())
        .ok_or_else(|| format!("{name} not found: install PostgreSQL (apt-get install postgresql)"))
}

fn is_root() -> bool {
    // The effective user id, without libc: /proc says it.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

/// Runs a PostgreSQL program as `postgres` when we are root.
fn as_postgres(program: &Path, args: &[&str]) -> Result<(), String> {
    let mut command = if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    };
    let output = command
        .args(args)
        .output()
        .map_err(|e| format!("{}: {e}", program.display()))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{} {args:?} failed: {}",
            program.display(),
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

fn give_to_postgres(path: &Path) -> Result<(), String> {
    if !is_root() {
        return Ok(());
    }
    let status = Command::new("chown")
        .args(["-R", "postgres:postgres"])
        .arg(path)
        .status()
        .map_err(|e| e.to_string())?;
    status
        .success()
        .then_some(())
        .ok_or_else(|| format!("chown {}", path.display()))
}

/// A server pgbench can talk to.
pub struct Server {
    pub name: String,
    pub port: u16,
    stop: Box<dyn FnMut()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        (self.stop)();
    }
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("name", &self.name)
            .field("port", &self.port)
            .finish()
    }
}

/// Starts a PostgreSQL cluster in `work/pg`, with `settings` (`name=value`) beyond its
/// defaults.
pub fn postgres(work: &Path, settings: &[&str]) -> Result<Server, String> {
    let dir = work.join("pg");
    let sockets = work.join("pgsock");
    let pwfile = work.join("pgpass");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    std::fs::create_dir_all(&sockets).map_err(|e| e.to_string())?;
    std::fs::write(&pwfile, format!("{PASSWORD}\n")).map_err(|e| e.to_string())?;
    give_to_postgres(work)?;
    let text = |p: &Path| p.to_string_lossy().into_owned();
    as_postgres(
        &pg_bin("initdb")?,
        &[
            "-D",
            &text(&dir),
            "-A",
            "scram-sha-256",
            "-U",
            USER,
            "--pwfile",
            &text(&pwfile),
        ],
    )?;
    let port = free_port();
    let mut options = format!(
        "-p {port} -k {} -c listen_addresses=127.0.0.1 -c max_connections=100",
        text(&sockets)
    );
    for setting in settings {
        options.push_str(&format!(" -c {setting}"));
    }
    let pg_ctl = pg_bin("pg_ctl")?;
    as_postgres(
        &pg_ctl,
        &[
            "-D",
            &text(&dir),
            "-l",
            &text(&dir.join("log")),
            "-w",
            "-o",
            &options,
            "start",
        ],
    )?;
    let version = Command::new(pg_bin("postgres")?)
        .arg("--version")
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .trim()
                .replace("postgres (PostgreSQL) ", "")
        })
        .unwrap_or_default();
    let server = Server {
        name: format!("PostgreSQL {version}"),
        port,
        stop: Box::new(move || {
            let _ = as_postgres(
                &pg_ctl,
                &["-D", &dir.to_string_lossy(), "-m", "fast", "stop"],
            );
        }),
    };
    let created = Command::new(pg_bin("createdb")?)
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-U",
            USER,
            DATABASE,
        ])
        .env("PGPASSWORD", PASSWORD)
        .status()
        .map_err(|e| e.to_string())?;
    created
        .success()
        .then_some(server)
        .ok_or_else(|| "createdb failed".into())
}

/// Starts `omendb-server` with its data in `work/omendb`.
pub fn omendb(work: &Path, binary: &Path) -> Result<Server, String> {
    use std::io::BufRead;
    let port = free_port();
    let mut child: Child = Command::new(binary)
        .args([
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--http-listen",
            "127.0.0.1:0",
            "--data-dir",
        ])
        .arg(work.join("omendb"))
        .args([
            "--auth",
            "scram",
            "--admin-user",
            USER,
            "--log-level",
            "warn",
            "--cache-size",
            "1GiB",
        ])
        .env("OMENDB_ADMIN_PASSWORD", PASSWORD)
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{}: {e}", binary.display()))?;
    // The server prints its addresses once it listens.
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut line = String::new();
    let mut reader = std::io::BufReader::new(stdout);
    reader.read_line(&mut line).map_err(|e| e.to_string())?;
    // Keep reading whatever else it prints, so it never writes into a closed pipe.
    std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
    if !line.starts_with("pgwire listening on") {
        let _ = child.kill();
        return Err(format!("omendb-server did not start: {line:?}"));
    }
    Ok(Server {
        name: format!("OmenDB {}", omendb::VERSION),
        port,
        stop: Box::new(move || {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let _ = child.wait();
        }),
    })
}

/// A PostgreSQL client program (`psql`, `pgbench`) set to log in to `server`.
fn client(program: &str, server: &Server) -> Result<Command, String> {
    let mut command = Command::new(pg_bin(program)?);
    command
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &server.port.to_string(),
            "-U",
            USER,
        ])
        .env("PGPASSWORD", PASSWORD);
    Ok(command)
}

/// Runs psql against `server`, each of `commands` in turn (SQL or a backslash command),
/// stopping at the first error; its standard output, rows unaligned without headers.
pub fn psql(server: &Server, commands: &[String]) -> Result<String, String> {
    let mut command = client("psql", server)?;
    command
        .args(["-X", "-A", "-t", "-F", "|", "-v", "ON_ERROR_STOP=1"])
        .args(["-d", DATABASE]);
    for c in commands {
        command.args(["-c", c]);
    }
    let output = command.output().map_err(|e| e.to_string())?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(format!(
            "psql on {}: {}",
            server.name,
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

/// Runs pgbench against `server`; its standard output.
fn pgbench(server: &Server, args: &[String], cwd: &Path) -> Result<String, String> {
    let output = client("pgbench", server)?
        .args(args)
        .arg(DATABASE)
        .current_dir(cwd)
        .output()
        .map_err(|e| e.to_string())?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(format!(
            "pgbench {args:?} on {}: {}",
            server.name,
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

/// `pgbench -i -s scale`; the seconds it took.
pub fn initialise(server: &Server, scale: usize, work: &Path) -> Result<f64, String> {
    let started = std::time::Instant::now();
    pgbench(
        server,
        &["-i".into(), "-s".into(), scale.to_string(), "-q".into()],
        work,
    )?;
    Ok(started.elapsed().as_secs_f64())
}

/// Brings `server` to its steady state before anything is measured, the same way for every
/// server: one full read of the accounts table (OmenDB caches the rows it reads; PostgreSQL's
/// scan fills the operating system's page cache), then `seconds` of untimed select-only
/// load at `clients` clients (PostgreSQL's shared buffers fill from random reads, not from a
/// sequential scan). Without it the first cell measured a cold cache: OmenDB caches rows when
/// first read, not when `pgbench -i` loads them.
pub fn warm_up(server: &Server, clients: usize, seconds: usize, work: &Path) -> Result<(), String> {
    psql(
        server,
        &["SELECT sum(abalance) FROM pgbench_accounts".into()],
    )?;
    let clients = clients.to_string();
    let threads = clients.parse::<usize>().unwrap_or(1).min(2).to_string();
    let seconds = seconds.to_string();
    let args = [
        "-S", "-n", "-M", "prepared", "-c", &clients, "-j", &threads, "-T", &seconds,
    ];
    pgbench(server, &args.map(String::from), work).map(drop)
}

/// The value after `label` in pgbench's summary.
fn summary_number(out: &str, label: &str) -> Option<f64> {
    let at = out.find(label)? + label.len();
    out[at..]
        .trim_start()
        .split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .next()?
        .parse()
        .ok()
}

/// The p-th percentile (0–1) of per-transaction latencies in pgbench's logs (`-l`) under `dir`,
/// in milliseconds; the logs are removed.
fn latency_percentiles(dir: &Path, quantiles: &[f64]) -> Vec<f64> {
    let mut micros: Vec<u64> = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if !path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("tx"))
        {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        micros.extend(
            text.lines()
                .filter_map(|l| l.split_whitespace().nth(2)?.parse::<u64>().ok()),
        );
        let _ = std::fs::remove_file(path);
    }
    micros.sort_unstable();
    quantiles
        .iter()
        .map(|q| match micros.len() {
            0 => f64::NAN,
            n => micros[((q * n as f64) as usize).min(n - 1)] as f64 / 1000.0,
        })
        .collect()
}

/// One measurement: TPS, p50 and p99 latency, failed transactions.
pub fn measure(
    server: &Server,
    workload: Workload,
    clients: usize,
    seconds: usize,
    protocol: &str,
    work: &Path,
) -> Result<Figures, String> {
    let logs = tempfile::tempdir_in(work).map_err(|e| e.to_string())?;
    let mut args: Vec<String> = [
        "-c",
        &clients.to_string(),
        "-j",
        &clients.min(2).to_string(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend([
        "-T".into(),
        seconds.to_string(),
        "-n".into(),
        "-M".into(),
        protocol.into(),
    ]);
    args.extend([
        "-l".into(),
        "--log-prefix".into(),
        logs.path().join("tx").to_string_lossy().into_owned(),
    ]);
    match workload {
        Workload::SelectOnly => args.push("-S".into()),
        Workload::Connect => args.extend(["-S".into(), "-C".into()]),
        Workload::TpcbLike => {}
        custom => {
            let file = logs.path().join("script.sql");
            std::fs::write(&file, custom.script().unwrap_or_default())
                .map_err(|e| e.to_string())?;
            args.extend(["-f".into(), file.to_string_lossy().into_owned()]);
        }
    }
    let out = pgbench(server, &args, logs.path())?;
    let tps = summary_number(&out, "tps =")
        .ok_or_else(|| format!("no tps in pgbench's output:\n{out}"))?;
    let failed = summary_number(&out, "number of failed transactions:").unwrap_or(0.0);
    let mut figures = vec![("throughput".to_string(), "tps", Better::Higher, tps)];
    for (name, ms) in ["p50", "p90", "p99", "p99.9"]
        .iter()
        .zip(latency_percentiles(logs.path(), &[0.5, 0.9, 0.99, 0.999]))
    {
        figures.push((format!("latency {name}"), "ms", Better::Lower, ms));
    }
    figures.push(("failed transactions".into(), "count", Better::Lower, failed));
    Ok(figures)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_loopback_floor_counts_echoed_round_trips() {
        let floor = loopback_round_trips(Duration::from_millis(50)).unwrap();
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        assert_eq!(floor.cross_core.is_some(), cores > 1, "{floor:?}");
        for trips in floor.cross_core.iter().chain([&floor.same_core]) {
            assert!(trips.per_s > 0.0, "{floor:?}");
            assert!(
                0.0 < trips.p50_us && trips.p50_us <= trips.p99_us,
                "{floor:?}"
            );
        }
    }

    #[test]
    fn pgbench_summaries_and_logs_are_read() {
        let out = "number of failed transactions: 3 (0.1%)\nlatency average = 1.2 ms\ntps = 1234.567 (without initial connection time)\n";
        assert_eq!(summary_number(out, "tps ="), Some(1234.567));
        assert_eq!(
            summary_number(out, "number of failed transactions:"),
            Some(3.0)
        );
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let log: String = (1..=100)
            .map(|i| format!("0 {i} {} 0 1700000000 0\n", i * 1000))
            .collect();
        std::fs::write(dir.path().join("tx.1"), log).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            latency_percentiles(dir.path(), &[0.5, 0.99]),
            vec![51.0, 100.0]
        );
        assert!(!dir.path().join("tx.1").exists());
    }
}
