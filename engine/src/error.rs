use thiserror::Error as ThisError;

/// Result type of every fallible engine call.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The engine's error: a closed set of kinds, each with a PostgreSQL SQLSTATE.
///
/// Adapters (the pgwire server, the wasm package) map it to their wire form in one place, using
/// [`Error::sqlstate`] and the `Display` text as the message.
#[derive(Debug, ThisError)]
pub enum Error {
    /// The storage backend failed (I/O error, corruption reported by the backend).
    #[error("storage error in {backend}: {message}")]
    Storage {
        backend: &'static str,
        message: String,
    },
    /// Stored bytes could not be decoded: a bug or on-disk corruption, never user input.
    #[error("corrupt data: {0}")]
    Corrupt(String),
    /// A configuration value is invalid (bad path, unknown backend, out-of-range size).
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The request names a feature this build of OmenDB does not have (yet).
    #[error("not supported: {0}")]
    NotSupported(String),
}

impl Error {
    /// The PostgreSQL SQLSTATE code for this error.
    pub fn sqlstate(&self) -> &'static str {
        match self {
            Error::Storage { .. } => "58030",  // io_error
            Error::Corrupt(_) => "XX001",      // data_corrupted
            Error::Config(_) => "F0000",       // config_file_error
            Error::NotSupported(_) => "0A000", // feature_not_supported
        }
    }

    /// Whether retrying the same request may succeed (serialization failures, deadlocks).
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Storage { .. }
            | Error::Corrupt(_)
            | Error::Config(_)
            | Error::NotSupported(_) => false,
        }
    }
}
