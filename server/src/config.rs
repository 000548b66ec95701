use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;
use omendb_engine::storage::{StorageConfig, StorageKind};

/// OmenDB: a PostgreSQL-compatible database with a learned primary index.
///
/// Every option can also come from an `OMENDB_…` environment variable or a TOML file given
/// with `--config` (keys as the long options, e.g. `listen = "0.0.0.0:5433"`,
/// `cache-size = "1GiB"`); the command line wins over the file, the file over the environment.
#[derive(Debug, Parser)]
#[command(name = "omendb-server", version, about, args_override_self = true)]
pub struct Args {
    /// A TOML file of options.
    #[arg(long, env = "OMENDB_CONFIG")]
    pub config: Option<PathBuf>,

    /// Address for PostgreSQL clients (pgwire).
    #[arg(long, default_value = "127.0.0.1:5433", env = "OMENDB_LISTEN")]
    pub listen: SocketAddr,

    /// Address for the HTTP API and the web console.
    #[arg(long, default_value = "127.0.0.1:8080", env = "OMENDB_HTTP_LISTEN")]
    pub http_listen: SocketAddr,

    /// Directory holding the database files (created if missing).
    #[arg(long, default_value = "./omendb-data", env = "OMENDB_DATA_DIR")]
    pub data_dir: PathBuf,

    /// Storage backend: rocksdb (native default), redb or memory (nothing is kept).
    #[arg(long, env = "OMENDB_STORAGE")]
    pub storage: Option<String>,

    /// Directory of the built web console, served at `/`.
    #[arg(long, default_value = "web-console/dist", env = "OMENDB_CONSOLE_DIR")]
    pub console_dir: PathBuf,

    /// Bytes of decoded rows the row cache may hold (`512MiB`, `2GiB`, or a number of bytes).
    #[arg(long, default_value = "256MiB", env = "OMENDB_CACHE_SIZE", value_parser = parse_bytes)]
    pub cache_size: usize,

    /// Memory the analytics engine (DataFusion) may use for one query's hash tables, sorts
    /// and aggregates; a query that needs more fails with 53200 (`1GiB`, or bytes).
    #[arg(long, default_value = "1GiB", env = "OMENDB_ANALYTICS_MEMORY", value_parser = parse_bytes)]
    pub analytics_memory: usize,

    /// Memory for table columns the analytics engine has converted to Arrow, kept for later
    /// queries over tables that have not changed since (`1GiB`, or bytes; 0 keeps none).
    #[arg(long, default_value = "1GiB", env = "OMENDB_ANALYTICS_CACHE", value_parser = parse_bytes)]
    pub analytics_cache: usize,

    /// Whether a commit waits until it is on stable storage (`on`) or returns once written
    /// (`off`: a crash may lose the last moments' commits, never corrupt the database).
    #[arg(long, default_value = "on", env = "OMENDB_SYNCHRONOUS_COMMIT", value_parser = parse_on_off, action = clap::ArgAction::Set)]
    pub synchronous_commit: bool,

    /// Statement timeout every session starts with (`0`: none; `500ms`, `30s`, `5min`).
    #[arg(long, default_value = "0", env = "OMENDB_STATEMENT_TIMEOUT")]
    pub statement_timeout: String,

    /// How clients authenticate: `scram` (SCRAM-SHA-256 with the passwords of the catalog's
    /// roles) or `trust` (any user name, no password; only when listening on loopback).
    #[arg(long, value_enum, default_value = "scram", env = "OMENDB_AUTH")]
    pub auth: crate::auth::AuthMode,

    /// A PEM certificate (chain) for TLS on pgwire; with `--tls-key`, clients may negotiate
    /// TLS (psql's `sslmode=require`).
    #[arg(long, env = "OMENDB_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// The PEM private key of `--tls-cert`.
    #[arg(long, env = "OMENDB_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// Refuse pgwire connections that did not negotiate TLS (28000).
    #[arg(long, env = "OMENDB_REQUIRE_TLS", requires = "tls_cert")]
    pub require_tls: bool,

    /// The superuser created on first start (when there are no roles yet), with the password
    /// in the environment variable OMENDB_ADMIN_PASSWORD, or else a generated one written to
    /// `<data-dir>/initial-admin-password`.
    #[arg(long, default_value = "omendb", env = "OMENDB_ADMIN_USER")]
    pub admin_user: String,

    /// How long a session may sit idle inside a transaction block before it is ended (its
    /// transaction rolled back, its next message answered with 25P03); `0`: never. Sessions
    /// can change it with `SET idle_in_transaction_session_timeout`.
    #[arg(long, default_value = "0", env = "OMENDB_IDLE_IN_TRANSACTION_TIMEOUT")]
    pub idle_in_transaction_timeout: String,

    /// Most pgwire connections open at once; more are refused with 53300.
    #[arg(long, default_value = "100", env = "OMENDB_MAX_CONNECTIONS")]
    pub max_connections: usize,

    /// Threads that serve pgwire connections, each an event loop of its own (`0`: one per
    /// core; then a new connection joins the loop of the core it arrives on, unless that loop
    /// is much busier than the others).
    #[arg(long, default_value = "0", env = "OMENDB_CONNECTION_THREADS")]
    pub connection_threads: usize,

    /// On SIGINT/SIGTERM, how long running statements may go on before they are cancelled
    /// (`0`, `500ms`, `10s`).
    #[arg(long, default_value = "10s", env = "OMENDB_SHUTDOWN_GRACE", value_parser = parse_duration)]
    pub shutdown_grace: std::time::Duration,

    /// How long an HTTP API token from `/api/login` lives (`30min`, `12h`).
    #[arg(long, default_value = "12h", env = "OMENDB_TOKEN_TTL", value_parser = parse_duration)]
    pub token_ttl: std::time::Duration,

    /// An origin (`https://console.example.com`) whose pages may call the HTTP API from a
    /// browser; repeat or separate with commas; `*` allows any. None: same origin only.
    #[arg(long, env = "OMENDB_CORS_ORIGIN", value_delimiter = ',')]
    pub cors_origin: Vec<String>,

    /// Log filter, e.g. `info`, `debug`, `omendb_server=trace`.
    #[arg(long, default_value = "info", env = "OMENDB_LOG")]
    pub log_level: String,
}

impl Args {
    pub fn storage_config(&self) -> omendb_engine::Result<StorageConfig> {
        let kind = match &self.storage {
            Some(name) => name.parse()?,
            None => StorageKind::default_for_build(),
        };
        let data_dir = (kind != StorageKind::Memory).then(|| self.data_dir.clone());
        Ok(StorageConfig::new(kind, data_dir))
    }
}

/// A size: a number of bytes, or a number with KiB, MiB or GiB (KB/MB/GB read as the same).
fn parse_bytes(text: &str) -> Result<usize, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let number: usize = number
        .parse()
        .map_err(|_| format!("not a size: {text:?} (e.g. 512MiB)"))?;
    let scale: usize = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => {
            return Err(format!(
                "unknown size unit in {text:?} (use KiB, MiB or GiB)"
            ));
        }
    };
    number
        .checked_mul(scale)
        .ok_or_else(|| format!("size too large: {text:?}"))
}

fn parse_on_off(text: &str) -> Result<bool, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "on" | "true" | "yes" | "1" => Ok(true),
        "off" | "false" | "no" | "0" => Ok(false),
        _ => Err(format!("expected on or off, not {text:?}")),
    }
}

/// A duration: a number with ms, s, min or h (a bare number is seconds).
fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("not a duration: {text:?} (e.g. 10s)"))?;
    let millis = match unit.trim() {
        "ms" => 1,
        "" | "s" => 1_000,
        "min" => 60_000,
        "h" => 3_600_000,
        _ => return Err(format!("unknown unit in {text:?} (use ms, s, min or h)")),
    };
    Ok(std::time::Duration::from_millis(
        number.saturating_mul(millis),
    ))
}

impl Args {
    /// The command line, with the options of a `--config` file (or `OMENDB_CONFIG`) put before
    /// the command line's own, so that those win.
    pub fn load() -> anyhow::Result<Self> {
        use anyhow::Context as _;
        let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
        let first = Self::parse_from(&argv);
        let Some(path) = first.config.clone() else {
            return Ok(first);
        };
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading the config file {}", path.display()))?;
        let table: toml::Table = toml::from_str(&text)
            .with_context(|| format!("parsing the config file {}", path.display()))?;
        let mut args = vec![argv[0].clone()];
        for (key, value) in table {
            let flag = format!("--{}", key.replace('_', "-"));
            let value = match value {
                toml::Value::String(s) => s,
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Float(f) => f.to_string(),
                toml::Value::Boolean(b) => if b { "on" } else { "off" }.to_owned(),
                other => anyhow::bail!(
                    "config file {}: {key} must be a string, number or boolean, not {}",
                    path.display(),
                    other.type_str()
                ),
            };
            args.push(flag.into());
            args.push(value.into());
        }
        args.extend(argv.into_iter().skip(1));
        Self::try_parse_from(args)
            .map_err(|e| anyhow::anyhow!("config file {}: {}", path.display(), e.render()))
    }
}
