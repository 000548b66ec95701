use thiserror::Error as ThisError;

/// Result type of every fallible engine call.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The engine's error: a closed set of kinds, each with a PostgreSQL SQLSTATE.
///
/// Adapters (the pgwire server, the wasm package) map it to their wire form in one place, using
/// [`Error::sqlstate`] and the `Display` text as the message.
#[derive(Debug, Clone, PartialEq, ThisError)]
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

    #[error("relation \"{0}\" does not exist")]
    UndefinedTable(String),
    #[error("relation \"{0}\" already exists")]
    DuplicateTable(String),
    #[error("column \"{column}\" of relation \"{table}\" does not exist")]
    UndefinedColumn { table: String, column: String },
    #[error("column \"{0}\" specified more than once")]
    DuplicateColumn(String),
    /// An index or other named object is missing.
    #[error("{0} does not exist")]
    UndefinedObject(String),
    #[error("relation \"{0}\" already exists")]
    DuplicateObject(String),
    #[error("invalid table definition: {0}")]
    InvalidDefinition(String),

    #[error("table \"{table}\" has {expected} columns but the row has {found}")]
    WrongColumnCount {
        table: String,
        expected: usize,
        found: usize,
    },
    #[error("column \"{column}\" is of type {expected} but the value is of type {found}")]
    TypeMismatch {
        column: String,
        expected: &'static str,
        found: &'static str,
    },
    #[error("{0}")]
    NumericOutOfRange(String),
    #[error(
        "null value in column \"{column}\" of relation \"{table}\" violates not-null constraint"
    )]
    NotNullViolation { table: String, column: String },
    #[error("duplicate key value violates unique constraint \"{constraint}\"")]
    UniqueViolation { constraint: String, detail: String },

    /// A concurrent transaction committed a conflicting write first; retrying may succeed.
    #[error("could not serialize access due to {0}")]
    SerializationFailure(String),
    #[error("cannot execute {0} in a read-only transaction")]
    ReadOnlyTransaction(&'static str),
}

impl Error {
    /// The PostgreSQL SQLSTATE code for this error.
    pub fn sqlstate(&self) -> &'static str {
        match self {
            Error::Storage { .. } => "58030",  // io_error
            Error::Corrupt(_) => "XX001",      // data_corrupted
            Error::Config(_) => "F0000",       // config_file_error
            Error::NotSupported(_) => "0A000", // feature_not_supported
            Error::UndefinedTable(_) => "42P01",
            Error::DuplicateTable(_) | Error::DuplicateObject(_) => "42P07",
            Error::UndefinedColumn { .. } => "42703",
            Error::DuplicateColumn(_) => "42701",
            Error::UndefinedObject(_) => "42704",
            Error::InvalidDefinition(_) => "42P16",
            Error::WrongColumnCount { .. } => "42601",
            Error::TypeMismatch { .. } => "42804",
            Error::NumericOutOfRange(_) => "22003",
            Error::NotNullViolation { .. } => "23502",
            Error::UniqueViolation { .. } => "23505",
            Error::SerializationFailure(_) => "40001",
            Error::ReadOnlyTransaction(_) => "25006",
        }
    }

    /// Whether retrying the same request may succeed (serialization failures, deadlocks).
    pub fn is_retryable(&self) -> bool {
        matches!(self, Error::SerializationFailure(_))
    }

    /// Extra detail for the client (PostgreSQL's DETAIL field), where there is some.
    pub fn detail(&self) -> Option<&str> {
        match self {
            Error::UniqueViolation { detail, .. } => Some(detail),
            _ => None,
        }
    }
}
