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
    /// SET or SHOW of a parameter OmenDB does not have.
    #[error("unrecognized configuration parameter \"{0}\"")]
    UnrecognizedParameter(String),
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
    #[error("new row for relation \"{table}\" violates check constraint \"{constraint}\"")]
    CheckViolation { table: String, constraint: String },
    #[error("duplicate key value violates unique constraint \"{constraint}\"")]
    UniqueViolation { constraint: String, detail: String },

    #[error("{0}")]
    Syntax(String),
    #[error("{0}")]
    StatementTooComplex(String),
    /// A query went past one of the engine's limits (a runaway recursive query).
    #[error("{0}")]
    ProgramLimitExceeded(String),
    #[error("column \"{0}\" does not exist")]
    UnknownColumn(String),
    #[error("column reference \"{0}\" is ambiguous")]
    AmbiguousColumn(String),
    #[error("missing FROM-clause entry for table \"{0}\"")]
    MissingFromEntry(String),
    #[error("table name \"{0}\" specified more than once")]
    DuplicateAlias(String),
    #[error("{0}")]
    InvalidColumnReference(String),
    #[error("{0}")]
    UndefinedFunction(String),
    #[error("{0}")]
    CannotCast(String),
    /// A type error in an expression (PostgreSQL's datatype_mismatch).
    #[error("{0}")]
    Datatype(String),
    /// A column or aggregate used where grouping does not allow it.
    #[error("{0}")]
    Grouping(String),
    /// An object used as something it is not (a plain function called with OVER).
    #[error("{0}")]
    WrongObjectType(String),
    /// A window function call where none is allowed.
    #[error("{0}")]
    Windowing(String),
    #[error("there is no parameter ${0}")]
    UndefinedParameter(usize),
    #[error("bind message supplies {given} parameters, but prepared statement requires {expected}")]
    ParameterCount { expected: usize, given: usize },
    #[error("more than one row returned by a subquery used as an expression")]
    CardinalityViolation,
    /// A SET with a value the parameter does not take.
    #[error("{0}")]
    InvalidParameterValue(String),
    /// A function argument out of its domain (negative square root, zero field position…).
    #[error("{0}")]
    InvalidArgument(String),
    #[error("{0}")]
    InvalidArgumentForLogarithm(String),
    #[error("{0}")]
    InvalidArgumentForPower(String),
    #[error("division by zero")]
    DivisionByZero,
    #[error("{0}")]
    InvalidText(String),
    /// A regular expression that does not compile.
    #[error("invalid regular expression: {0}")]
    InvalidRegex(String),
    /// Date/time input in a format no parser accepts (PostgreSQL's invalid_datetime_format).
    #[error("{0}")]
    InvalidDatetime(String),
    /// A date/time field or result outside its range (month 13, a timestamp past year 294276).
    #[error("{0}")]
    DatetimeOutOfRange(String),
    /// A string longer than its column's `VARCHAR(n)`/`CHAR(n)` allows.
    #[error("value too long for type {0}")]
    StringTooLong(String),
    #[error("LIMIT must not be negative")]
    NegativeLimit,
    #[error("OFFSET must not be negative")]
    NegativeOffset,
    #[error("current transaction is aborted, commands ignored until end of transaction block")]
    InFailedTransaction,
    #[error("{0}")]
    NoActiveTransaction(&'static str),
    #[error("{0}")]
    ActiveTransaction(&'static str),
    #[error("savepoint \"{0}\" does not exist")]
    UndefinedSavepoint(String),
    /// Any other error, located at a character position (1-based) of the SQL text.
    #[error("{error}")]
    At { position: usize, error: Box<Error> },
    /// An error while loading COPY data, with where it happened (PostgreSQL's CONTEXT:
    /// `COPY t, line 3, column b: "x"`).
    #[error("{error}")]
    Copy { context: String, error: Box<Error> },
    /// COPY data that does not fit the format (a missing or extra column, an open quote).
    #[error("{0}")]
    BadCopyData(String),
    #[error("role \"{0}\" already exists")]
    DuplicateRole(String),
    #[error("role \"{0}\" does not exist")]
    UndefinedRole(String),
    /// The object is in use (the current user, for DROP ROLE).
    #[error("{0}")]
    ObjectInUse(String),
    /// The session's role may not do this.
    #[error("permission denied: {0}")]
    InsufficientPrivilege(String),
    /// Two transactions would wait for each other forever; this one is rolled back.
    #[error("deadlock detected")]
    Deadlock,
    /// A row lock that cannot be waited for (single-threaded hosts).
    #[error("could not obtain lock on row: another transaction of this thread holds it")]
    LockNotAvailable,
    /// A row lock another transaction holds, met by a statement run without waiting (see
    /// `Session::execute_prepared_without_waiting`, which undoes the statement and says so
    /// instead of returning this).
    #[error("could not obtain lock on row without waiting")]
    WouldWait,
    /// The client abandoned a COPY FROM STDIN.
    #[error("COPY from stdin failed: {0}")]
    CopyFailed(String),
    /// Bytes that are not valid UTF-8.
    #[error("{0}")]
    InvalidEncoding(String),

    /// Binary input in the wrong format (e.g. bytes that are not a database export).
    #[error("{0}")]
    InvalidBinary(String),

    /// A query needed more memory than its limit allows.
    #[error("out of memory: {0}")]
    OutOfMemory(String),

    /// The statement was cancelled or ran past its timeout.
    #[error("{0}")]
    QueryCanceled(&'static str),
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
            Error::OutOfMemory(_) => "53200",
            Error::UndefinedTable(_) => "42P01",
            Error::DuplicateTable(_) | Error::DuplicateObject(_) => "42P07",
            Error::UndefinedColumn { .. } => "42703",
            Error::DuplicateColumn(_) => "42701",
            Error::UndefinedObject(_) | Error::UnrecognizedParameter(_) => "42704",
            Error::InvalidDefinition(_) => "42P16",
            Error::WrongColumnCount { .. } => "42601",
            Error::TypeMismatch { .. } => "42804",
            Error::NumericOutOfRange(_) => "22003",
            Error::NotNullViolation { .. } => "23502",
            Error::UniqueViolation { .. } => "23505",
            Error::CheckViolation { .. } => "23514",
            Error::Syntax(_) => "42601",
            Error::StatementTooComplex(_) => "54001",
            Error::ProgramLimitExceeded(_) => "54000",
            Error::UnknownColumn(_) => "42703",
            Error::AmbiguousColumn(_) => "42702",
            Error::MissingFromEntry(_) => "42P01",
            Error::DuplicateAlias(_) => "42712",
            Error::InvalidColumnReference(_) => "42P10",
            Error::UndefinedFunction(_) => "42883",
            Error::CannotCast(_) => "42846",
            Error::Datatype(_) => "42804",
            Error::Grouping(_) => "42803",
            Error::Windowing(_) => "42P20",
            Error::WrongObjectType(_) => "42809",
            Error::UndefinedParameter(_) => "42P02",
            Error::ParameterCount { .. } => "08P01",
            Error::CardinalityViolation => "21000",
            Error::InvalidArgument(_) | Error::InvalidParameterValue(_) => "22023",
            Error::InvalidArgumentForLogarithm(_) => "2201E",
            Error::InvalidArgumentForPower(_) => "2201F",
            Error::DivisionByZero => "22012",
            Error::InvalidText(_) => "22P02",
            Error::InvalidRegex(_) => "2201B",
            Error::InvalidDatetime(_) => "22007",
            Error::DatetimeOutOfRange(_) => "22008",
            Error::StringTooLong(_) => "22001",
            Error::NegativeLimit => "2201W",
            Error::NegativeOffset => "2201X",
            Error::InFailedTransaction => "25P02",
            Error::NoActiveTransaction(_) => "25P01",
            Error::ActiveTransaction(_) => "25001",
            Error::UndefinedSavepoint(_) => "3B001",
            Error::At { error, .. } | Error::Copy { error, .. } => error.sqlstate(),
            Error::BadCopyData(_) => "22P04",
            Error::Deadlock => "40P01",
            Error::LockNotAvailable | Error::WouldWait => "55P03",
            Error::DuplicateRole(_) => "42710",
            Error::UndefinedRole(_) => "42704",
            Error::InsufficientPrivilege(_) => "42501",
            Error::ObjectInUse(_) => "55006",
            Error::CopyFailed(_) => "57014",
            Error::InvalidEncoding(_) => "22021",
            Error::InvalidBinary(_) => "22P03",
            Error::QueryCanceled(_) => "57014",
            Error::SerializationFailure(_) => "40001",
            Error::ReadOnlyTransaction(_) => "25006",
        }
    }

    /// Whether retrying the same request may succeed (serialization failures, deadlocks).
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::At { error, .. } | Error::Copy { error, .. } => error.is_retryable(),
            other => matches!(other, Error::SerializationFailure(_) | Error::Deadlock),
        }
    }

    /// This error, located at `position` (1-based, in characters) in the SQL text. An error
    /// that already has a position keeps it.
    pub fn at(self, position: usize) -> Error {
        match self {
            Error::At { .. } => self,
            error if position == 0 => error,
            error => Error::At {
                position,
                error: Box::new(error),
            },
        }
    }

    /// Where in the SQL text the error is, if known (PostgreSQL's POSITION field).
    pub fn position(&self) -> Option<usize> {
        match self {
            Error::At { position, .. } => Some(*position),
            _ => None,
        }
    }

    /// Extra detail for the client (PostgreSQL's DETAIL field), where there is some.
    pub fn detail(&self) -> Option<&str> {
        match self {
            Error::UniqueViolation { detail, .. } => Some(detail),
            Error::At { error, .. } | Error::Copy { error, .. } => error.detail(),
            _ => None,
        }
    }

    /// Where the error happened beyond the SQL text (PostgreSQL's CONTEXT field), if known.
    pub fn context(&self) -> Option<&str> {
        match self {
            Error::Copy { context, .. } => Some(context),
            Error::At { error, .. } => error.context(),
            _ => None,
        }
    }
}
