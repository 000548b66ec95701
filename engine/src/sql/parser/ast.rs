//! OmenDB's own syntax tree: what the parser hands the planner. Names are unresolved but
//! normalised (unquoted identifiers folded to lower case, as PostgreSQL does); every node that
//! an error can point at carries its position, the 1-based character offset in the SQL text.

pub use crate::sql::copy::CopyOptions;
use crate::types::DataType;

/// A name as written (after case folding), with its position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ident {
    pub name: String,
    pub position: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Statement {
    CreateTable(CreateTable),
    DropTable {
        names: Vec<Ident>,
        if_exists: bool,
    },
    CreateIndex {
        name: Ident,
        table: Ident,
        columns: Vec<Ident>,
        unique: bool,
        if_not_exists: bool,
    },
    DropIndex {
        names: Vec<Ident>,
        if_exists: bool,
    },
    /// `CREATE [OR REPLACE] VIEW name [(columns)] AS query`, with the query's SQL text.
    CreateView {
        name: Ident,
        columns: Vec<Ident>,
        query: Box<Select>,
        sql: String,
        replace: bool,
        if_not_exists: bool,
    },
    DropView {
        names: Vec<Ident>,
        if_exists: bool,
    },
    Insert(Insert),
    /// A query, with its text as sqlparser prints it (what the analytics engine parses).
    Select(Box<Select>, std::sync::Arc<str>),
    Update(Update),
    Delete(Delete),
    Begin {
        read_only: bool,
        isolation: Option<String>,
    },
    /// `SET TRANSACTION …` (`session`: `SET SESSION CHARACTERISTICS AS TRANSACTION …`).
    SetTransaction {
        read_only: Option<bool>,
        isolation: Option<String>,
        session: bool,
    },
    /// `SET name = value`; `None` for `DEFAULT` and `RESET name`.
    Set {
        name: String,
        value: Option<String>,
    },
    /// `RESET ALL`.
    ResetAll,
    Show(String),
    Commit,
    Rollback,
    Savepoint(String),
    RollbackTo(String),
    Release(String),
    /// `ALTER TABLE t …` (one change per statement).
    AlterTable {
        table: Ident,
        change: AlterTable,
    },
    /// `TRUNCATE t, …`: deletes every row, transactionally.
    Truncate(Vec<Ident>),
    /// `CREATE ROLE`/`CREATE USER` (a user is a role that may log in).
    CreateRole {
        name: Ident,
        if_not_exists: bool,
        options: RoleOptions,
    },
    /// `ALTER ROLE`/`ALTER USER name [WITH] options`.
    AlterRole {
        name: Ident,
        options: RoleOptions,
    },
    DropRole {
        names: Vec<Ident>,
        if_exists: bool,
    },
    /// A statement with nothing to do in the engine, by its command tag.
    Nothing(&'static str),
    /// `DISCARD ALL` (`true`: settings reset too) or `DISCARD PLANS/SEQUENCES/TEMP`.
    Discard(bool),
    /// `VACUUM` (`vacuum`) or `ANALYZE` of some tables (none: all).
    Maintenance {
        vacuum: bool,
        tables: Vec<Ident>,
    },
    /// `COPY t [(columns)] FROM STDIN` or `COPY {t [(columns)] | (query)} TO STDOUT`.
    Copy(Copy),
    /// `EXPLAIN [ANALYZE] statement`, or `EXPLAIN (ANALYZE, TIMING OFF) statement`.
    Explain {
        analyze: bool,
        timing: bool,
        statement: Box<Statement>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum AlterTable {
    AddColumn {
        column: ColumnDef,
        if_not_exists: bool,
    },
    DropColumn {
        name: Ident,
        if_exists: bool,
    },
    RenameColumn {
        from: Ident,
        to: Ident,
    },
    RenameTo(Ident),
    /// `ADD [CONSTRAINT name] PRIMARY KEY (columns)` (the key is always named `table_pkey`).
    AddPrimaryKey(Vec<Ident>),
    /// `ADD [CONSTRAINT name] UNIQUE (columns)`: a unique index.
    AddUnique {
        name: Option<Ident>,
        columns: Vec<Ident>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct CreateTable {
    pub name: Ident,
    pub if_not_exists: bool,
    pub columns: Vec<ColumnDef>,
    /// Table-level `PRIMARY KEY (…)`, if any.
    pub primary_key: Option<Vec<Ident>>,
    /// Table-level `UNIQUE (…)` constraints.
    pub unique: Vec<Vec<Ident>>,
    /// Table-level `CHECK (…)` constraints.
    pub checks: Vec<CheckDef>,
}

/// `[CONSTRAINT name] CHECK (expr)`, with the expression's SQL text for the catalog.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckDef {
    pub name: Option<String>,
    pub expr: Expr,
    pub sql: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ColumnDef {
    pub name: Ident,
    pub data_type: DataType,
    pub not_null: bool,
    pub primary_key: bool,
    pub unique: bool,
    /// The DEFAULT expression and its SQL text.
    pub default: Option<(Expr, String)>,
    /// SERIAL types and identity columns: values from the column's counter.
    pub serial: bool,
    pub checks: Vec<CheckDef>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Insert {
    pub table: Ident,
    /// The target columns; empty means all, in table order.
    pub columns: Vec<Ident>,
    pub source: InsertSource,
    pub on_conflict: Option<OnConflict>,
    pub returning: Vec<SelectItem>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum InsertSource {
    Values(Vec<Vec<Expr>>),
    /// `DEFAULT VALUES`: one row of defaults.
    DefaultValues,
    Query(Box<Select>),
}

/// `ON CONFLICT [(columns)] DO NOTHING | DO UPDATE SET … [WHERE …]`.
#[derive(Debug, Clone, PartialEq)]
pub struct OnConflict {
    pub target: Vec<Ident>,
    /// `None`: DO NOTHING.
    pub update: Option<ConflictUpdate>,
}

/// `DO UPDATE SET … [WHERE …]`.
#[derive(Debug, Clone, PartialEq)]
pub struct ConflictUpdate {
    pub assignments: Vec<(Ident, Expr)>,
    pub filter: Option<Expr>,
}

/// The options of CREATE/ALTER ROLE that OmenDB keeps; `None` leaves the default (or, for
/// ALTER, the current value).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoleOptions {
    pub login: Option<bool>,
    pub superuser: Option<bool>,
    /// `PASSWORD 'text'` (`Some(Some)`) or `PASSWORD NULL` (`Some(None)`).
    pub password: Option<Option<String>>,
}

/// A COPY statement; copying a table out is copying `SELECT columns FROM t` out.
#[derive(Debug, Clone, PartialEq)]
pub enum Copy {
    From {
        table: Ident,
        columns: Vec<Ident>,
        options: CopyOptions,
    },
    To {
        query: Box<Select>,
        options: CopyOptions,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Select {
    pub distinct: bool,
    /// `DISTINCT ON (…)`: the first row (in ORDER BY order) of each group of equal values.
    pub distinct_on: Vec<Expr>,
    pub items: Vec<SelectItem>,
    pub from: Option<FromItem>,
    pub filter: Option<Expr>,
    pub group_by: Vec<Expr>,
    pub having: Option<Expr>,
    pub order_by: Vec<OrderItem>,
    pub limit: Option<Expr>,
    pub offset: Option<Expr>,
    /// Set operations with further SELECTs, left to right; when there are any, ORDER BY,
    /// LIMIT and OFFSET apply to the combined result.
    pub compound: Vec<Compound>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Compound {
    pub op: SetOp,
    /// `ALL`: keep duplicates.
    pub all: bool,
    pub select: Select,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetOp {
    Union,
    Intersect,
    Except,
}

/// A FROM clause: a table, or a join of two FROM items.
#[derive(Debug, Clone, PartialEq)]
pub enum FromItem {
    Table {
        name: Ident,
        alias: Option<Ident>,
    },
    /// A subquery in FROM (also what a WITH query's name stands for); `columns` renames its
    /// result columns.
    Subquery {
        query: Box<Select>,
        alias: Ident,
        columns: Vec<Ident>,
    },
    /// `VALUES (…), (…)` as a table (also a VALUES query: `SELECT * FROM` it).
    Values {
        rows: Vec<Vec<Expr>>,
        alias: Ident,
        columns: Vec<Ident>,
    },
    Join {
        left: Box<FromItem>,
        right: Box<FromItem>,
        kind: JoinKind,
        /// The ON condition (none for CROSS JOIN and comma-separated tables).
        on: Option<Expr>,
    },
    /// A set-returning function in FROM: `generate_series(1, 10) [AS] s[(column)]`.
    Function {
        name: Ident,
        args: Vec<Expr>,
        alias: Ident,
        column: Option<Ident>,
    },
    /// What the name of a `WITH RECURSIVE` query stands for.
    Recursive {
        query: Box<RecursiveQuery>,
        alias: Ident,
    },
    /// Inside a recursive query's recursive part: the rows the previous step produced.
    WorkTable {
        name: Ident,
        alias: Option<Ident>,
    },
}

/// `WITH RECURSIVE name (columns) AS (base UNION [ALL] step)`.
#[derive(Debug, Clone, PartialEq)]
pub struct RecursiveQuery {
    pub name: String,
    pub columns: Vec<Ident>,
    pub base: Select,
    pub step: Select,
    /// UNION ALL keeps duplicates; UNION stops at rows seen before.
    pub all: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinKind {
    Inner,
    Left,
    Right,
    Full,
    Cross,
}

#[derive(Debug, Clone, PartialEq)]
pub enum SelectItem {
    /// `*`, with its position.
    Wildcard(usize),
    /// `t.*`: the columns of one table of the FROM clause.
    QualifiedWildcard(Ident),
    Expr {
        expr: Expr,
        alias: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct OrderItem {
    pub expr: Expr,
    pub descending: bool,
    /// `NULLS FIRST` / `NULLS LAST`; by default NULLs sort as larger than every value.
    pub nulls_first: Option<bool>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Update {
    pub table: Ident,
    pub alias: Option<Ident>,
    pub assignments: Vec<(Ident, Expr)>,
    /// `FROM …`: other tables the rows are joined with.
    pub from: Option<FromItem>,
    pub filter: Option<Expr>,
    pub returning: Vec<SelectItem>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Delete {
    pub table: Ident,
    pub alias: Option<Ident>,
    /// `USING …`: other tables the rows are joined with.
    pub using: Option<FromItem>,
    pub filter: Option<Expr>,
    pub returning: Vec<SelectItem>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub position: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    Literal(Literal),
    /// A parameter `$n`, by zero-based index.
    Parameter(usize),
    /// A column, optionally qualified by its table.
    Column {
        table: Option<String>,
        name: String,
    },
    Unary {
        op: UnaryOp,
        expr: Box<Expr>,
    },
    Binary {
        op: BinaryOp,
        left: Box<Expr>,
        right: Box<Expr>,
    },
    IsNull {
        expr: Box<Expr>,
        negated: bool,
    },
    Between {
        expr: Box<Expr>,
        low: Box<Expr>,
        high: Box<Expr>,
        negated: bool,
    },
    InList {
        expr: Box<Expr>,
        list: Vec<Expr>,
        negated: bool,
    },
    Cast {
        expr: Box<Expr>,
        to: DataType,
    },
    /// `CASE [operand] WHEN … THEN … [ELSE …] END`.
    Case {
        operand: Option<Box<Expr>>,
        branches: Vec<(Expr, Expr)>,
        otherwise: Option<Box<Expr>>,
    },
    /// `expr [NOT] LIKE/ILIKE pattern`.
    Like {
        expr: Box<Expr>,
        pattern: Box<Expr>,
        negated: bool,
        case_insensitive: bool,
    },
    /// `a IS [NOT] DISTINCT FROM b`.
    IsDistinctFrom {
        left: Box<Expr>,
        right: Box<Expr>,
        negated: bool,
    },
    /// `(SELECT …)` as a value.
    Subquery(Box<Select>),
    /// `expr [NOT] IN (SELECT …)`.
    InSubquery {
        expr: Box<Expr>,
        query: Box<Select>,
        negated: bool,
    },
    /// `[NOT] EXISTS (SELECT …)`.
    Exists {
        query: Box<Select>,
        negated: bool,
    },
    /// A function call: `name(args)`, `name(DISTINCT arg)`, `count(*)` (no args, `star`).
    Function {
        name: String,
        args: Vec<Expr>,
        distinct: bool,
        star: bool,
    },
    /// A window function call: `name(args) OVER (PARTITION BY … ORDER BY … frame)`.
    Window(Box<WindowCall>),
    /// An aggregate call with an order for its input: `array_agg(x ORDER BY y)`.
    OrderedAggregate {
        call: Box<Expr>,
        order_by: Vec<OrderItem>,
    },
    /// `ARRAY[a, b, …]`.
    Array(Vec<Expr>),
    /// `ARRAY(SELECT …)`: the subquery's single column as an array.
    ArraySubquery(Box<Select>),
    /// `array[index]` (1-based).
    Subscript {
        expr: Box<Expr>,
        index: Box<Expr>,
    },
    /// `left op ANY (array)` or `left op ALL (array)`.
    AnyAll {
        left: Box<Expr>,
        op: BinaryOp,
        right: Box<Expr>,
        all: bool,
    },
    /// `expr::regclass` and the other object-identifier types: a name looked up as an object
    /// id, or an object id shown as a name.
    RegCast {
        expr: Box<Expr>,
        to: RegType,
    },
}

/// The object-identifier types whose text form is an object's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegType {
    /// `regclass`: a table, view or index.
    Class,
    /// `regtype`: a data type.
    Type,
    /// `regnamespace`: a schema.
    Namespace,
    /// `regrole`: a role.
    Role,
}

impl Expr {
    /// Calls `f` on this expression and every subexpression, not entering subqueries.
    pub fn walk(&self, f: &mut impl FnMut(&Expr)) {
        f(self);
        match &self.kind {
            ExprKind::Literal(_) | ExprKind::Parameter(_) | ExprKind::Column { .. } => {}
            ExprKind::Subquery(_) | ExprKind::Exists { .. } | ExprKind::ArraySubquery(_) => {}
            ExprKind::Unary { expr, .. }
            | ExprKind::IsNull { expr, .. }
            | ExprKind::Cast { expr, .. }
            | ExprKind::RegCast { expr, .. }
            | ExprKind::InSubquery { expr, .. } => expr.walk(f),
            ExprKind::Array(items) => items.iter().for_each(|e| e.walk(f)),
            ExprKind::OrderedAggregate { call, order_by } => {
                call.walk(f);
                order_by.iter().for_each(|o| o.expr.walk(f));
            }
            ExprKind::Binary { left, right, .. }
            | ExprKind::IsDistinctFrom { left, right, .. }
            | ExprKind::AnyAll { left, right, .. }
            | ExprKind::Subscript {
                expr: left,
                index: right,
            } => {
                left.walk(f);
                right.walk(f);
            }
            ExprKind::Between {
                expr, low, high, ..
            } => {
                expr.walk(f);
                low.walk(f);
                high.walk(f);
            }
            ExprKind::InList { expr, list, .. } => {
                expr.walk(f);
                list.iter().for_each(|e| e.walk(f));
            }
            ExprKind::Case {
                operand,
                branches,
                otherwise,
            } => {
                operand.iter().for_each(|e| e.walk(f));
                for (condition, result) in branches {
                    condition.walk(f);
                    result.walk(f);
                }
                otherwise.iter().for_each(|e| e.walk(f));
            }
            ExprKind::Like { expr, pattern, .. } => {
                expr.walk(f);
                pattern.walk(f);
            }
            ExprKind::Function { args, .. } => args.iter().for_each(|e| e.walk(f)),
            ExprKind::Window(call) => {
                call.args.iter().for_each(|e| e.walk(f));
                call.partition_by.iter().for_each(|e| e.walk(f));
                call.order_by.iter().for_each(|o| o.expr.walk(f));
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct WindowCall {
    pub name: String,
    pub args: Vec<Expr>,
    pub star: bool,
    pub partition_by: Vec<Expr>,
    pub order_by: Vec<OrderItem>,
    pub frame: Option<Frame>,
}

/// A window frame: `ROWS` (physical rows) or `RANGE` (peers of equal order) between bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame {
    pub rows: bool,
    pub start: FrameBound,
    pub end: FrameBound,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameBound {
    UnboundedPreceding,
    Preceding(u64),
    CurrentRow,
    Following(u64),
    UnboundedFollowing,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Null,
    Boolean(bool),
    /// An integer literal that fits in 64 bits.
    Integer(i64),
    /// Any other numeric literal, as written.
    Number(String),
    /// A quoted string: of unknown type until context gives it one, as in PostgreSQL.
    String(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnaryOp {
    Minus,
    Plus,
    Not,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryOp {
    Add,
    Subtract,
    Multiply,
    Divide,
    Modulo,
    Concat,
    Eq,
    NotEq,
    Lt,
    LtEq,
    Gt,
    GtEq,
    And,
    Or,
    /// `json -> key`: a field or element, as JSON.
    JsonGet,
    /// `json ->> key`: a field or element, as text.
    JsonGetText,
    /// `jsonb @> jsonb`
    JsonContains,
    /// `jsonb <@ jsonb`
    JsonContainedBy,
    /// `jsonb ? text`
    JsonHasKey,
    /// `text ~ pattern`: POSIX regular expression match (`~*`: ignoring case; `!~`, `!~*`:
    /// not matching).
    Regex {
        negated: bool,
        case_insensitive: bool,
    },
}

impl BinaryOp {
    /// The operator as PostgreSQL spells it, for error messages.
    pub fn symbol(self) -> &'static str {
        match self {
            BinaryOp::Add => "+",
            BinaryOp::Subtract => "-",
            BinaryOp::Multiply => "*",
            BinaryOp::Divide => "/",
            BinaryOp::Modulo => "%",
            BinaryOp::Concat => "||",
            BinaryOp::Eq => "=",
            BinaryOp::NotEq => "<>",
            BinaryOp::Lt => "<",
            BinaryOp::LtEq => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::GtEq => ">=",
            BinaryOp::And => "AND",
            BinaryOp::Or => "OR",
            BinaryOp::JsonGet => "->",
            BinaryOp::JsonGetText => "->>",
            BinaryOp::JsonContains => "@>",
            BinaryOp::JsonContainedBy => "<@",
            BinaryOp::JsonHasKey => "?",
            BinaryOp::Regex {
                negated,
                case_insensitive,
            } => match (negated, case_insensitive) {
                (false, false) => "~",
                (false, true) => "~*",
                (true, false) => "!~",
                (true, true) => "!~*",
            },
        }
    }

    pub fn is_comparison(self) -> bool {
        matches!(
            self,
            BinaryOp::Eq
                | BinaryOp::NotEq
                | BinaryOp::Lt
                | BinaryOp::LtEq
                | BinaryOp::Gt
                | BinaryOp::GtEq
        )
    }

    pub fn is_json(self) -> bool {
        matches!(
            self,
            BinaryOp::JsonGet
                | BinaryOp::JsonGetText
                | BinaryOp::JsonContains
                | BinaryOp::JsonContainedBy
                | BinaryOp::JsonHasKey
        )
    }
}
