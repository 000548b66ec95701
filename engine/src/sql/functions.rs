//! Scalar functions: their names, signatures (how arguments are converted, what they return)
//! and implementations. NULL in, NULL out, unless a function says otherwise (COALESCE,
//! CONCAT, GREATEST/LEAST skip NULLs).

use std::cmp::Ordering;

use rust_decimal::RoundingStrategy;

use super::expr::{BoundExpr, compare, out_of_range};
use super::operators::binary;
use super::parser::ast::BinaryOp;
use super::temporal;
use crate::types::{DataType, Decimal, SmolStr, Value, json_typeof};
use crate::{Error, Result};

/// `current_user` of a session that has none set (the embedded engine).
pub const DEFAULT_USER: &str = "omendb";

thread_local! {
    /// The role of the session whose statement runs on this thread (`current_user`).
    static SESSION_USER: std::cell::RefCell<Option<std::sync::Arc<str>>> =
        const { std::cell::RefCell::new(None) };
}

/// Sets what `current_user` returns for the statements run next on this thread.
pub fn set_session_user(user: Option<&std::sync::Arc<str>>) {
    SESSION_USER.with_borrow_mut(|current| {
        // The same session again (the common case) costs no reference counting.
        let same = match (current.as_ref(), user) {
            (Some(a), Some(b)) => std::sync::Arc::ptr_eq(a, b),
            (None, None) => true,
            _ => false,
        };
        if !same {
            *current = user.cloned();
        }
    });
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScalarFunc {
    Coalesce,
    NullIf,
    Greatest,
    Least,
    Abs,
    Round,
    Ceil,
    Floor,
    Sqrt,
    Power,
    Exp,
    Ln,
    Log10,
    Mod,
    Sign,
    Pi,
    Lower,
    Upper,
    Length,
    Trim,
    LTrim,
    RTrim,
    Substr,
    Replace,
    Left,
    Right,
    Repeat,
    Reverse,
    StrPos,
    SplitPart,
    Concat,
    ConcatWs,
    Trunc,
    Random,
    /// `now()`, `current_timestamp`, `transaction_timestamp()`: when the transaction began.
    Now,
    StatementTimestamp,
    ClockTimestamp,
    CurrentDate,
    CurrentTime,
    LocalTimestamp,
    /// `extract(field from x)` (NUMERIC) and `date_part('field', x)` (double precision).
    Extract,
    DatePart,
    DateTrunc,
    Age,
    MakeDate,
    MakeTime,
    MakeTimestamp,
    ToTimestamp,
    GenRandomUuid,
    JsonTypeof,
    JsonArrayLength,
    /// `version()`: a PostgreSQL-style version string drivers can parse.
    Version,
    CurrentDatabase,
    CurrentUser,
    CurrentSchema,
    /// `ARRAY[a, b, …]` (bound by the planner, not by name).
    MakeArray,
    /// `array[i]` (bound by the planner).
    ArrayElement,
    /// `x op ANY (array)` / `x op ALL (array)` (bound by the planner).
    AnyAll {
        op: BinaryOp,
        all: bool,
    },
    ArrayToString,
    ArrayUpper,
    ArrayLower,
    ArrayLength,
    Cardinality,
    /// `pg_get_expr(text, relation)`: the catalogs keep expressions as SQL already.
    PgGetExpr,
    /// `obj_description` and friends: OmenDB keeps no comments.
    NoDescription,
    /// `pg_table_is_visible`: every relation is in the search path (public or pg_catalog).
    IsVisible,
    FormatType,
    EncodingToChar,
    ToRegtype,
    /// `pg_relation_is_publishable`: there is no logical replication.
    NotPublishable,
    /// `pg_get_statisticsobjdef_columns`: there are no statistics objects.
    NoStatistics,
    /// `pg_get_serial_sequence`: SERIAL columns have counters, not sequences.
    NoSequence,
    /// `json_build_object(key, value, …)`.
    JsonBuildObject,
    /// `unnest(array)` in a select list: the array, whose elements become rows.
    SetUnnest,
    /// `generate_subscripts(array, dim)` in a select list: its subscripts, as rows.
    SetSubscripts,
}

/// How an argument is converted before the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Param {
    Text,
    Integer,
    Double,
    /// Every argument converted to one common type (COALESCE, GREATEST, …).
    Common,
    /// Anything, as it is (CONCAT).
    Any,
    /// A number: NUMERIC and floats as they are, integers as double precision.
    Number,
    /// A date, timestamp, timestamptz, time or interval as it is; unknown input a timestamp.
    Temporal,
    /// JSON or JSONB as it is; unknown input JSON.
    Json,
    /// A timestamp or timestamptz as it is; a date as timestamptz, unknown input a timestamp.
    Timestamp,
}

/// A function's result type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Returns {
    Fixed(DataType),
    /// The common type of the `Common` arguments.
    Common,
    /// The type of the argument at this position (after conversion).
    Arg(usize),
}

/// A function's signature: fixed parameters, then optional ones, then a repeatable one.
#[derive(Debug, Clone, Copy)]
pub struct Signature {
    pub required: &'static [Param],
    pub optional: &'static [Param],
    pub repeated: Option<Param>,
    pub result: Returns,
}

const fn sig(
    required: &'static [Param],
    optional: &'static [Param],
    repeated: Option<Param>,
    result: Returns,
) -> Signature {
    Signature {
        required,
        optional,
        repeated,
        result,
    }
}

impl ScalarFunc {
    pub fn from_name(name: &str) -> Option<Self> {
        use ScalarFunc::*;
        Some(match name {
            "coalesce" => Coalesce,
            "nullif" => NullIf,
            "greatest" => Greatest,
            "least" => Least,
            "abs" => Abs,
            "round" => Round,
            "ceil" | "ceiling" => Ceil,
            "floor" => Floor,
            "sqrt" => Sqrt,
            "power" | "pow" => Power,
            "exp" => Exp,
            "ln" => Ln,
            "log" | "log10" => Log10,
            "mod" => Mod,
            "sign" => Sign,
            "pi" => Pi,
            "lower" => Lower,
            "upper" => Upper,
            "length" | "char_length" | "character_length" => Length,
            "trim" | "btrim" => Trim,
            "ltrim" => LTrim,
            "rtrim" => RTrim,
            "substr" | "substring" => Substr,
            "replace" => Replace,
            "left" => Left,
            "right" => Right,
            "repeat" => Repeat,
            "reverse" => Reverse,
            "strpos" => StrPos,
            "split_part" => SplitPart,
            "concat" => Concat,
            "concat_ws" => ConcatWs,
            "trunc" => Trunc,
            "random" => Random,
            "now" | "current_timestamp" | "transaction_timestamp" => Now,
            "statement_timestamp" => StatementTimestamp,
            "clock_timestamp" => ClockTimestamp,
            "current_date" => CurrentDate,
            "current_time" | "localtime" => CurrentTime,
            "localtimestamp" => LocalTimestamp,
            "extract" => Extract,
            "date_part" => DatePart,
            "date_trunc" => DateTrunc,
            "age" => Age,
            "make_date" => MakeDate,
            "make_time" => MakeTime,
            "make_timestamp" => MakeTimestamp,
            "to_timestamp" => ToTimestamp,
            "gen_random_uuid" | "uuid_generate_v4" => GenRandomUuid,
            "json_typeof" | "jsonb_typeof" => JsonTypeof,
            "json_array_length" | "jsonb_array_length" => JsonArrayLength,
            "version" => Version,
            "current_database" | "current_catalog" => CurrentDatabase,
            "array_to_string" => ArrayToString,
            "array_upper" => ArrayUpper,
            "array_lower" => ArrayLower,
            "array_length" => ArrayLength,
            "cardinality" => Cardinality,
            "pg_get_expr" => PgGetExpr,
            "obj_description" | "col_description" | "shobj_description" => NoDescription,
            "pg_table_is_visible" | "pg_type_is_visible" => IsVisible,
            "format_type" => FormatType,
            "pg_encoding_to_char" => EncodingToChar,
            "to_regtype" => ToRegtype,
            "pg_relation_is_publishable" => NotPublishable,
            "pg_get_statisticsobjdef_columns" => NoStatistics,
            "pg_get_serial_sequence" => NoSequence,
            "json_build_object" | "jsonb_build_object" => JsonBuildObject,
            "unnest" => SetUnnest,
            "generate_subscripts" => SetSubscripts,
            "current_user" | "session_user" | "user" | "current_role" => CurrentUser,
            "current_schema" => CurrentSchema,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        use ScalarFunc::*;
        match self {
            Coalesce => "coalesce",
            NullIf => "nullif",
            Greatest => "greatest",
            Least => "least",
            Abs => "abs",
            Round => "round",
            Ceil => "ceil",
            Floor => "floor",
            Sqrt => "sqrt",
            Power => "power",
            Exp => "exp",
            Ln => "ln",
            Log10 => "log",
            Mod => "mod",
            Sign => "sign",
            Pi => "pi",
            Lower => "lower",
            Upper => "upper",
            Length => "length",
            Trim => "btrim",
            LTrim => "ltrim",
            RTrim => "rtrim",
            Substr => "substr",
            Replace => "replace",
            Left => "left",
            Right => "right",
            Repeat => "repeat",
            Reverse => "reverse",
            StrPos => "strpos",
            SplitPart => "split_part",
            Concat => "concat",
            ConcatWs => "concat_ws",
            Trunc => "trunc",
            Random => "random",
            Now => "now",
            StatementTimestamp => "statement_timestamp",
            ClockTimestamp => "clock_timestamp",
            CurrentDate => "current_date",
            CurrentTime => "current_time",
            LocalTimestamp => "localtimestamp",
            Extract => "extract",
            DatePart => "date_part",
            DateTrunc => "date_trunc",
            Age => "age",
            MakeDate => "make_date",
            MakeTime => "make_time",
            MakeTimestamp => "make_timestamp",
            ToTimestamp => "to_timestamp",
            GenRandomUuid => "gen_random_uuid",
            JsonTypeof => "json_typeof",
            JsonArrayLength => "json_array_length",
            Version => "version",
            CurrentDatabase => "current_database",
            CurrentUser => "current_user",
            CurrentSchema => "current_schema",
            MakeArray => "array",
            ArrayElement => "subscript",
            AnyAll { all: false, .. } => "any",
            AnyAll { all: true, .. } => "all",
            ArrayToString => "array_to_string",
            ArrayUpper => "array_upper",
            ArrayLower => "array_lower",
            ArrayLength => "array_length",
            Cardinality => "cardinality",
            PgGetExpr => "pg_get_expr",
            NoDescription => "obj_description",
            IsVisible => "pg_table_is_visible",
            FormatType => "format_type",
            EncodingToChar => "pg_encoding_to_char",
            ToRegtype => "to_regtype",
            NotPublishable => "pg_relation_is_publishable",
            NoStatistics => "pg_get_statisticsobjdef_columns",
            NoSequence => "pg_get_serial_sequence",
            JsonBuildObject => "json_build_object",
            SetUnnest => "unnest",
            SetSubscripts => "generate_subscripts",
        }
    }

    /// Whether the function returns a set of rows (allowed at the top of a select-list item,
    /// where each element of the array it returns becomes a row).
    pub fn returns_set(self) -> bool {
        matches!(self, ScalarFunc::SetUnnest | ScalarFunc::SetSubscripts)
    }

    /// Whether the function reads the clock the session sets for each statement.
    pub fn reads_statement_clock(self) -> bool {
        use ScalarFunc::*;
        matches!(
            self,
            Now | StatementTimestamp | CurrentDate | CurrentTime | LocalTimestamp | Age
        )
    }

    /// Whether two calls in one statement can differ (`random()`, not `now()`).
    pub fn varies_per_call(self) -> bool {
        matches!(
            self,
            ScalarFunc::Random | ScalarFunc::GenRandomUuid | ScalarFunc::ClockTimestamp
        )
    }

    /// Whether the function can return a different value for the same arguments (so a call
    /// is never evaluated while planning).
    pub fn is_volatile(self) -> bool {
        use ScalarFunc::*;
        matches!(
            self,
            Random
                | Now
                | StatementTimestamp
                | ClockTimestamp
                | CurrentDate
                | CurrentTime
                | LocalTimestamp
                | GenRandomUuid
                // The session's, known when the statement runs.
                | CurrentUser
        ) || self == Age
    }

    pub fn signature(self) -> Signature {
        use DataType as T;
        use Param::*;
        use ScalarFunc::*;
        match self {
            Coalesce => sig(&[Common], &[], Some(Common), Returns::Common),
            NullIf => sig(&[Common, Common], &[], None, Returns::Common),
            Greatest | Least => sig(&[Common], &[], Some(Common), Returns::Common),
            Abs | Ceil | Floor | Sign => sig(&[Number], &[], None, Returns::Arg(0)),
            Round | Trunc => sig(&[Number], &[Integer], None, Returns::Arg(0)),
            Sqrt | Exp | Ln | Log10 => sig(&[Double], &[], None, Returns::Fixed(T::Double)),
            Power => sig(&[Double, Double], &[], None, Returns::Fixed(T::Double)),
            Mod => sig(&[Integer, Integer], &[], None, Returns::Fixed(T::BigInt)),
            Pi | Random => sig(&[], &[], None, Returns::Fixed(T::Double)),
            Lower | Upper | Reverse => sig(&[Text], &[], None, Returns::Fixed(T::Text)),
            Length => sig(&[Text], &[], None, Returns::Fixed(T::Integer)),
            Trim | LTrim | RTrim => sig(&[Text], &[Text], None, Returns::Fixed(T::Text)),
            Substr => sig(&[Text, Integer], &[Integer], None, Returns::Fixed(T::Text)),
            Replace => sig(&[Text, Text, Text], &[], None, Returns::Fixed(T::Text)),
            Left | Right | Repeat => sig(&[Text, Integer], &[], None, Returns::Fixed(T::Text)),
            StrPos => sig(&[Text, Text], &[], None, Returns::Fixed(T::Integer)),
            SplitPart => sig(&[Text, Text, Integer], &[], None, Returns::Fixed(T::Text)),
            Concat => sig(&[], &[], Some(Any), Returns::Fixed(T::Text)),
            ConcatWs => sig(&[Text], &[], Some(Any), Returns::Fixed(T::Text)),
            Now | StatementTimestamp | ClockTimestamp => {
                sig(&[], &[], None, Returns::Fixed(T::TimestampTz))
            }
            CurrentDate => sig(&[], &[], None, Returns::Fixed(T::Date)),
            CurrentTime => sig(&[], &[], None, Returns::Fixed(T::Time)),
            LocalTimestamp => sig(&[], &[], None, Returns::Fixed(T::Timestamp)),
            Extract => sig(
                &[Text, Temporal],
                &[],
                None,
                Returns::Fixed(T::Numeric(None)),
            ),
            DatePart => sig(&[Text, Temporal], &[], None, Returns::Fixed(T::Double)),
            DateTrunc => sig(&[Text, Timestamp], &[], None, Returns::Arg(1)),
            Age => sig(&[Temporal], &[Temporal], None, Returns::Fixed(T::Interval)),
            MakeDate => sig(
                &[Integer, Integer, Integer],
                &[],
                None,
                Returns::Fixed(T::Date),
            ),
            MakeTime => sig(
                &[Integer, Integer, Double],
                &[],
                None,
                Returns::Fixed(T::Time),
            ),
            MakeTimestamp => sig(
                &[Integer, Integer, Integer, Integer, Integer, Double],
                &[],
                None,
                Returns::Fixed(T::Timestamp),
            ),
            ToTimestamp => sig(&[Double], &[], None, Returns::Fixed(T::TimestampTz)),
            GenRandomUuid => sig(&[], &[], None, Returns::Fixed(T::Uuid)),
            JsonTypeof => sig(&[Json], &[], None, Returns::Fixed(T::Text)),
            JsonArrayLength => sig(&[Json], &[], None, Returns::Fixed(T::Integer)),
            Version | CurrentDatabase | CurrentSchema | CurrentUser => {
                sig(&[], &[], None, Returns::Fixed(T::Text))
            }
            // Typed by the planner, which binds them itself.
            MakeArray => sig(&[], &[], Some(Any), Returns::Fixed(T::Text)),
            ArrayElement => sig(&[Any, Integer], &[], None, Returns::Fixed(T::Text)),
            AnyAll { .. } => sig(&[Any, Any], &[], None, Returns::Fixed(T::Boolean)),
            ArrayToString => sig(&[Any, Text], &[Text], None, Returns::Fixed(T::Text)),
            ArrayUpper | ArrayLower | ArrayLength => {
                sig(&[Any, Integer], &[], None, Returns::Fixed(T::Integer))
            }
            Cardinality => sig(&[Any], &[], None, Returns::Fixed(T::Integer)),
            PgGetExpr => sig(&[Text, Integer], &[Any], None, Returns::Fixed(T::Text)),
            NoDescription => sig(&[Any], &[Any], None, Returns::Fixed(T::Text)),
            IsVisible | NotPublishable => sig(&[Integer], &[], None, Returns::Fixed(T::Boolean)),
            FormatType => sig(&[Integer, Integer], &[], None, Returns::Fixed(T::Text)),
            EncodingToChar => sig(&[Integer], &[], None, Returns::Fixed(T::Text)),
            ToRegtype => sig(&[Text], &[], None, Returns::Fixed(T::Integer)),
            NoStatistics => sig(&[Integer], &[], None, Returns::Fixed(T::Text)),
            NoSequence => sig(&[Text, Text], &[], None, Returns::Fixed(T::Text)),
            JsonBuildObject => sig(&[], &[], Some(Any), Returns::Fixed(T::Json)),
            // Typed by the planner (the element type).
            SetUnnest => sig(&[Any], &[], None, Returns::Arg(0)),
            SetSubscripts => sig(&[Any, Integer], &[], None, Returns::Fixed(T::Integer)),
        }
    }

    pub fn call(self, args: &[BoundExpr], row: &[Value]) -> Result<Value> {
        use ScalarFunc::*;
        // The functions that look at NULLs themselves.
        match self {
            Coalesce => {
                for arg in args {
                    let value = arg.eval(row)?;
                    if !value.is_null() {
                        return Ok(value);
                    }
                }
                return Ok(Value::Null);
            }
            Greatest | Least => {
                let mut best: Option<Value> = None;
                for arg in args {
                    let value = arg.eval(row)?;
                    if value.is_null() {
                        continue;
                    }
                    let better = match &best {
                        None => true,
                        Some(b) => {
                            let o = compare(&value, b)?;
                            if self == Greatest {
                                o == Some(Ordering::Greater)
                            } else {
                                o == Some(Ordering::Less)
                            }
                        }
                    };
                    if better {
                        best = Some(value);
                    }
                }
                return Ok(best.unwrap_or(Value::Null));
            }
            Concat | ConcatWs => {
                let values = args
                    .iter()
                    .map(|a| a.eval(row))
                    .collect::<Result<Vec<_>>>()?;
                let (separator, values) = match self {
                    ConcatWs => match values.split_first() {
                        Some((Value::Null, _)) => return Ok(Value::Null),
                        Some((sep, rest)) => (sep.to_string(), rest),
                        None => (String::new(), &values[..]),
                    },
                    _ => (String::new(), &values[..]),
                };
                let parts: Vec<String> = values
                    .iter()
                    .filter(|v| !v.is_null())
                    .map(Value::to_string)
                    .collect();
                return Ok(Value::Text(parts.join(&separator).into()));
            }
            NullIf => {
                let a = args[0].eval(row)?;
                let b = args[1].eval(row)?;
                return Ok(match compare(&a, &b)? {
                    Some(Ordering::Equal) => Value::Null,
                    _ => a,
                });
            }
            Pi => return Ok(Value::Float(std::f64::consts::PI)),
            MakeArray => {
                return args
                    .iter()
                    .map(|a| a.eval(row))
                    .collect::<Result<Vec<_>>>()
                    .map(Value::Array);
            }
            AnyAll { op, all } => return any_all(op, all, &args[0], &args[1], row),
            NoDescription | NoStatistics | NoSequence => return Ok(Value::Null),
            JsonBuildObject => {
                let values = args
                    .iter()
                    .map(|a| a.eval(row))
                    .collect::<Result<Vec<_>>>()?;
                return json_build_object(&values);
            }
            FormatType => {
                let oid = args[0].eval(row)?;
                let typmod = args[1].eval(row)?;
                return Ok(match (oid, typmod) {
                    (Value::Int(oid), Value::Int(typmod)) => format_type(oid, typmod),
                    (Value::Int(oid), _) => format_type(oid, -1),
                    _ => Value::Null,
                });
            }
            ArrayToString => {
                let values = args
                    .iter()
                    .map(|a| a.eval(row))
                    .collect::<Result<Vec<_>>>()?;
                let (Value::Array(items), Value::Text(separator)) = (&values[0], &values[1]) else {
                    return match &values[0] {
                        Value::Null | Value::Array(_) => Ok(Value::Null),
                        other => Err(not_an_array(other)),
                    };
                };
                let null = values.get(2).filter(|v| !v.is_null()).map(Value::to_string);
                let parts: Vec<String> = items
                    .iter()
                    .filter_map(|item| match item {
                        Value::Null => null.clone(),
                        v => Some(v.to_string()),
                    })
                    .collect();
                return Ok(Value::Text(parts.join(separator).into()));
            }
            Version => {
                return Ok(Value::Text(
                    format!(
                        "PostgreSQL 16.0 (OmenDB {}) on {}, compiled by rustc",
                        crate::VERSION,
                        std::env::consts::ARCH
                    )
                    .into(),
                ));
            }
            // One database and one schema.
            CurrentDatabase => return Ok(Value::Text("omendb".into())),
            CurrentSchema => return Ok(Value::Text("public".into())),
            CurrentUser => {
                return Ok(Value::Text(SESSION_USER.with_borrow(|user| {
                    SmolStr::new(user.as_deref().unwrap_or(DEFAULT_USER))
                })));
            }
            // Clock functions take no arguments.
            Now | StatementTimestamp | ClockTimestamp | CurrentDate | CurrentTime
            | LocalTimestamp => return temporal::call(self, &[]),
            _ => {}
        }
        let values = args
            .iter()
            .map(|a| a.eval(row))
            .collect::<Result<Vec<_>>>()?;
        if values.iter().any(Value::is_null) {
            return Ok(Value::Null);
        }
        let text = |i: usize| values[i].to_string();
        let int = |i: usize| match values[i] {
            Value::Int(n) => n,
            _ => 0,
        };
        let float = |i: usize| match values[i] {
            Value::Float(f) => f,
            Value::Int(n) => n as f64,
            _ => f64::NAN,
        };
        let array = |i: usize| match &values[i] {
            Value::Array(items) => Ok(items),
            other => Err(not_an_array(other)),
        };
        Ok(match self {
            SetUnnest => Value::Array(array(0)?.clone()),
            SetSubscripts if int(1) == 1 => {
                Value::Array((1..=array(0)?.len() as i64).map(Value::Int).collect())
            }
            SetSubscripts => Value::Array(Vec::new()),
            ArrayElement => usize::try_from(int(1) - 1)
                .ok()
                .and_then(|i| array(0).ok()?.get(i).cloned())
                .unwrap_or(Value::Null),
            ArrayUpper | ArrayLength if int(1) == 1 && !array(0)?.is_empty() => {
                Value::Int(array(0)?.len() as i64)
            }
            ArrayLower if int(1) == 1 && !array(0)?.is_empty() => Value::Int(1),
            ArrayUpper | ArrayLength | ArrayLower => Value::Null,
            Cardinality => Value::Int(array(0)?.len() as i64),
            PgGetExpr => Value::Text(text(0).into()),
            IsVisible => Value::Boolean(true),
            NotPublishable => Value::Boolean(false),
            EncodingToChar => Value::Text(if int(0) == 6 { "UTF8" } else { "" }.into()),
            ToRegtype => crate::sql::system::type_by_name(&text(0))
                .map_or(Value::Null, |t| Value::Int(i64::from(t.oid()))),
            Abs | Round | Trunc | Ceil | Floor | Sign => {
                let digits = if values.len() > 1 { int(1) } else { 0 };
                math(self, &values[0], digits)?
            }
            Sqrt if float(0) < 0.0 => {
                return Err(Error::InvalidArgumentForPower(
                    "cannot take square root of a negative number".into(),
                ));
            }
            Sqrt => Value::Float(float(0).sqrt()),
            Power => Value::Float(float(0).powf(float(1))),
            Exp => Value::Float(float(0).exp()),
            Ln | Log10 if float(0) <= 0.0 => {
                return Err(Error::InvalidArgumentForLogarithm(if float(0) == 0.0 {
                    "cannot take logarithm of zero".into()
                } else {
                    "cannot take logarithm of a negative number".into()
                }));
            }
            Ln => Value::Float(float(0).ln()),
            Log10 => Value::Float(float(0).log10()),
            Mod if int(1) == 0 => return Err(Error::DivisionByZero),
            Mod => Value::Int(int(0).wrapping_rem(int(1))),
            Lower => Value::Text(text(0).to_lowercase().into()),
            Upper => Value::Text(text(0).to_uppercase().into()),
            Reverse => Value::Text(text(0).chars().rev().collect()),
            Length => Value::Int(text(0).chars().count() as i64),
            Trim | LTrim | RTrim => {
                let set: Vec<char> = if values.len() > 1 {
                    text(1).chars().collect()
                } else {
                    vec![' ']
                };
                let s = text(0);
                let trimmed = match self {
                    LTrim => s.trim_start_matches(set.as_slice()),
                    RTrim => s.trim_end_matches(set.as_slice()),
                    _ => s.trim_matches(set.as_slice()),
                };
                Value::Text(trimmed.into())
            }
            Substr => {
                let chars: Vec<char> = text(0).chars().collect();
                // 1-based start; characters before position 1 count against the length.
                let start = int(1);
                let end = if values.len() > 2 {
                    if int(2) < 0 {
                        return Err(Error::InvalidArgument(
                            "negative substring length not allowed".into(),
                        ));
                    }
                    start.saturating_add(int(2))
                } else {
                    i64::MAX
                };
                let from = usize::try_from(start.max(1) - 1)
                    .unwrap_or(0)
                    .min(chars.len());
                let to = usize::try_from((end - 1).max(0))
                    .unwrap_or(usize::MAX)
                    .min(chars.len());
                Value::Text(chars[from..to.max(from)].iter().copied().collect())
            }
            Replace => Value::Text(text(0).replace(&text(1), &text(2)).into()),
            Left | Right => {
                let chars: Vec<char> = text(0).chars().collect();
                let n = int(1);
                let count = if n >= 0 {
                    usize::try_from(n).unwrap_or(usize::MAX).min(chars.len())
                } else {
                    chars
                        .len()
                        .saturating_sub(usize::try_from(-n).unwrap_or(usize::MAX))
                };
                Value::Text(if self == Left {
                    chars[..count].iter().copied().collect()
                } else {
                    chars[chars.len() - count..].iter().copied().collect()
                })
            }
            Repeat => {
                let n = usize::try_from(int(1)).unwrap_or(0);
                if text(0).len().saturating_mul(n) > 1 << 30 {
                    return Err(Error::InvalidArgument("requested length too large".into()));
                }
                Value::Text(text(0).repeat(n).into())
            }
            StrPos => Value::Int(match text(0).find(&text(1)) {
                Some(byte) => text(0)[..byte].chars().count() as i64 + 1,
                None => 0,
            }),
            SplitPart => {
                let n = int(2);
                if n == 0 {
                    return Err(Error::InvalidArgument(
                        "field position must not be zero".into(),
                    ));
                }
                let s = text(0);
                let delimiter = text(1);
                let parts: Vec<&str> = if delimiter.is_empty() {
                    vec![s.as_str()]
                } else {
                    s.split(delimiter.as_str()).collect()
                };
                let index = if n > 0 {
                    usize::try_from(n - 1).ok()
                } else {
                    parts
                        .len()
                        .checked_sub(usize::try_from(-n).unwrap_or(usize::MAX))
                };
                Value::Text(
                    index
                        .and_then(|i| parts.get(i))
                        .copied()
                        .unwrap_or("")
                        .into(),
                )
            }
            Random => {
                let mut bytes = [0u8; 8];
                crate::host::fill_random(&mut bytes)?;
                // 53 random bits: uniform in [0, 1).
                Value::Float((u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64)
            }
            GenRandomUuid => {
                let mut bytes = [0u8; 16];
                crate::host::fill_random(&mut bytes)?;
                Value::Uuid(uuid::Builder::from_random_bytes(bytes).into_uuid())
            }
            JsonTypeof => Value::Text(json_typeof(&text(0))?.into()),
            JsonArrayLength => temporal::json_array_length(&text(0))?,
            Now | StatementTimestamp | ClockTimestamp | CurrentDate | CurrentTime
            | LocalTimestamp | Extract | DatePart | DateTrunc | Age | MakeDate | MakeTime
            | MakeTimestamp | ToTimestamp => temporal::call(self, &values)?,
            Coalesce
            | NullIf
            | Greatest
            | Least
            | Concat
            | ConcatWs
            | Pi
            | Version
            | CurrentDatabase
            | CurrentSchema
            | CurrentUser
            | MakeArray
            | AnyAll { .. }
            | ArrayToString
            | NoDescription
            | NoStatistics
            | FormatType
            | NoSequence
            | JsonBuildObject => Value::Null,
        })
    }
}

/// ABS, ROUND, TRUNC, CEIL, FLOOR and SIGN on one number. NUMERIC stays exact; ROUND rounds
/// half away from zero.
fn math(func: ScalarFunc, value: &Value, digits: i64) -> Result<Value> {
    use ScalarFunc::*;
    let digits = i32::try_from(digits.clamp(-40, 40)).unwrap_or(0);
    Ok(match value {
        Value::Numeric(d) => Value::Numeric(match func {
            Abs => d.abs(),
            Round | Trunc => {
                let strategy = if func == Round {
                    RoundingStrategy::MidpointAwayFromZero
                } else {
                    RoundingStrategy::ToZero
                };
                round_decimal(*d, digits, strategy)?
            }
            Ceil => d.ceil(),
            Floor => d.floor(),
            _ => rust_decimal::prelude::Signed::signum(d),
        }),
        Value::Int(i) if func == Abs => Value::Int(
            i.checked_abs()
                .ok_or_else(|| out_of_range(DataType::BigInt))?,
        ),
        other => {
            let f = match other {
                Value::Int(i) => *i as f64,
                Value::Float(f) => *f,
                _ => f64::NAN,
            };
            let scale = 10f64.powi(digits);
            Value::Float(match func {
                Abs => f.abs(),
                Round => (f * scale).round() / scale,
                Trunc => (f * scale).trunc() / scale,
                Ceil => f.ceil(),
                Floor => f.floor(),
                _ if f > 0.0 => 1.0,
                _ if f < 0.0 => -1.0,
                _ => 0.0,
            })
        }
    })
}

/// `d` rounded to `digits` decimals; negative digits round to tens, hundreds, …
fn round_decimal(d: Decimal, digits: i32, strategy: RoundingStrategy) -> Result<Decimal> {
    if digits >= 0 {
        let mut r = d.round_dp_with_strategy(digits.unsigned_abs().min(28), strategy);
        r.rescale(digits.unsigned_abs().min(28));
        return Ok(r);
    }
    let factor = Decimal::from_i128_with_scale(10i128.pow(digits.unsigned_abs().min(28)), 0);
    let overflow = || Error::NumericOutOfRange("value overflows numeric format".into());
    let scaled = d.checked_div(factor).ok_or_else(overflow)?;
    let rounded = scaled.round_dp_with_strategy(0, strategy);
    let mut r = rounded.checked_mul(factor).ok_or_else(overflow)?;
    r.rescale(0);
    Ok(r)
}

fn not_an_array(value: &Value) -> Error {
    Error::Datatype(format!(
        "expected an array, found type {}",
        value.type_name()
    ))
}

/// `format_type(oid, typmod)`: the type's SQL name with its modifier, `???` for an unknown id.
fn format_type(oid: i64, typmod: i64) -> Value {
    Value::Text(match crate::sql::system::type_by_oid(oid, typmod) {
        Some(ty) => crate::sql::system::format_type(ty).into(),
        None => "???".into(),
    })
}

/// `left op ANY (array)` is true when the comparison holds for some element, `ALL` when it
/// holds for every one; otherwise NULL if a comparison was NULL, as in PostgreSQL.
fn any_all(
    op: BinaryOp,
    all: bool,
    left: &BoundExpr,
    right: &BoundExpr,
    row: &[Value],
) -> Result<Value> {
    let left = left.eval(row)?;
    let items = match right.eval(row)? {
        Value::Null => return Ok(Value::Null),
        Value::Array(items) => items,
        other => return Err(not_an_array(&other)),
    };
    let mut saw_null = false;
    for item in items {
        match binary(op, left.clone(), item, DataType::Boolean)? {
            Value::Boolean(holds) if holds != all => return Ok(Value::Boolean(holds)),
            Value::Null => saw_null = true,
            _ => {}
        }
    }
    Ok(if saw_null {
        Value::Null
    } else {
        Value::Boolean(all)
    })
}

/// `json_build_object(k1, v1, k2, v2, …)`: keys as text (not NULL), values as JSON.
fn json_build_object(values: &[Value]) -> Result<Value> {
    if values.len() % 2 != 0 {
        return Err(Error::InvalidParameterValue(
            "argument list must have even number of elements".into(),
        ));
    }
    let mut out = String::from("{");
    for (i, pair) in values.chunks(2).enumerate() {
        if pair[0].is_null() {
            return Err(Error::InvalidParameterValue(
                "null value not allowed for object key".into(),
            ));
        }
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(&json_string(&pair[0].to_string()));
        out.push_str(" : ");
        out.push_str(&json_value(&pair[1]));
    }
    out.push('}');
    Ok(Value::Json(out))
}

/// A value as JSON: numbers and booleans as themselves, JSON verbatim, arrays as JSON
/// arrays, everything else as its text form in a string.
fn json_value(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Boolean(b) => b.to_string(),
        Value::Int(_) | Value::Numeric(_) => value.to_string(),
        Value::Float(f) if f.is_finite() => value.to_string(),
        Value::Json(json) => json.clone(),
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(json_value).collect::<Vec<_>>().join(",")
        ),
        other => json_string(&other.to_string()),
    }
}

fn json_string(text: &str) -> String {
    serde_json::Value::String(text.to_string()).to_string()
}
