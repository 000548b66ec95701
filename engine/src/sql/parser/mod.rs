//! The parser: SQL text to [`ast::Statement`]s. The only module that touches `sqlparser`
//! (PostgreSQL dialect); its tree is translated at once into our own, and anything we do not
//! support yet is refused here with 0A000 naming the construct and where it is.

pub mod ast;

use sqlparser::ast as sp;
use sqlparser::ast::Spanned;
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{Location, Token, Tokenizer};

use self::ast::*;
use crate::types::DataType;
use crate::{Error, Result};

/// Parses `sql` (one or more statements separated by `;`).
pub fn parse(sql: &str) -> Result<Vec<Statement>> {
    if let Some(statement) = maintenance(sql)? {
        return Ok(vec![statement]);
    }
    // sqlparser reads PostgreSQL's CREATE USER as another dialect's statement; it is
    // CREATE ROLE … LOGIN, spelled with a word of the same length so positions hold.
    if let Some((respelled, which)) = create_user_as_role(sql) {
        let mut statements = parse(&respelled)?;
        for i in which {
            if let Some(Statement::CreateRole { options, .. }) = statements.get_mut(i) {
                options.login.get_or_insert(true);
            }
        }
        return Ok(statements);
    }
    let statements = match Parser::parse_sql(&PostgreSqlDialect {}, sql) {
        Ok(statements) => statements,
        Err(e) => {
            // COPY's boolean options may be written `on`/`off`/`1`/`0` (pgbench sends
            // `freeze on`), which sqlparser does not take; such text is retried spelled
            // TRUE/FALSE, and any other error is reported against the original text.
            if let Some(respelled) = copy_booleans_respelled(sql) {
                if let Ok(statements) = Parser::parse_sql(&PostgreSqlDialect {}, &respelled) {
                    let translator = Translator { sql: &respelled };
                    return statements.iter().map(|s| translator.statement(s)).collect();
                }
            }
            return Err(syntax(sql, e));
        }
    };
    let translator = Translator { sql };
    statements.iter().map(|s| translator.statement(s)).collect()
}

/// `sql` with every statement's leading `CREATE USER` spelled `CREATE ROLE`, and which
/// statements (by index) those were; `None` if there are none.
fn create_user_as_role(sql: &str) -> Option<(String, Vec<usize>)> {
    use sqlparser::tokenizer::{Token, Tokenizer};
    // A cheap test first: most statements never get tokenized twice.
    if !sql
        .as_bytes()
        .windows(4)
        .any(|w| w.eq_ignore_ascii_case(b"user"))
    {
        return None;
    }
    let tokens = Tokenizer::new(&PostgreSqlDialect {}, sql)
        .tokenize_with_location()
        .ok()?;
    let mut words = tokens
        .iter()
        .filter(|t| !matches!(t.token, Token::Whitespace(_)))
        .peekable();
    let mut statement = 0;
    let mut at_start = true;
    let mut respelled = sql.to_owned();
    let mut which = Vec::new();
    let is_word = |t: &sqlparser::tokenizer::TokenWithSpan, word: &str| {
        matches!(&t.token, Token::Word(w) if w.quote_style.is_none()
            && w.value.eq_ignore_ascii_case(word))
    };
    while let Some(t) = words.next() {
        if t.token == Token::SemiColon {
            statement += 1;
            at_start = true;
            continue;
        }
        if at_start && is_word(t, "create") {
            if let Some(user) = words.peek().filter(|u| is_word(u, "user")) {
                // Character offset (1-based) to byte offset.
                let at = offset(sql, user.span.start)?;
                let byte = sql.char_indices().nth(at - 1)?.0;
                respelled.replace_range(byte..byte + 4, "ROLE");
                which.push(statement);
            }
        }
        at_start = false;
    }
    (!which.is_empty()).then_some((respelled, which))
}

/// `VACUUM [(options)] [FULL] [FREEZE] [VERBOSE] [ANALYZE] [table [(columns)], …]` and
/// `ANALYZE [VERBOSE] [table [(columns)], …]`, which sqlparser does not read; `None` for any
/// other statement.
fn maintenance(sql: &str) -> Result<Option<Statement>> {
    use sqlparser::tokenizer::{Token, Tokenizer};
    let first: String = sql
        .trim_start()
        .chars()
        .take_while(char::is_ascii_alphabetic)
        .collect::<String>()
        .to_ascii_lowercase();
    let vacuum = match first.as_str() {
        "vacuum" => true,
        "analyze" | "analyse" => false,
        _ => return Ok(None),
    };
    let tokens = Tokenizer::new(&PostgreSqlDialect {}, sql)
        .tokenize_with_location()
        .map_err(|e| Error::Syntax(e.to_string()))?;
    let mut tokens = tokens
        .into_iter()
        .filter(|t| !matches!(t.token, Token::Whitespace(_)))
        .peekable();
    tokens.next(); // VACUUM or ANALYZE
    let unexpected = |token: Option<&sqlparser::tokenizer::TokenWithSpan>| -> Error {
        match token {
            Some(t) => Error::Syntax(format!("syntax error at or near \"{}\"", t.token))
                .at(offset(sql, t.span.start).unwrap_or(0)),
            None => Error::Syntax("syntax error at end of input".into()),
        }
    };
    // Options in parentheses, then the old-style keywords.
    if tokens.peek().is_some_and(|t| t.token == Token::LParen) {
        for t in tokens.by_ref() {
            if t.token == Token::RParen {
                break;
            }
        }
    }
    let keywords: &[&str] = if vacuum {
        &["full", "freeze", "verbose", "analyze", "analyse"]
    } else {
        &["verbose"]
    };
    while let Some(t) = tokens.peek() {
        match &t.token {
            Token::Word(w)
                if w.quote_style.is_none()
                    && keywords.contains(&w.value.to_ascii_lowercase().as_str()) =>
            {
                tokens.next();
            }
            _ => break,
        }
    }
    let translator = Translator { sql };
    let mut tables = Vec::new();
    while let Some(t) = tokens.next() {
        let mut name = match &t.token {
            Token::SemiColon if tokens.peek().is_none() => break,
            Token::Word(w) => translator.ident(&sp::Ident {
                value: w.value.clone(),
                quote_style: w.quote_style,
                span: t.span,
            }),
            _ => return Err(unexpected(Some(&t))),
        };
        // `public.t`.
        if tokens.peek().is_some_and(|t| t.token == Token::Period) {
            if !name.name.eq_ignore_ascii_case("public") {
                return Err(
                    Error::NotSupported(format!("the schema {}", name.name)).at(name.position)
                );
            }
            tokens.next();
            match tokens.next() {
                Some(t) => match &t.token {
                    Token::Word(w) => {
                        name = translator.ident(&sp::Ident {
                            value: w.value.clone(),
                            quote_style: w.quote_style,
                            span: t.span,
                        });
                    }
                    _ => return Err(unexpected(Some(&t))),
                },
                None => return Err(unexpected(None)),
            }
        }
        tables.push(name);
        // A column list is accepted (there are no per-column statistics to gather).
        if tokens.peek().is_some_and(|t| t.token == Token::LParen) {
            for t in tokens.by_ref() {
                if t.token == Token::RParen {
                    break;
                }
            }
        }
        match tokens.next() {
            None => break,
            Some(t) if t.token == Token::Comma => {}
            Some(t) if t.token == Token::SemiColon && tokens.peek().is_none() => break,
            other => return Err(unexpected(other.as_ref())),
        }
    }
    Ok(Some(Statement::Maintenance { vacuum, tables }))
}

/// `sql` with the values of COPY's FREEZE and HEADER options spelled TRUE/FALSE, if it has
/// any spelled otherwise.
fn copy_booleans_respelled(sql: &str) -> Option<String> {
    use sqlparser::tokenizer::{Token, Tokenizer};
    let tokens = Tokenizer::new(&PostgreSqlDialect {}, sql).tokenize().ok()?;
    let mut changed = false;
    let mut previous_word: Option<String> = None;
    let mut out = String::with_capacity(sql.len());
    for token in &tokens {
        let after_option = previous_word
            .as_deref()
            .is_some_and(|w| w.eq_ignore_ascii_case("freeze") || w.eq_ignore_ascii_case("header"));
        let text = match token {
            Token::Whitespace(_) => {
                out.push_str(&token.to_string());
                continue;
            }
            Token::Word(w) if after_option && w.quote_style.is_none() => {
                match w.value.to_ascii_lowercase().as_str() {
                    "on" | "yes" => Some("TRUE"),
                    "off" | "no" => Some("FALSE"),
                    _ => None,
                }
            }
            Token::Number(n, _) if after_option && (n == "1" || n == "0") => {
                Some(if n == "1" { "TRUE" } else { "FALSE" })
            }
            _ => None,
        };
        previous_word = match token {
            Token::Word(w) if w.quote_style.is_none() => Some(w.value.clone()),
            _ => None,
        };
        match text {
            Some(text) => {
                changed = true;
                out.push_str(text);
            }
            None => out.push_str(&token.to_string()),
        }
    }
    changed.then_some(out)
}

/// Parses one expression (a stored DEFAULT or CHECK).
pub fn parse_expr(sql: &str) -> Result<Expr> {
    let expr = Parser::new(&PostgreSqlDialect {})
        .try_with_sql(sql)
        .and_then(|mut parser| parser.parse_expr())
        .map_err(|e| syntax(sql, e))?;
    Translator { sql }.expr(&expr)
}

/// A parser error as 42601, with the position sqlparser reports ("… at Line: l, Column: c").
fn syntax(sql: &str, error: sqlparser::parser::ParserError) -> Error {
    let text = match error {
        sqlparser::parser::ParserError::TokenizerError(m)
        | sqlparser::parser::ParserError::ParserError(m) => m,
        sqlparser::parser::ParserError::RecursionLimitExceeded => {
            return Error::StatementTooComplex("the statement nests too deeply".into());
        }
    };
    let (message, position) = match text.rsplit_once(" at Line: ") {
        Some((message, at)) => {
            let mut parts = at.split(", Column: ");
            let line = parts.next().and_then(|l| l.trim().parse().ok());
            let column = parts.next().and_then(|c| c.trim().parse().ok());
            let position = match (line, column) {
                (Some(line), Some(column)) => offset(sql, Location { line, column }),
                _ => None,
            };
            (message.to_string(), position)
        }
        // A statement cut short: PostgreSQL points just past its end.
        None if text.ends_with("found: EOF") => (text, Some(sql.chars().count() + 1)),
        None => (text, None),
    };
    let error = Error::Syntax(message);
    match position {
        Some(position) => error.at(position),
        None => error,
    }
}

/// The 1-based character offset of a line/column location in `sql`.
/// The tokens of `sql` (PostgreSQL dialect, whitespace and comments included) with the byte
/// range each covers; `None` when it does not tokenize (an unterminated string or comment).
pub fn tokens_with_offsets(sql: &str) -> Option<Vec<(Token, std::ops::Range<usize>)>> {
    let tokens = Tokenizer::new(&PostgreSqlDialect {}, sql)
        .tokenize_with_location()
        .ok()?;
    // Byte offsets of line starts, to turn (line, column) locations into byte offsets.
    let line_starts: Vec<usize> = std::iter::once(0)
        .chain(sql.match_indices('\n').map(|(i, _)| i + 1))
        .collect();
    let byte_at = |location: Location| -> Option<usize> {
        let start = *line_starts.get(usize::try_from(location.line).ok()?.checked_sub(1)?)?;
        let column = usize::try_from(location.column).ok()?.checked_sub(1)?;
        Some(
            sql[start..]
                .char_indices()
                .nth(column)
                .map_or(sql.len(), |(i, _)| start + i),
        )
    };
    let mut previous_end = 0;
    tokens
        .into_iter()
        .map(|t| {
            let start = byte_at(t.span.start)?.max(previous_end);
            let end = byte_at(t.span.end)?.max(start);
            previous_end = end;
            Some((t.token, start..end))
        })
        .collect()
}

/// One statement of a script, as [`split_statements`] finds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatementText<'a> {
    /// The statement, from its first token to its semicolon (if any).
    pub text: &'a str,
    /// Characters in the script before `text`: add it to a position in `text` to locate it
    /// in the script.
    pub chars_before: usize,
}

/// The statements of a script, split at top-level semicolons (not those in strings, quoted
/// names or comments), without the whitespace and comments between them. A script that does
/// not tokenize (an unterminated string) is one statement, so that running it reports the
/// error.
pub fn split_statements(sql: &str) -> Vec<StatementText<'_>> {
    use sqlparser::tokenizer::Token;
    let whole = || {
        let text = sql.trim();
        let before = &sql[..sql.len() - sql.trim_start().len()];
        vec![StatementText {
            text,
            chars_before: before.chars().count(),
        }]
    };
    let Some(tokens) = tokens_with_offsets(sql) else {
        return if sql.trim().is_empty() {
            Vec::new()
        } else {
            whole()
        };
    };
    let mut pieces = Vec::new();
    let mut start: Option<usize> = None;
    let mut push = |from: usize, to: usize| {
        pieces.push(StatementText {
            text: &sql[from..to],
            chars_before: sql[..from].chars().count(),
        });
    };
    for (token, range) in &tokens {
        match token {
            Token::Whitespace(_) | Token::EOF => {}
            Token::SemiColon => {
                if let Some(from) = start.take() {
                    push(from, range.end);
                }
            }
            _ => {
                start.get_or_insert(range.start);
            }
        }
    }
    if let Some(from) = start {
        push(from, sql.trim_end().len().max(from));
    }
    pieces
}

fn offset(sql: &str, location: Location) -> Option<usize> {
    if location.line == 0 {
        return None;
    }
    let mut chars = 0;
    for (i, line) in sql.split('\n').enumerate() {
        if i as u64 + 1 == location.line {
            return Some(chars + location.column as usize);
        }
        chars += line.chars().count() + 1;
    }
    None
}

struct Translator<'a> {
    sql: &'a str,
}

impl Translator<'_> {
    fn position(&self, node: &impl Spanned) -> usize {
        offset(self.sql, node.span().start).unwrap_or(0)
    }

    fn unsupported(&self, what: &str, node: &impl Spanned) -> Error {
        self.unsupported_at(what, node.span().start)
    }

    fn unsupported_at(&self, what: &str, location: Location) -> Error {
        let error = Error::NotSupported(what.to_string());
        match offset(self.sql, location) {
            Some(position) => error.at(position),
            None => error,
        }
    }

    fn ident(&self, ident: &sp::Ident) -> Ident {
        Ident {
            // PostgreSQL folds unquoted names to lower case.
            name: match ident.quote_style {
                Some(_) => ident.value.clone(),
                None => ident.value.to_lowercase(),
            },
            position: offset(self.sql, ident.span.start).unwrap_or(0),
        }
    }

    /// A table or index name; `public.t` is `t` (the only schema).
    fn object_name(&self, name: &sp::ObjectName) -> Result<Ident> {
        let parts: Vec<&sp::Ident> = name
            .0
            .iter()
            .filter_map(|p| match p {
                sp::ObjectNamePart::Identifier(i) => Some(i),
                sp::ObjectNamePart::Function(_) => None,
            })
            .collect();
        match parts.as_slice() {
            [name] => Ok(self.ident(name)),
            [schema, name] => {
                let name = self.ident(name);
                match self.ident(schema).name.as_str() {
                    // The system catalog is searched first anyway, as in PostgreSQL.
                    "public" | "pg_catalog" => Ok(name),
                    "information_schema" => Ok(Ident {
                        name: format!("information_schema.{}", name.name),
                        ..name
                    }),
                    other => Err(Error::UndefinedTable(format!("{other}.{}", name.name))
                        .at(self.ident(schema).position)),
                }
            }
            _ => Err(self.unsupported(&format!("the name {name}"), name)),
        }
    }

    /// A run-time parameter's name: `statement_timeout`, or a dotted one (`omendb.analytics`).
    fn setting_name(&self, name: &sp::ObjectName) -> String {
        name.0
            .iter()
            .filter_map(|part| part.as_ident().map(|i| self.ident(i).name))
            .collect::<Vec<_>>()
            .join(".")
    }

    fn statement(&self, statement: &sp::Statement) -> Result<Statement> {
        match statement {
            sp::Statement::CreateTable(create) => self.create_table(create),
            sp::Statement::CreateView(view) => {
                if view.materialized || view.or_alter {
                    return Err(self.unsupported("materialized views", statement));
                }
                Ok(Statement::CreateView {
                    name: self.object_name(&view.name)?,
                    columns: view.columns.iter().map(|c| self.ident(&c.name)).collect(),
                    query: Box::new(self.query(&view.query)?),
                    sql: view.query.to_string(),
                    replace: view.or_replace,
                    if_not_exists: view.if_not_exists,
                })
            }
            sp::Statement::Drop {
                object_type: sp::ObjectType::Role | sp::ObjectType::User,
                if_exists,
                names,
                cascade: false,
                ..
            } => Ok(Statement::DropRole {
                names: names
                    .iter()
                    .map(|n| self.object_name(n))
                    .collect::<Result<_>>()?,
                if_exists: *if_exists,
            }),
            sp::Statement::CreateRole(create) => self.create_role(create, statement),
            sp::Statement::AlterRole {
                name,
                operation: sp::AlterRoleOperation::WithOptions { options },
            } => Ok(Statement::AlterRole {
                name: self.ident(name),
                options: self.role_options(options, statement)?,
            }),
            sp::Statement::Drop {
                object_type,
                if_exists,
                names,
                cascade,
                ..
            } => {
                if *cascade {
                    return Err(self.unsupported("DROP … CASCADE", statement));
                }
                let names = names
                    .iter()
                    .map(|n| self.object_name(n))
                    .collect::<Result<_>>()?;
                match object_type {
                    sp::ObjectType::Table => Ok(Statement::DropTable {
                        names,
                        if_exists: *if_exists,
                    }),
                    sp::ObjectType::Index => Ok(Statement::DropIndex {
                        names,
                        if_exists: *if_exists,
                    }),
                    sp::ObjectType::View => Ok(Statement::DropView {
                        names,
                        if_exists: *if_exists,
                    }),
                    other => Err(self.unsupported(&format!("DROP {other}"), statement)),
                }
            }
            sp::Statement::CreateIndex(index) => {
                let name = index
                    .name
                    .as_ref()
                    .ok_or_else(|| self.unsupported("CREATE INDEX without a name", statement))?;
                if index.using.is_some() || index.predicate.is_some() || !index.include.is_empty() {
                    return Err(
                        self.unsupported("CREATE INDEX with USING, INCLUDE or WHERE", statement)
                    );
                }
                let columns = index
                    .columns
                    .iter()
                    .map(|c| match &c.column.expr {
                        sp::Expr::Identifier(ident) => Ok(self.ident(ident)),
                        other => Err(self.unsupported("an index on an expression", other)),
                    })
                    .collect::<Result<_>>()?;
                Ok(Statement::CreateIndex {
                    name: self.object_name(name)?,
                    table: self.object_name(&index.table_name)?,
                    columns,
                    unique: index.unique,
                    if_not_exists: index.if_not_exists,
                })
            }
            sp::Statement::Insert(insert) => self.insert(insert),
            sp::Statement::Query(query) => Ok(Statement::Select(
                Box::new(self.query(query)?),
                analytics_text(query).into(),
            )),
            sp::Statement::Update(update) => self.update(update),
            sp::Statement::Delete(delete) => self.delete(delete),
            sp::Statement::StartTransaction { modes, .. } => {
                let (read_only, isolation) = transaction_modes(modes);
                Ok(Statement::Begin {
                    read_only: read_only.unwrap_or(false),
                    isolation,
                })
            }
            sp::Statement::Set(sp::Set::SetTransaction {
                modes,
                snapshot: None,
                session,
            }) => {
                let (read_only, isolation) = transaction_modes(modes);
                Ok(Statement::SetTransaction {
                    read_only,
                    isolation,
                    session: *session,
                })
            }
            sp::Statement::Set(sp::Set::SingleAssignment {
                variable, values, ..
            }) => Ok(Statement::Set {
                name: self.setting_name(variable),
                value: self.setting_value(values, statement)?,
            }),
            sp::Statement::Set(sp::Set::SetTimeZone { value, .. }) => Ok(Statement::Set {
                name: "timezone".into(),
                value: self.setting_value(std::slice::from_ref(value), statement)?,
            }),
            sp::Statement::ShowVariable { variable } => {
                let words: Vec<String> = variable.iter().map(|v| self.ident(v).name).collect();
                // `SHOW time zone` is words; `SHOW omendb.analytics` a dotted name.
                let separator = match words.first().map(String::as_str) {
                    Some("transaction" | "time") => " ",
                    _ => ".",
                };
                let name = words.join(separator);
                // The SQL-standard spellings of two parameters.
                Ok(Statement::Show(match name.as_str() {
                    "transaction isolation level" => "transaction_isolation".into(),
                    "time zone" => "timezone".into(),
                    _ => name,
                }))
            }
            sp::Statement::Reset(reset) => match &reset.reset {
                sp::Reset::ALL => Ok(Statement::ResetAll),
                sp::Reset::ConfigurationParameter(name) => Ok(Statement::Set {
                    name: self.setting_name(name),
                    value: None,
                }),
                sp::Reset::SessionAuthorization => {
                    Err(self.unsupported("RESET SESSION AUTHORIZATION", statement))
                }
            },
            sp::Statement::Explain {
                describe_alias: sp::DescribeAlias::Explain,
                analyze,
                statement: inner,
                format: None,
                options,
                ..
            } => {
                let (mut analyze, mut timing) = (*analyze, true);
                for option in options.iter().flatten() {
                    let on = match &option.arg {
                        None => true,
                        Some(sp::Expr::Value(v)) => match &v.value {
                            sp::Value::Boolean(b) => *b,
                            sp::Value::Number(n, _) => n != "0",
                            other => !other.to_string().eq_ignore_ascii_case("'off'"),
                        },
                        Some(sp::Expr::Identifier(i)) => {
                            !matches!(i.value.to_lowercase().as_str(), "off" | "false")
                        }
                        Some(other) => {
                            return Err(self.unsupported("this EXPLAIN option value", other));
                        }
                    };
                    match option.name.value.to_lowercase().as_str() {
                        "analyze" => analyze = on,
                        "timing" => timing = on,
                        "costs" | "verbose" | "summary" => {}
                        other => {
                            return Err(self.unsupported_at(
                                &format!("the EXPLAIN option {other}"),
                                option.name.span.start,
                            ));
                        }
                    }
                }
                Ok(Statement::Explain {
                    analyze,
                    timing,
                    statement: Box::new(self.statement(inner)?),
                })
            }
            sp::Statement::AlterTable(alter) if !alter.if_exists && !alter.only => {
                self.alter_table(alter, statement)
            }
            sp::Statement::Savepoint { name } => Ok(Statement::Savepoint(self.ident(name).name)),
            sp::Statement::ReleaseSavepoint { name } => {
                Ok(Statement::Release(self.ident(name).name))
            }
            sp::Statement::Rollback {
                chain: false,
                savepoint: Some(name),
            } => Ok(Statement::RollbackTo(self.ident(name).name)),
            sp::Statement::Truncate(truncate) if truncate.partitions.is_none() => {
                if truncate.cascade.is_some() || truncate.identity.is_some() {
                    return Err(self.unsupported("TRUNCATE … CASCADE or IDENTITY", statement));
                }
                Ok(Statement::Truncate(
                    truncate
                        .table_names
                        .iter()
                        .map(|t| self.object_name(&t.name))
                        .collect::<Result<_>>()?,
                ))
            }
            sp::Statement::Copy {
                source,
                to,
                target,
                options,
                legacy_options,
                payload,
            } => self.copy(
                source,
                *to,
                target,
                options,
                legacy_options,
                payload.is_some(),
            ),
            // Prepared statements live in the protocol layer, which replaces a statement
            // parsed again under its name: nothing to free in the engine.
            sp::Statement::Deallocate { name, .. } => Ok(Statement::Nothing(
                if name.value.eq_ignore_ascii_case("all") {
                    "DEALLOCATE ALL"
                } else {
                    "DEALLOCATE"
                },
            )),
            sp::Statement::Discard { object_type } => Ok(Statement::Discard(matches!(
                object_type,
                sp::DiscardObject::ALL
            ))),
            sp::Statement::Commit { chain: false, .. } => Ok(Statement::Commit),
            sp::Statement::Rollback {
                chain: false,
                savepoint: None,
            } => Ok(Statement::Rollback),
            other => Err(self.unsupported(&first_words(&other.to_string()), other)),
        }
    }

    fn copy(
        &self,
        source: &sp::CopySource,
        to: bool,
        target: &sp::CopyTarget,
        options: &[sp::CopyOption],
        legacy_options: &[sp::CopyLegacyOption],
        inline_data: bool,
    ) -> Result<Statement> {
        let at = |what: &str| match source {
            sp::CopySource::Table { table_name, .. } => self.unsupported(what, table_name),
            sp::CopySource::Query(query) => self.unsupported(what, query.as_ref()),
        };
        match (to, target) {
            (false, sp::CopyTarget::Stdin) | (true, sp::CopyTarget::Stdout) => {}
            _ => {
                return Err(at(
                    "COPY to or from a file or program on the server; use STDIN/STDOUT \
                     (psql's \\copy reads and writes files on the client)",
                ));
            }
        }
        if inline_data {
            return Err(at("COPY data inside the statement text"));
        }
        let mut parsed = CopyOptions::default();
        for option in options {
            match option {
                sp::CopyOption::Format(name) => parsed.format = Some(name.value.clone()),
                sp::CopyOption::Delimiter(c) => parsed.delimiter = Some(*c),
                sp::CopyOption::Null(null) => parsed.null = Some(null.clone()),
                sp::CopyOption::Header(header) => parsed.header = Some(*header),
                sp::CopyOption::Quote(c) => parsed.quote = Some(*c),
                sp::CopyOption::Escape(c) => parsed.escape = Some(*c),
                // Rows are visible to the loading transaction only until it commits anyway.
                sp::CopyOption::Freeze(_) => {}
                sp::CopyOption::Encoding(name)
                    if matches!(name.to_ascii_lowercase().as_str(), "utf8" | "utf-8") => {}
                other => return Err(at(&format!("the COPY option {other}"))),
            }
        }
        for option in legacy_options {
            match option {
                sp::CopyLegacyOption::Binary => parsed.format = Some("binary".into()),
                sp::CopyLegacyOption::Delimiter(c) => parsed.delimiter = Some(*c),
                sp::CopyLegacyOption::Null(null) => parsed.null = Some(null.clone()),
                sp::CopyLegacyOption::Header => parsed.header = Some(true),
                sp::CopyLegacyOption::Csv(csv) => {
                    parsed.format = Some("csv".into());
                    for option in csv {
                        match option {
                            sp::CopyLegacyCsvOption::Header => parsed.header = Some(true),
                            sp::CopyLegacyCsvOption::Quote(c) => parsed.quote = Some(*c),
                            sp::CopyLegacyCsvOption::Escape(c) => parsed.escape = Some(*c),
                            other => return Err(at(&format!("the COPY option {other}"))),
                        }
                    }
                }
                other => return Err(at(&format!("the COPY option {other}"))),
            }
        }
        // Checked now, so a bad option fails before any data moves.
        parsed.format()?;
        match source {
            sp::CopySource::Table {
                table_name,
                columns,
            } => {
                let table = self.object_name(table_name)?;
                let columns: Vec<Ident> = columns.iter().map(|c| self.ident(c)).collect();
                if !to {
                    return Ok(Statement::Copy(Copy::From {
                        table,
                        columns,
                        options: parsed,
                    }));
                }
                let items = if columns.is_empty() {
                    vec![SelectItem::Wildcard(table.position)]
                } else {
                    columns
                        .into_iter()
                        .map(|c| SelectItem::Expr {
                            expr: Expr {
                                kind: ExprKind::Column {
                                    table: None,
                                    name: c.name,
                                },
                                position: c.position,
                            },
                            alias: None,
                        })
                        .collect()
                };
                let query = Select {
                    distinct: false,
                    distinct_on: Vec::new(),
                    items,
                    from: Some(FromItem::Table {
                        name: table,
                        alias: None,
                    }),
                    filter: None,
                    group_by: Vec::new(),
                    having: None,
                    order_by: Vec::new(),
                    limit: None,
                    offset: None,
                    compound: Vec::new(),
                };
                Ok(Statement::Copy(Copy::To {
                    query: Box::new(query),
                    options: parsed,
                }))
            }
            sp::CopySource::Query(_) if !to => Err(at("COPY (query) FROM")),
            sp::CopySource::Query(query) => Ok(Statement::Copy(Copy::To {
                query: Box::new(self.query(query)?),
                options: parsed,
            })),
        }
    }

    fn create_table(&self, create: &sp::CreateTable) -> Result<Statement> {
        if create.temporary || create.query.is_some() || create.like.is_some() {
            return Err(self.unsupported(
                "CREATE TEMPORARY TABLE, CREATE TABLE AS or LIKE",
                &create.name,
            ));
        }
        let columns = create
            .columns
            .iter()
            .map(|c| self.column_def(c))
            .collect::<Result<Vec<_>>>()?;
        let mut primary_key = None;
        let mut unique = Vec::new();
        let mut checks = Vec::new();
        for constraint in &create.constraints {
            let names = |cols: &[sp::IndexColumn]| self.constraint_columns(cols);
            match constraint {
                sp::TableConstraint::PrimaryKey(pk) => {
                    if primary_key.is_some() {
                        return Err(Error::InvalidDefinition(format!(
                            "multiple primary keys for table \"{}\" are not allowed",
                            self.object_name(&create.name)?.name
                        )));
                    }
                    primary_key = Some(names(&pk.columns)?);
                }
                sp::TableConstraint::Unique(u) => unique.push(names(&u.columns)?),
                sp::TableConstraint::Check(check) => checks.push(self.check(check)?),
                other => {
                    return Err(self.unsupported(&format!("the constraint {other}"), &create.name));
                }
            }
        }
        Ok(Statement::CreateTable(CreateTable {
            name: self.object_name(&create.name)?,
            if_not_exists: create.if_not_exists,
            columns,
            primary_key,
            unique,
            checks,
        }))
    }

    fn check(&self, check: &sp::CheckConstraint) -> Result<CheckDef> {
        Ok(CheckDef {
            name: check.name.as_ref().map(|n| self.ident(n).name),
            expr: self.expr(&check.expr)?,
            sql: check.expr.to_string(),
        })
    }

    fn column_def(&self, column: &sp::ColumnDef) -> Result<ColumnDef> {
        // SERIAL types: an integer column with values from its counter, never NULL.
        let serial = match &column.data_type {
            sp::DataType::Custom(name, modifiers) if modifiers.is_empty() => {
                match name.to_string().to_ascii_lowercase().as_str() {
                    "smallserial" | "serial2" => Some(DataType::SmallInt),
                    "serial" | "serial4" => Some(DataType::Integer),
                    "bigserial" | "serial8" => Some(DataType::BigInt),
                    _ => None,
                }
            }
            _ => None,
        };
        let mut def = ColumnDef {
            name: self.ident(&column.name),
            data_type: match serial {
                Some(ty) => ty,
                None => match self.data_type(&column.data_type, column)? {
                    DataType::Array(_) => {
                        return Err(
                            self.unsupported("array columns (arrays are values only)", column)
                        );
                    }
                    ty => ty,
                },
            },
            not_null: serial.is_some(),
            primary_key: false,
            unique: false,
            default: None,
            serial: serial.is_some(),
            checks: Vec::new(),
        };
        for option in &column.options {
            match &option.option {
                sp::ColumnOption::Null => def.not_null = false,
                sp::ColumnOption::NotNull => def.not_null = true,
                sp::ColumnOption::Default(expr) => {
                    def.default = Some((self.expr(expr)?, expr.to_string()));
                }
                sp::ColumnOption::PrimaryKey(_) => def.primary_key = true,
                sp::ColumnOption::Unique(_) => def.unique = true,
                sp::ColumnOption::Check(check) => def.checks.push(self.check(check)?),
                // GENERATED { ALWAYS | BY DEFAULT } AS IDENTITY: values from the column's
                // counter (ALWAYS is not enforced: explicit values are taken, as BY DEFAULT).
                sp::ColumnOption::Generated {
                    generation_expr: None,
                    ..
                } => {
                    def.serial = true;
                    def.not_null = true;
                }
                _ => {
                    return Err(
                        self.unsupported(&format!("the column option {}", option.option), column)
                    );
                }
            }
        }
        Ok(def)
    }

    fn create_role(&self, create: &sp::CreateRole, statement: &sp::Statement) -> Result<Statement> {
        let [name] = create.names.as_slice() else {
            return Err(self.unsupported("several roles in one CREATE ROLE", statement));
        };
        let privileges = [
            create.inherit,
            create.bypassrls,
            create.create_db,
            create.create_role,
            create.replication,
        ];
        if privileges.iter().any(Option::is_some) {
            return Err(self.unsupported(
                "the role options CREATEDB, CREATEROLE, INHERIT, REPLICATION and BYPASSRLS \
                 (only superusers manage roles)",
                statement,
            ));
        }
        if create.connection_limit.is_some()
            || create.valid_until.is_some()
            || !create.in_role.is_empty()
            || !create.in_group.is_empty()
            || !create.role.is_empty()
            || !create.user.is_empty()
            || !create.admin.is_empty()
            || create.authorization_owner.is_some()
        {
            return Err(self.unsupported(
                "role memberships, CONNECTION LIMIT and VALID UNTIL",
                statement,
            ));
        }
        let mut options = Vec::new();
        options.extend(create.login.map(sp::RoleOption::Login));
        options.extend(create.superuser.map(sp::RoleOption::SuperUser));
        options.extend(create.password.clone().map(sp::RoleOption::Password));
        Ok(Statement::CreateRole {
            name: self.object_name(name)?,
            if_not_exists: create.if_not_exists,
            options: self.role_options(&options, statement)?,
        })
    }

    /// LOGIN, SUPERUSER and PASSWORD. The privileges OmenDB has no use for (CREATEDB,
    /// CREATEROLE, INHERIT, REPLICATION, BYPASSRLS) are refused rather than ignored: only
    /// superusers manage roles here.
    fn role_options(
        &self,
        options: &[sp::RoleOption],
        statement: &sp::Statement,
    ) -> Result<RoleOptions> {
        let mut parsed = RoleOptions::default();
        for option in options {
            match option {
                sp::RoleOption::Login(login) => parsed.login = Some(*login),
                sp::RoleOption::SuperUser(superuser) => parsed.superuser = Some(*superuser),
                sp::RoleOption::Password(sp::Password::NullPassword) => {
                    parsed.password = Some(None);
                }
                sp::RoleOption::Password(sp::Password::Password(expr)) => match expr {
                    sp::Expr::Value(v) => match &v.value {
                        sp::Value::SingleQuotedString(text) => {
                            parsed.password = Some(Some(text.clone()));
                        }
                        sp::Value::Null => parsed.password = Some(None),
                        _ => return Err(self.unsupported("a password that is not a string", expr)),
                    },
                    _ => return Err(self.unsupported("a password that is not a string", expr)),
                },
                other => {
                    return Err(self.unsupported(&format!("the role option {other}"), statement));
                }
            }
        }
        Ok(parsed)
    }

    /// The columns of a PRIMARY KEY or UNIQUE constraint.
    fn constraint_columns(&self, columns: &[sp::IndexColumn]) -> Result<Vec<Ident>> {
        columns
            .iter()
            .map(|c| match &c.column.expr {
                sp::Expr::Identifier(ident) => Ok(self.ident(ident)),
                other => Err(self.unsupported("a constraint on an expression", other)),
            })
            .collect()
    }

    fn alter_table(&self, alter: &sp::AlterTable, statement: &sp::Statement) -> Result<Statement> {
        let table = self.object_name(&alter.name)?;
        let [operation] = alter.operations.as_slice() else {
            return Err(self.unsupported("several changes in one ALTER TABLE", statement));
        };
        let change = match operation {
            sp::AlterTableOperation::AddColumn {
                if_not_exists,
                column_def,
                column_position: None,
                ..
            } => AlterTable::AddColumn {
                column: self.column_def(column_def)?,
                if_not_exists: *if_not_exists,
            },
            sp::AlterTableOperation::DropColumn {
                column_names,
                if_exists,
                drop_behavior: None | Some(sp::DropBehavior::Restrict),
                ..
            } if column_names.len() == 1 => AlterTable::DropColumn {
                name: self.ident(&column_names[0]),
                if_exists: *if_exists,
            },
            sp::AlterTableOperation::RenameColumn {
                old_column_name,
                new_column_name,
            } => AlterTable::RenameColumn {
                from: self.ident(old_column_name),
                to: self.ident(new_column_name),
            },
            sp::AlterTableOperation::RenameTable {
                table_name: sp::RenameTableNameKind::To(name) | sp::RenameTableNameKind::As(name),
            } => AlterTable::RenameTo(self.object_name(name)?),
            sp::AlterTableOperation::AddConstraint {
                constraint: sp::TableConstraint::PrimaryKey(pk),
                not_valid: false,
            } => AlterTable::AddPrimaryKey(self.constraint_columns(&pk.columns)?),
            sp::AlterTableOperation::AddConstraint {
                constraint: sp::TableConstraint::Unique(unique),
                not_valid: false,
            } => AlterTable::AddUnique {
                name: unique.name.as_ref().map(|n| self.ident(n)),
                columns: self.constraint_columns(&unique.columns)?,
            },
            other => {
                return Err(self.unsupported(&format!("ALTER TABLE … {other}"), statement));
            }
        };
        Ok(Statement::AlterTable { table, change })
    }

    fn data_type(&self, data_type: &sp::DataType, at: &impl Spanned) -> Result<DataType> {
        use sp::DataType as T;
        Ok(match data_type {
            T::SmallInt(None) | T::Int2(None) => DataType::SmallInt,
            T::Int(None) | T::Integer(None) | T::Int4(None) => DataType::Integer,
            T::BigInt(None) | T::Int8(None) => DataType::BigInt,
            T::Real | T::Float4 => DataType::Real,
            T::DoublePrecision | T::Float8 => DataType::Double,
            T::Float(sp::ExactNumberInfo::None) => DataType::Double,
            T::Text => DataType::Text,
            T::Varchar(length) | T::CharacterVarying(length) | T::CharVarying(length) => {
                DataType::Varchar(length.as_ref().map(|l| self.length(l, at)).transpose()?)
            }
            T::Char(length) | T::Character(length) => DataType::Char(
                length
                    .as_ref()
                    .map(|l| self.length(l, at))
                    .transpose()?
                    .unwrap_or(1),
            ),
            T::Bool | T::Boolean => DataType::Boolean,
            T::Bytea => DataType::Bytea,
            T::Numeric(info) | T::Decimal(info) | T::Dec(info) => DataType::Numeric(match info {
                sp::ExactNumberInfo::None => None,
                sp::ExactNumberInfo::Precision(p) => Some((self.precision(*p, at)?, 0)),
                sp::ExactNumberInfo::PrecisionAndScale(p, s) => {
                    let p = self.precision(*p, at)?;
                    let s = u16::try_from(*s).ok().filter(|s| *s <= p).ok_or_else(|| {
                        Error::Syntax(format!(
                            "NUMERIC scale {s} must be between 0 and precision {p}"
                        ))
                        .at(self.position(at))
                    })?;
                    Some((p, s))
                }
            }),
            T::Date => DataType::Date,
            T::Time(_, sp::TimezoneInfo::None | sp::TimezoneInfo::WithoutTimeZone) => {
                DataType::Time
            }
            T::Timestamp(_, sp::TimezoneInfo::None | sp::TimezoneInfo::WithoutTimeZone) => {
                DataType::Timestamp
            }
            T::Timestamp(_, sp::TimezoneInfo::WithTimeZone | sp::TimezoneInfo::Tz) => {
                DataType::TimestampTz
            }
            T::Interval { fields: None, .. } => DataType::Interval,
            T::Uuid => DataType::Uuid,
            T::JSON => DataType::Json,
            T::JSONB => DataType::Jsonb,
            T::Array(sp::ArrayElemTypeDef::SquareBracket(element, _)) => {
                match self.data_type(element, at)? {
                    DataType::Array(_) => {
                        return Err(self.unsupported("multidimensional arrays", at));
                    }
                    element => DataType::array_of(element)
                        .ok_or_else(|| self.unsupported("arrays of this type", at))?,
                }
            }
            T::Custom(name, modifiers) if modifiers.is_empty() => {
                let name = name.to_string().to_ascii_lowercase();
                match name.strip_prefix("pg_catalog.").unwrap_or(&name) {
                    "timestamptz" => DataType::TimestampTz,
                    "bpchar" => DataType::Char(1),
                    // The catalog's own types: object ids are integers, names and "char" text.
                    "oid" => DataType::Integer,
                    "name" | "\"char\"" => DataType::Text,
                    "text" => DataType::Text,
                    "int2" => DataType::SmallInt,
                    "int4" => DataType::Integer,
                    "int8" => DataType::BigInt,
                    "bool" => DataType::Boolean,
                    "float4" => DataType::Real,
                    "float8" => DataType::Double,
                    "varchar" => DataType::Varchar(None),
                    other => {
                        return Err(Error::UndefinedObject(format!("type \"{other}\""))
                            .at(self.position(at)));
                    }
                }
            }
            other => return Err(self.unsupported(&format!("the type {other}"), at)),
        })
    }

    /// A SET value as text (`DEFAULT`: none); several values are joined by commas.
    fn setting_value(&self, values: &[sp::Expr], at: &impl Spanned) -> Result<Option<String>> {
        let mut parts = Vec::with_capacity(values.len());
        for value in values {
            parts.push(match value {
                sp::Expr::Value(v) => match &v.value {
                    sp::Value::SingleQuotedString(s) => s.clone(),
                    sp::Value::Number(n, _) => n.clone(),
                    sp::Value::Boolean(b) => (if *b { "on" } else { "off" }).to_string(),
                    other => other.to_string(),
                },
                sp::Expr::Identifier(ident) if ident.value.eq_ignore_ascii_case("default") => {
                    return Ok(None);
                }
                sp::Expr::Identifier(ident) => ident.value.clone(),
                sp::Expr::UnaryOp {
                    op: sp::UnaryOperator::Minus,
                    expr,
                } => format!("-{expr}"),
                other => return Err(self.unsupported(&format!("the SET value {other}"), at)),
            });
        }
        Ok(Some(parts.join(", ")))
    }

    /// A `VARCHAR(n)`/`CHAR(n)` length: at least 1.
    fn length(&self, length: &sp::CharacterLength, at: &impl Spanned) -> Result<u32> {
        match length {
            sp::CharacterLength::IntegerLength { length, .. } if *length >= 1 => {
                u32::try_from(*length).map_err(|_| {
                    Error::InvalidArgument("length for type varchar cannot exceed 10485760".into())
                        .at(self.position(at))
                })
            }
            _ => Err(
                Error::Syntax("length for a character type must be at least 1".into())
                    .at(self.position(at)),
            ),
        }
    }

    /// A NUMERIC precision: 1 to 1000, as in PostgreSQL.
    fn precision(&self, precision: u64, at: &impl Spanned) -> Result<u16> {
        u16::try_from(precision)
            .ok()
            .filter(|p| (1..=1000).contains(p))
            .ok_or_else(|| {
                Error::Syntax(format!(
                    "NUMERIC precision {precision} must be between 1 and 1000"
                ))
                .at(self.position(at))
            })
    }

    fn insert(&self, insert: &sp::Insert) -> Result<Statement> {
        let table = match &insert.table {
            sp::TableObject::TableName(name) => self.object_name(name)?,
            other => return Err(self.unsupported("this INSERT target", other)),
        };
        let columns = insert
            .columns
            .iter()
            .map(|c| self.object_name(c))
            .collect::<Result<_>>()?;
        let source = match insert.source.as_ref() {
            None => InsertSource::DefaultValues,
            Some(source) => self.insert_source(source)?,
        };
        let on_conflict = match &insert.on {
            None => None,
            Some(sp::OnInsert::OnConflict(conflict)) => {
                let target = match &conflict.conflict_target {
                    None => Vec::new(),
                    Some(sp::ConflictTarget::Columns {
                        columns,
                        predicate: None,
                    }) => columns.iter().map(|c| self.ident(c)).collect(),
                    Some(_) => {
                        return Err(self.unsupported(
                            "ON CONFLICT ON CONSTRAINT or with a WHERE predicate",
                            &insert.table,
                        ));
                    }
                };
                let update = match &conflict.action {
                    sp::OnConflictAction::DoNothing => None,
                    sp::OnConflictAction::DoUpdate(update) => Some(ConflictUpdate {
                        assignments: self.assignments(&update.assignments)?,
                        filter: self.optional(update.selection.as_ref())?,
                    }),
                };
                Some(OnConflict { target, update })
            }
            Some(_) => return Err(self.unsupported("ON DUPLICATE KEY", &insert.table)),
        };
        Ok(Statement::Insert(Insert {
            table,
            columns,
            source,
            on_conflict,
            returning: self.returning(insert.returning.as_ref())?,
        }))
    }

    fn insert_source(&self, source: &sp::Query) -> Result<InsertSource> {
        Ok(match source.body.as_ref() {
            sp::SetExpr::Values(values) if source.order_by.is_none() => InsertSource::Values(
                values
                    .rows
                    .iter()
                    .map(|row| row.content.iter().map(|e| self.expr(e)).collect())
                    .collect::<Result<_>>()?,
            ),
            _ => InsertSource::Query(Box::new(self.query(source)?)),
        })
    }

    fn assignments(&self, assignments: &[sp::Assignment]) -> Result<Vec<(Ident, Expr)>> {
        assignments
            .iter()
            .map(|assignment| {
                let column = match &assignment.target {
                    sp::AssignmentTarget::ColumnName(name) => self.object_name(name)?,
                    sp::AssignmentTarget::Tuple(_) => {
                        return Err(self.unsupported("tuple assignments", &assignment.value));
                    }
                };
                Ok((column, self.expr(&assignment.value)?))
            })
            .collect()
    }

    fn returning(&self, items: Option<&Vec<sp::SelectItem>>) -> Result<Vec<SelectItem>> {
        items
            .into_iter()
            .flatten()
            .map(|item| self.select_item(item))
            .collect()
    }

    fn select_item(&self, item: &sp::SelectItem) -> Result<SelectItem> {
        Ok(match item {
            sp::SelectItem::Wildcard(_) => SelectItem::Wildcard(self.position(item)),
            sp::SelectItem::QualifiedWildcard(
                sp::SelectItemQualifiedWildcardKind::ObjectName(name),
                _,
            ) => SelectItem::QualifiedWildcard(self.object_name(name)?),
            sp::SelectItem::UnnamedExpr(expr) => SelectItem::Expr {
                expr: self.expr(expr)?,
                alias: None,
            },
            sp::SelectItem::ExprWithAlias { expr, alias } => SelectItem::Expr {
                expr: self.expr(expr)?,
                alias: Some(self.ident(alias).name),
            },
            other => return Err(self.unsupported(&format!("the select item {other}"), other)),
        })
    }

    fn query(&self, query: &sp::Query) -> Result<Select> {
        if query.fetch.is_some() || !query.locks.is_empty() {
            return Err(self.unsupported("FETCH or FOR UPDATE", query));
        }
        let mut result = self.set_expr(&query.body)?;
        if let Some(with) = &query.with {
            // Each WITH query is put where the main query's FROM clauses name it (each may use
            // the ones before it; with RECURSIVE, a query may also name itself).
            let mut ctes: Vec<(String, Cte)> = Vec::new();
            for cte in &with.cte_tables {
                let name = self.ident(&cte.alias.name).name;
                let columns: Vec<Ident> = cte
                    .alias
                    .columns
                    .iter()
                    .map(|c| self.ident(&c.name))
                    .collect();
                let mut select = self.query(&cte.query)?;
                inline_ctes(&mut select, &ctes);
                let definition = match recursive_parts(select, &name, with.recursive) {
                    Ok((base, step, all)) => Cte::Recursive(Box::new(RecursiveQuery {
                        name: name.clone(),
                        columns,
                        base,
                        step,
                        all,
                    })),
                    Err(select) => Cte::Plain(select, columns),
                };
                ctes.push((name, definition));
            }
            inline_ctes(&mut result, &ctes);
        }
        let mut order_by = Vec::new();
        if let Some(order) = &query.order_by {
            match &order.kind {
                sp::OrderByKind::Expressions(exprs) => {
                    for item in exprs {
                        order_by.push(self.order_item(item)?);
                    }
                }
                sp::OrderByKind::All(_) => {
                    return Err(self.unsupported("ORDER BY ALL", query));
                }
            }
        }
        let (limit, offset) = match &query.limit_clause {
            None => (None, None),
            Some(sp::LimitClause::LimitOffset {
                limit,
                offset,
                limit_by,
            }) if limit_by.is_empty() => (
                limit.as_ref().map(|e| self.expr(e)).transpose()?,
                offset.as_ref().map(|o| self.expr(&o.value)).transpose()?,
            ),
            Some(_) => return Err(self.unsupported("this LIMIT form", query)),
        };
        result.order_by = order_by;
        result.limit = limit;
        result.offset = offset;
        Ok(result)
    }

    /// A query body: one SELECT, or set operations chained to the left (`a UNION b EXCEPT c`).
    fn set_expr(&self, body: &sp::SetExpr) -> Result<Select> {
        match body {
            sp::SetExpr::Select(select) => self.select(select),
            sp::SetExpr::SetOperation {
                left,
                op,
                set_quantifier,
                right,
            } => {
                let mut result = self.set_expr(left)?;
                let right = self.set_expr(right)?;
                if !right.compound.is_empty() {
                    return Err(self.unsupported(
                        "a set operation nested on the right (INTERSECT after UNION)",
                        body,
                    ));
                }
                let op = match op {
                    sp::SetOperator::Union => SetOp::Union,
                    sp::SetOperator::Intersect => SetOp::Intersect,
                    sp::SetOperator::Except => SetOp::Except,
                    other => return Err(self.unsupported(&format!("{other}"), body)),
                };
                let all = match set_quantifier {
                    sp::SetQuantifier::All => true,
                    sp::SetQuantifier::Distinct | sp::SetQuantifier::None => false,
                    _ => return Err(self.unsupported("BY NAME", body)),
                };
                result.compound.push(Compound {
                    op,
                    all,
                    select: right,
                });
                Ok(result)
            }
            sp::SetExpr::Values(values) => {
                let rows = values
                    .rows
                    .iter()
                    .map(|row| row.content.iter().map(|e| self.expr(e)).collect())
                    .collect::<Result<Vec<Vec<Expr>>>>()?;
                let position = self.position(body);
                Ok(Select {
                    distinct: false,
                    distinct_on: Vec::new(),
                    items: vec![SelectItem::Wildcard(position)],
                    from: Some(FromItem::Values {
                        rows,
                        alias: Ident {
                            name: "*VALUES*".into(),
                            position,
                        },
                        columns: Vec::new(),
                    }),
                    filter: None,
                    group_by: Vec::new(),
                    having: None,
                    order_by: Vec::new(),
                    limit: None,
                    offset: None,
                    compound: Vec::new(),
                })
            }
            other => Err(self.unsupported("parenthesized queries in set operations", other)),
        }
    }

    fn select(&self, select: &sp::Select) -> Result<Select> {
        let query = select;
        let group_by = match &select.group_by {
            sp::GroupByExpr::Expressions(exprs, modifiers) if modifiers.is_empty() => exprs
                .iter()
                .map(|e| self.expr(e))
                .collect::<Result<Vec<_>>>()?,
            _ => return Err(self.unsupported("this GROUP BY form", query)),
        };
        let (distinct, distinct_on) = match &select.distinct {
            None | Some(sp::Distinct::All) => (false, Vec::new()),
            Some(sp::Distinct::Distinct) => (true, Vec::new()),
            Some(sp::Distinct::On(exprs)) => (
                false,
                exprs.iter().map(|e| self.expr(e)).collect::<Result<_>>()?,
            ),
        };
        let from = self.from(&select.from, query)?;
        let items = select
            .projection
            .iter()
            .map(|item| self.select_item(item))
            .collect::<Result<Vec<_>>>()?;
        Ok(Select {
            distinct,
            distinct_on,
            items,
            from,
            filter: self.optional(select.selection.as_ref())?,
            group_by,
            having: self.optional(select.having.as_ref())?,
            order_by: Vec::new(),
            limit: None,
            offset: None,
            compound: Vec::new(),
        })
    }

    /// The FROM clause as a join tree: comma-separated items are cross joins.
    fn from(&self, from: &[sp::TableWithJoins], at: &impl Spanned) -> Result<Option<FromItem>> {
        let mut tree: Option<FromItem> = None;
        for table in from {
            let mut item = self.table_factor(&table.relation)?;
            for join in &table.joins {
                let right = self.table_factor(&join.relation)?;
                let (kind, constraint) = match &join.join_operator {
                    sp::JoinOperator::Join(c) | sp::JoinOperator::Inner(c) => (JoinKind::Inner, c),
                    sp::JoinOperator::Left(c) | sp::JoinOperator::LeftOuter(c) => {
                        (JoinKind::Left, c)
                    }
                    sp::JoinOperator::Right(c) | sp::JoinOperator::RightOuter(c) => {
                        (JoinKind::Right, c)
                    }
                    sp::JoinOperator::FullOuter(c) => (JoinKind::Full, c),
                    sp::JoinOperator::CrossJoin(c) => (JoinKind::Cross, c),
                    _ => return Err(self.unsupported("this kind of join", &join.relation)),
                };
                let on = match constraint {
                    sp::JoinConstraint::On(expr) => Some(self.expr(expr)?),
                    sp::JoinConstraint::None if kind == JoinKind::Cross => None,
                    _ => {
                        return Err(self.unsupported(
                            "joins with USING, NATURAL or without ON",
                            &join.relation,
                        ));
                    }
                };
                item = FromItem::Join {
                    left: Box::new(item),
                    right: Box::new(right),
                    kind,
                    on,
                };
            }
            tree = Some(match tree {
                None => item,
                Some(left) => FromItem::Join {
                    left: Box::new(left),
                    right: Box::new(item),
                    kind: JoinKind::Cross,
                    on: None,
                },
            });
        }
        let _ = at;
        Ok(tree)
    }

    fn table_factor(&self, factor: &sp::TableFactor) -> Result<FromItem> {
        match factor {
            sp::TableFactor::Table {
                name,
                alias,
                args: None,
                ..
            } => {
                let alias = match alias {
                    None => None,
                    Some(a) if a.columns.is_empty() => Some(self.ident(&a.name)),
                    Some(_) => return Err(self.unsupported("column aliases in FROM", factor)),
                };
                Ok(FromItem::Table {
                    name: self.object_name(name)?,
                    alias,
                })
            }
            sp::TableFactor::Table {
                name,
                alias,
                args: Some(args),
                ..
            } => {
                let name = self.object_name(name)?;
                let (alias, column) = self.function_alias(&name, alias.as_ref(), factor)?;
                let args = args
                    .args
                    .iter()
                    .map(|arg| match arg {
                        sp::FunctionArg::Unnamed(sp::FunctionArgExpr::Expr(e)) => self.expr(e),
                        other => Err(self.unsupported("named or qualified arguments", other)),
                    })
                    .collect::<Result<_>>()?;
                Ok(FromItem::Function {
                    name,
                    args,
                    alias,
                    column,
                })
            }
            sp::TableFactor::UNNEST {
                alias,
                array_exprs,
                with_offset: false,
                with_ordinality: false,
                ..
            } => {
                let [array] = array_exprs.as_slice() else {
                    return Err(self.unsupported("unnest of several arrays", factor));
                };
                let name = Ident {
                    name: "unnest".into(),
                    position: self.position(factor),
                };
                let (alias, column) = self.function_alias(&name, alias.as_ref(), factor)?;
                Ok(FromItem::Function {
                    name,
                    args: vec![self.expr(array)?],
                    alias,
                    column,
                })
            }
            sp::TableFactor::Derived {
                lateral: false,
                subquery,
                alias: Some(alias),
                ..
            } => {
                let columns = alias.columns.iter().map(|c| self.ident(&c.name)).collect();
                let alias = self.ident(&alias.name);
                // A VALUES list in FROM is a table of its own; any other query a subquery.
                let query = self.query(subquery)?;
                let bare_values = matches!(
                    &query,
                    Select {
                        distinct: false,
                        items,
                        from: Some(FromItem::Values { alias, .. }),
                        filter: None,
                        having: None,
                        limit: None,
                        offset: None,
                        ..
                    } if alias.name == "*VALUES*"
                        && matches!(items.as_slice(), [SelectItem::Wildcard(_)])
                        && query.group_by.is_empty()
                        && query.order_by.is_empty()
                        && query.compound.is_empty()
                );
                Ok(match query {
                    Select {
                        from: Some(FromItem::Values { rows, .. }),
                        ..
                    } if bare_values => FromItem::Values {
                        rows,
                        alias,
                        columns,
                    },
                    query => FromItem::Subquery {
                        query: Box::new(query),
                        alias,
                        columns,
                    },
                })
            }
            sp::TableFactor::Derived { alias: None, .. } => {
                Err(Error::Syntax("subquery in FROM must have an alias".into())
                    .at(self.position(factor)))
            }
            other => {
                Err(self.unsupported("this FROM item (functions, LATERAL, column aliases)", other))
            }
        }
    }

    /// A FROM function's alias and its column's: `f(…) s` names both `s`, `f(…) s(x)` the
    /// column `x`; without an alias both are the function's name.
    fn function_alias(
        &self,
        name: &Ident,
        alias: Option<&sp::TableAlias>,
        at: &sp::TableFactor,
    ) -> Result<(Ident, Option<Ident>)> {
        Ok(match alias {
            None => (name.clone(), None),
            Some(a) => match a.columns.as_slice() {
                [] => (self.ident(&a.name), None),
                [column] => (self.ident(&a.name), Some(self.ident(&column.name))),
                _ => return Err(self.unsupported("several column aliases here", at)),
            },
        })
    }

    /// The target of UPDATE or DELETE: one table, with an optional alias.
    fn target(
        &self,
        tables: &[sp::TableWithJoins],
        at: &impl Spanned,
    ) -> Result<(Ident, Option<Ident>)> {
        match tables {
            [table] if table.joins.is_empty() => match &table.relation {
                sp::TableFactor::Table { name, alias, .. } => {
                    let alias = match alias {
                        Some(a) if a.columns.is_empty() => Some(self.ident(&a.name)),
                        Some(_) => return Err(self.unsupported("column aliases here", at)),
                        None => None,
                    };
                    Ok((self.object_name(name)?, alias))
                }
                other => Err(self.unsupported("this target table form", other)),
            },
            _ => Err(self.unsupported("several target tables", at)),
        }
    }

    fn update(&self, update: &sp::Update) -> Result<Statement> {
        let (table, alias) = self.target(std::slice::from_ref(&update.table), &update.table)?;
        let from = match &update.from {
            None => None,
            Some(sp::UpdateTableFromKind::AfterSet(tables)) => self.from(tables, &update.table)?,
            Some(sp::UpdateTableFromKind::BeforeSet(_)) => {
                return Err(self.unsupported("FROM before SET", &update.table));
            }
        };
        Ok(Statement::Update(Update {
            table,
            alias,
            assignments: self.assignments(&update.assignments)?,
            from,
            filter: self.optional(update.selection.as_ref())?,
            returning: self.returning(update.returning.as_ref())?,
        }))
    }

    fn delete(&self, delete: &sp::Delete) -> Result<Statement> {
        if !delete.tables.is_empty() {
            return Err(self.unsupported("DELETE of several tables", &delete.delete_token.0));
        }
        let tables = match &delete.from {
            sp::FromTable::WithFromKeyword(t) | sp::FromTable::WithoutKeyword(t) => t,
        };
        let (table, alias) = self.target(tables, &delete.delete_token.0)?;
        let using = match &delete.using {
            Some(tables) => self.from(tables, &delete.delete_token.0)?,
            None => None,
        };
        Ok(Statement::Delete(Delete {
            table,
            alias,
            using,
            filter: self.optional(delete.selection.as_ref())?,
            returning: self.returning(delete.returning.as_ref())?,
        }))
    }

    fn expr(&self, expr: &sp::Expr) -> Result<Expr> {
        let position = self.position(expr);
        let boxed = |e: &sp::Expr| self.expr(e).map(Box::new);
        let kind = match expr {
            sp::Expr::Identifier(ident) => ExprKind::Column {
                table: None,
                name: self.ident(ident).name,
            },
            sp::Expr::CompoundIdentifier(parts) => match parts.as_slice() {
                [table, column] => ExprKind::Column {
                    table: Some(self.ident(table).name),
                    name: self.ident(column).name,
                },
                [schema, table, column] => ExprKind::Column {
                    table: Some(
                        self.object_name(&sp::ObjectName::from(vec![
                            schema.clone(),
                            table.clone(),
                        ]))?
                        .name,
                    ),
                    name: self.ident(column).name,
                },
                _ => return Err(self.unsupported("this qualified name", expr)),
            },
            sp::Expr::Value(sp::ValueWithSpan {
                value: sp::Value::Placeholder(name),
                ..
            }) => match name.strip_prefix('$').and_then(|n| n.parse::<usize>().ok()) {
                Some(n) if n >= 1 => ExprKind::Parameter(n - 1),
                _ => return Err(self.unsupported(&format!("the placeholder {name}"), expr)),
            },
            sp::Expr::Value(value) => ExprKind::Literal(self.literal(&value.value, expr)?),
            sp::Expr::Nested(inner) => return self.expr(inner),
            sp::Expr::UnaryOp { op, expr: inner } => ExprKind::Unary {
                op: match op {
                    sp::UnaryOperator::Minus => UnaryOp::Minus,
                    sp::UnaryOperator::Plus => UnaryOp::Plus,
                    sp::UnaryOperator::Not => UnaryOp::Not,
                    other => return Err(self.unsupported(&format!("the operator {other}"), expr)),
                },
                expr: boxed(inner)?,
            },
            sp::Expr::BinaryOp { left, op, right } => ExprKind::Binary {
                op: self
                    .binary_operator(op)
                    .ok_or_else(|| self.unsupported(&format!("the operator {op}"), expr))?,
                left: boxed(left)?,
                right: boxed(right)?,
            },
            sp::Expr::IsNull(inner) => ExprKind::IsNull {
                expr: boxed(inner)?,
                negated: false,
            },
            sp::Expr::IsNotNull(inner) => ExprKind::IsNull {
                expr: boxed(inner)?,
                negated: true,
            },
            sp::Expr::Between {
                expr: inner,
                negated,
                low,
                high,
            } => ExprKind::Between {
                expr: boxed(inner)?,
                low: boxed(low)?,
                high: boxed(high)?,
                negated: *negated,
            },
            sp::Expr::In {
                expr: inner,
                target: sp::InTarget::List(list),
                negated,
                global: false,
            } => ExprKind::InList {
                expr: boxed(inner)?,
                list: list.iter().map(|e| self.expr(e)).collect::<Result<_>>()?,
                negated: *negated,
            },
            sp::Expr::Function(function) => self.function(function)?,
            sp::Expr::Substring {
                expr: inner,
                substring_from,
                substring_for,
                ..
            } => {
                let mut args = vec![self.expr(inner)?];
                let one = Expr {
                    kind: ExprKind::Literal(Literal::Integer(1)),
                    position,
                };
                args.push(match substring_from {
                    Some(from) => self.expr(from)?,
                    None => one,
                });
                if let Some(length) = substring_for {
                    args.push(self.expr(length)?);
                }
                ExprKind::Function {
                    name: "substr".into(),
                    args,
                    distinct: false,
                    star: false,
                }
            }
            sp::Expr::Ceil {
                expr: inner,
                field: sp::CeilFloorKind::DateTimeField(sp::DateTimeField::NoDateTime),
            }
            | sp::Expr::Floor {
                expr: inner,
                field: sp::CeilFloorKind::DateTimeField(sp::DateTimeField::NoDateTime),
            } => ExprKind::Function {
                name: if matches!(expr, sp::Expr::Ceil { .. }) {
                    "ceil".into()
                } else {
                    "floor".into()
                },
                args: vec![self.expr(inner)?],
                distinct: false,
                star: false,
            },
            sp::Expr::Position { expr: needle, r#in } => ExprKind::Function {
                name: "strpos".into(),
                args: vec![self.expr(r#in)?, self.expr(needle)?],
                distinct: false,
                star: false,
            },
            sp::Expr::Trim {
                expr: inner,
                trim_where,
                trim_what,
                trim_characters: None,
            } => {
                let name = match trim_where {
                    None | Some(sp::TrimWhereField::Both) => "btrim",
                    Some(sp::TrimWhereField::Leading) => "ltrim",
                    Some(sp::TrimWhereField::Trailing) => "rtrim",
                };
                let mut args = vec![self.expr(inner)?];
                if let Some(what) = trim_what {
                    args.push(self.expr(what)?);
                }
                ExprKind::Function {
                    name: name.into(),
                    args,
                    distinct: false,
                    star: false,
                }
            }
            sp::Expr::TypedString(typed) => ExprKind::Cast {
                expr: Box::new(Expr {
                    kind: ExprKind::Literal(self.literal(&typed.value.value, expr)?),
                    position,
                }),
                to: self.data_type(&typed.data_type, expr)?,
            },
            sp::Expr::Interval(interval) => {
                let value = self.expr(&interval.value)?;
                // `INTERVAL '2' DAY` is `'2 day'`.
                let value = match (&value.kind, &interval.leading_field) {
                    (ExprKind::Literal(Literal::String(s)), Some(field)) => Expr {
                        kind: ExprKind::Literal(Literal::String(format!("{s} {field}"))),
                        position,
                    },
                    _ => value,
                };
                ExprKind::Cast {
                    expr: Box::new(value),
                    to: DataType::Interval,
                }
            }
            sp::Expr::Extract {
                field, expr: inner, ..
            } => ExprKind::Function {
                name: "extract".into(),
                args: vec![
                    Expr {
                        kind: ExprKind::Literal(Literal::String(
                            field.to_string().to_ascii_lowercase(),
                        )),
                        position,
                    },
                    self.expr(inner)?,
                ],
                distinct: false,
                star: false,
            },
            sp::Expr::Subquery(query) => ExprKind::Subquery(Box::new(self.query(query)?)),
            sp::Expr::In {
                expr: inner,
                target: sp::InTarget::Subquery(query),
                negated,
                global: false,
            } => ExprKind::InSubquery {
                expr: boxed(inner)?,
                query: Box::new(self.query(query)?),
                negated: *negated,
            },
            sp::Expr::Exists { subquery, negated } => ExprKind::Exists {
                query: Box::new(self.query(subquery)?),
                negated: *negated,
            },
            sp::Expr::Case {
                operand,
                conditions,
                else_result,
                ..
            } => ExprKind::Case {
                operand: operand.as_deref().map(&boxed).transpose()?,
                branches: conditions
                    .iter()
                    .map(|w| Ok((self.expr(&w.condition)?, self.expr(&w.result)?)))
                    .collect::<Result<_>>()?,
                otherwise: else_result.as_deref().map(&boxed).transpose()?,
            },
            sp::Expr::Like {
                negated,
                any: false,
                expr: inner,
                pattern,
                escape_char: None,
            } => ExprKind::Like {
                expr: boxed(inner)?,
                pattern: boxed(pattern)?,
                negated: *negated,
                case_insensitive: false,
            },
            sp::Expr::ILike {
                negated,
                any: false,
                expr: inner,
                pattern,
                escape_char: None,
            } => ExprKind::Like {
                expr: boxed(inner)?,
                pattern: boxed(pattern)?,
                negated: *negated,
                case_insensitive: true,
            },
            sp::Expr::IsDistinctFrom(l, r) => ExprKind::IsDistinctFrom {
                left: boxed(l)?,
                right: boxed(r)?,
                negated: false,
            },
            sp::Expr::IsNotDistinctFrom(l, r) => ExprKind::IsDistinctFrom {
                left: boxed(l)?,
                right: boxed(r)?,
                negated: true,
            },
            sp::Expr::Cast {
                expr: inner,
                data_type,
                format: None,
                ..
            } => match reg_type(data_type) {
                Some(to) => ExprKind::RegCast {
                    expr: boxed(inner)?,
                    to,
                },
                None => ExprKind::Cast {
                    expr: boxed(inner)?,
                    to: self.data_type(data_type, expr)?,
                },
            },
            // Collations: OmenDB compares text by its bytes (the C collation) whatever is asked.
            sp::Expr::Collate { expr: inner, .. } => return self.expr(inner),
            sp::Expr::Array(array) => ExprKind::Array(
                array
                    .elem
                    .iter()
                    .map(|e| self.expr(e))
                    .collect::<Result<_>>()?,
            ),
            sp::Expr::CompoundFieldAccess { root, access_chain } => {
                let mut current = self.expr(root)?;
                for access in access_chain {
                    let sp::AccessExpr::Subscript(sp::Subscript::Index { index }) = access else {
                        return Err(self.unsupported("array slices and field access", expr));
                    };
                    current = Expr {
                        kind: ExprKind::Subscript {
                            expr: Box::new(current),
                            index: boxed(index)?,
                        },
                        position,
                    };
                }
                return Ok(current);
            }
            sp::Expr::AnyOp {
                left,
                compare_op,
                right,
                ..
            }
            | sp::Expr::AllOp {
                left,
                compare_op,
                right,
            } => ExprKind::AnyAll {
                left: boxed(left)?,
                op: self.comparison(compare_op, expr)?,
                right: boxed(right)?,
                all: matches!(expr, sp::Expr::AllOp { .. }),
            },
            other => {
                return Err(self.unsupported(
                    &format!("the expression {}", first_words(&other.to_string())),
                    other,
                ));
            }
        };
        Ok(Expr { kind, position })
    }

    /// `~`, `~*`, `!~`, `!~*`, also as `OPERATOR(pg_catalog.~)`.
    fn regex_operator(&self, op: &sp::BinaryOperator) -> Option<BinaryOp> {
        let (negated, case_insensitive) = match op {
            sp::BinaryOperator::PGRegexMatch => (false, false),
            sp::BinaryOperator::PGRegexIMatch => (false, true),
            sp::BinaryOperator::PGRegexNotMatch => (true, false),
            sp::BinaryOperator::PGRegexNotIMatch => (true, true),
            sp::BinaryOperator::PGCustomBinaryOperator(parts) => {
                match parts
                    .iter()
                    .map(String::as_str)
                    .collect::<Vec<_>>()
                    .as_slice()
                {
                    ["pg_catalog", op] | [op] => match *op {
                        "~" => (false, false),
                        "~*" => (false, true),
                        "!~" => (true, false),
                        "!~*" => (true, true),
                        _ => return None,
                    },
                    _ => return None,
                }
            }
            _ => return None,
        };
        Some(BinaryOp::Regex {
            negated,
            case_insensitive,
        })
    }

    /// The operator `op` stands for, if OmenDB has it.
    fn binary_operator(&self, op: &sp::BinaryOperator) -> Option<BinaryOp> {
        Some(match op {
            sp::BinaryOperator::Plus => BinaryOp::Add,
            sp::BinaryOperator::Minus => BinaryOp::Subtract,
            sp::BinaryOperator::Multiply => BinaryOp::Multiply,
            sp::BinaryOperator::Divide => BinaryOp::Divide,
            sp::BinaryOperator::Modulo => BinaryOp::Modulo,
            sp::BinaryOperator::StringConcat => BinaryOp::Concat,
            sp::BinaryOperator::Eq => BinaryOp::Eq,
            sp::BinaryOperator::NotEq => BinaryOp::NotEq,
            sp::BinaryOperator::Lt => BinaryOp::Lt,
            sp::BinaryOperator::LtEq => BinaryOp::LtEq,
            sp::BinaryOperator::Gt => BinaryOp::Gt,
            sp::BinaryOperator::GtEq => BinaryOp::GtEq,
            sp::BinaryOperator::And => BinaryOp::And,
            sp::BinaryOperator::Or => BinaryOp::Or,
            sp::BinaryOperator::Arrow => BinaryOp::JsonGet,
            sp::BinaryOperator::LongArrow => BinaryOp::JsonGetText,
            sp::BinaryOperator::AtArrow => BinaryOp::JsonContains,
            sp::BinaryOperator::ArrowAt => BinaryOp::JsonContainedBy,
            sp::BinaryOperator::Question => BinaryOp::JsonHasKey,
            other => return self.regex_operator(other),
        })
    }

    /// The comparison operator of `ANY`/`ALL`.
    fn comparison(&self, op: &sp::BinaryOperator, at: &sp::Expr) -> Result<BinaryOp> {
        match self.binary_operator(op) {
            Some(op) if op.is_comparison() || matches!(op, BinaryOp::Regex { .. }) => Ok(op),
            _ => Err(self.unsupported(&format!("{op} ANY/ALL"), at)),
        }
    }

    fn order_item(&self, item: &sp::OrderByExpr) -> Result<OrderItem> {
        let descending = match &item.options.sort {
            None | Some(sp::OrderBySort::Asc) => false,
            Some(sp::OrderBySort::Desc) => true,
            Some(sp::OrderBySort::Using(_)) => {
                return Err(self.unsupported("ORDER BY … USING", &item.expr));
            }
        };
        Ok(OrderItem {
            expr: self.expr(&item.expr)?,
            descending,
            nulls_first: item.options.nulls_first,
        })
    }

    /// `OVER (…)`: the window of a window function call.
    fn window(&self, call: ExprKind, over: &sp::WindowType, at: &sp::Function) -> Result<ExprKind> {
        let ExprKind::Function {
            name,
            args,
            distinct,
            star,
        } = call
        else {
            return Err(self.unsupported("this window function call", at));
        };
        let spec = match over {
            sp::WindowType::WindowSpec(spec) if spec.window_name.is_none() => spec,
            _ => return Err(self.unsupported("named windows", at)),
        };
        if distinct {
            return Err(self.unsupported("DISTINCT in a window function", at));
        }
        let frame = spec
            .window_frame
            .as_ref()
            .map(|frame| {
                let rows = match frame.units {
                    sp::WindowFrameUnits::Rows => true,
                    sp::WindowFrameUnits::Range => false,
                    sp::WindowFrameUnits::Groups => {
                        return Err(self.unsupported("GROUPS frames", at));
                    }
                };
                let bound = |b: &sp::WindowFrameBound| -> Result<FrameBound> {
                    let offset = |e: &sp::Expr| match e {
                        sp::Expr::Value(sp::ValueWithSpan {
                            value: sp::Value::Number(n, _),
                            ..
                        }) if rows => n
                            .parse::<u64>()
                            .map_err(|_| self.unsupported("this frame offset", e)),
                        _ => Err(self.unsupported(
                            "frame offsets other than integer constants in ROWS frames",
                            e,
                        )),
                    };
                    Ok(match b {
                        sp::WindowFrameBound::CurrentRow => FrameBound::CurrentRow,
                        sp::WindowFrameBound::Preceding(None) => FrameBound::UnboundedPreceding,
                        sp::WindowFrameBound::Following(None) => FrameBound::UnboundedFollowing,
                        sp::WindowFrameBound::Preceding(Some(e)) => {
                            FrameBound::Preceding(offset(e)?)
                        }
                        sp::WindowFrameBound::Following(Some(e)) => {
                            FrameBound::Following(offset(e)?)
                        }
                    })
                };
                Ok(Frame {
                    rows,
                    start: bound(&frame.start_bound)?,
                    end: frame
                        .end_bound
                        .as_ref()
                        .map(bound)
                        .transpose()?
                        .unwrap_or(FrameBound::CurrentRow),
                })
            })
            .transpose()?;
        Ok(ExprKind::Window(Box::new(WindowCall {
            name,
            args,
            star,
            partition_by: spec
                .partition_by
                .iter()
                .map(|e| self.expr(e))
                .collect::<Result<_>>()?,
            order_by: spec
                .order_by
                .iter()
                .map(|o| self.order_item(o))
                .collect::<Result<_>>()?,
            frame,
        })))
    }

    fn function(&self, function: &sp::Function) -> Result<ExprKind> {
        if let Some(over) = &function.over {
            let call = self.function(&sp::Function {
                over: None,
                ..function.clone()
            })?;
            return self.window(call, over, function);
        }
        let name = self.object_name(&function.name)?.name;
        if function.filter.is_some()
            || !function.within_group.is_empty()
            || function.null_treatment.is_some()
        {
            return Err(self.unsupported("FILTER, WITHIN GROUP or IGNORE NULLS", function));
        }
        let list = match &function.args {
            sp::FunctionArguments::List(list) => list,
            sp::FunctionArguments::None => {
                return Ok(ExprKind::Function {
                    name,
                    args: Vec::new(),
                    distinct: false,
                    star: false,
                });
            }
            sp::FunctionArguments::Subquery(query) if name == "array" => {
                return Ok(ExprKind::ArraySubquery(Box::new(self.query(query)?)));
            }
            sp::FunctionArguments::Subquery(_) => {
                return Err(self.unsupported("a subquery as a function argument", function));
            }
        };
        let order_by = match list.clauses.as_slice() {
            [] => Vec::new(),
            [sp::FunctionArgumentClause::OrderBy(items)] => items
                .iter()
                .map(|o| self.order_item(o))
                .collect::<Result<_>>()?,
            _ => {
                return Err(
                    self.unsupported("LIMIT or other clauses inside a function call", function)
                );
            }
        };
        let distinct = matches!(
            list.duplicate_treatment,
            Some(sp::DuplicateTreatment::Distinct)
        );
        let mut args = Vec::with_capacity(list.args.len());
        let mut star = false;
        for arg in &list.args {
            match arg {
                sp::FunctionArg::Unnamed(sp::FunctionArgExpr::Expr(e)) => args.push(self.expr(e)?),
                sp::FunctionArg::Unnamed(sp::FunctionArgExpr::Wildcard) => star = true,
                other => return Err(self.unsupported("named or qualified arguments", other)),
            }
        }
        let call = ExprKind::Function {
            name,
            args,
            distinct,
            star,
        };
        if order_by.is_empty() {
            return Ok(call);
        }
        Ok(ExprKind::OrderedAggregate {
            call: Box::new(Expr {
                kind: call,
                position: self.position(function),
            }),
            order_by,
        })
    }

    fn optional(&self, expr: Option<&sp::Expr>) -> Result<Option<Expr>> {
        expr.map(|e| self.expr(e)).transpose()
    }

    fn literal(&self, value: &sp::Value, at: &impl Spanned) -> Result<Literal> {
        Ok(match value {
            sp::Value::Null => Literal::Null,
            sp::Value::Boolean(b) => Literal::Boolean(*b),
            sp::Value::Number(text, _) => match text.parse::<i64>() {
                Ok(i) => Literal::Integer(i),
                Err(_) => Literal::Number(text.clone()),
            },
            sp::Value::SingleQuotedString(s) | sp::Value::EscapedStringLiteral(s) => {
                Literal::String(s.clone())
            }
            other => return Err(self.unsupported(&format!("the literal {other}"), at)),
        })
    }
}

/// The access mode and isolation level named by `BEGIN`/`SET TRANSACTION` modes.
fn transaction_modes(modes: &[sp::TransactionMode]) -> (Option<bool>, Option<String>) {
    let mut read_only = None;
    let mut isolation = None;
    for mode in modes {
        match mode {
            sp::TransactionMode::AccessMode(sp::TransactionAccessMode::ReadOnly) => {
                read_only = Some(true);
            }
            sp::TransactionMode::AccessMode(sp::TransactionAccessMode::ReadWrite) => {
                read_only = Some(false);
            }
            sp::TransactionMode::IsolationLevel(level) => {
                isolation = Some(level.to_string().to_ascii_lowercase());
            }
        }
    }
    (read_only, isolation)
}

/// What a WITH query's name stands for.
#[derive(Debug, Clone)]
enum Cte {
    Plain(Box<Select>, Vec<Ident>),
    Recursive(Box<RecursiveQuery>),
}

/// Splits a recursive WITH query into its base and recursive step (`base UNION [ALL] step`,
/// the step naming the query, which becomes its work table); anything else comes back as is.
fn recursive_parts(
    select: Select,
    name: &str,
    recursive: bool,
) -> std::result::Result<(Select, Select, bool), Box<Select>> {
    let names_itself = |s: &Select| {
        let mut found = false;
        visit_from(s, &mut |item| {
            found |= matches!(item, FromItem::Table { name: n, .. } if n.name == name);
        });
        found
    };
    if !recursive
        || select.compound.len() != 1
        || select.compound[0].op != SetOp::Union
        || !select.order_by.is_empty()
        || select.limit.is_some()
        || !names_itself(&select.compound[0].select)
    {
        return Err(Box::new(select));
    }
    let mut base = select;
    let compound = base.compound.remove(0);
    let mut step = compound.select;
    replace_from(&mut step, &mut |item| match item {
        FromItem::Table { name: n, alias } if n.name == name => {
            *item = FromItem::WorkTable {
                name: n.clone(),
                alias: alias.clone(),
            };
            true
        }
        _ => false,
    });
    Ok((base, step, compound.all))
}

/// Calls `f` on every FROM item of the query and its set operations.
fn visit_from(select: &Select, f: &mut impl FnMut(&FromItem)) {
    fn item(from: &FromItem, f: &mut impl FnMut(&FromItem)) {
        f(from);
        match from {
            FromItem::Subquery { query, .. } => visit_from(query, f),
            FromItem::Join { left, right, .. } => {
                item(left, f);
                item(right, f);
            }
            _ => {}
        }
    }
    if let Some(from) = &select.from {
        item(from, f);
    }
    for compound in &select.compound {
        visit_from(&compound.select, f);
    }
}

/// Calls `f` on every FROM item of the query and its set operations, to rewrite them; an item
/// `f` replaces (it returns true) is not entered.
fn replace_from(select: &mut Select, f: &mut impl FnMut(&mut FromItem) -> bool) {
    fn item(from: &mut FromItem, f: &mut impl FnMut(&mut FromItem) -> bool) {
        if f(from) {
            return;
        }
        match from {
            FromItem::Subquery { query, .. } => replace_from(query, f),
            FromItem::Join { left, right, .. } => {
                item(left, f);
                item(right, f);
            }
            _ => {}
        }
    }
    if let Some(from) = &mut select.from {
        item(from, f);
    }
    for compound in &mut select.compound {
        replace_from(&mut compound.select, f);
    }
}

/// Replaces FROM references to WITH queries by the queries themselves.
fn inline_ctes(select: &mut Select, ctes: &[(String, Cte)]) {
    replace_from(select, &mut |from| {
        let FromItem::Table { name, alias } = from else {
            return false;
        };
        let Some((_, cte)) = ctes.iter().rev().find(|(n, _)| *n == name.name) else {
            return false;
        };
        let alias = alias.clone().unwrap_or_else(|| name.clone());
        *from = match cte {
            Cte::Plain(query, columns) => FromItem::Subquery {
                query: query.clone(),
                alias,
                columns: columns.clone(),
            },
            Cte::Recursive(query) => FromItem::Recursive {
                query: query.clone(),
                alias,
            },
        };
        true
    });
}

/// The first few words of a statement or expression, to name it in an error.
/// The object-identifier type a cast names, if it is one (`regclass`, `pg_catalog.regtype`).
fn reg_type(data_type: &sp::DataType) -> Option<RegType> {
    let (name, modifiers) = match data_type {
        sp::DataType::Regclass => return Some(RegType::Class),
        sp::DataType::Custom(name, modifiers) => (name, modifiers),
        _ => return None,
    };
    if !modifiers.is_empty() {
        return None;
    }
    let name = name.to_string().to_ascii_lowercase();
    Some(match name.strip_prefix("pg_catalog.").unwrap_or(&name) {
        "regclass" => RegType::Class,
        "regtype" => RegType::Type,
        "regnamespace" => RegType::Namespace,
        "regrole" => RegType::Role,
        _ => return None,
    })
}

fn first_words(text: &str) -> String {
    let words: Vec<&str> = text.split_whitespace().take(3).collect();
    words.join(" ")
}

/// A query's text for the analytics engine. AVG, where it is a whole result column of the
/// outermost query, is spelled `pg_avg`: DataFusion's stand-in for PostgreSQL's AVG, whose
/// NUMERIC result it can only return, not compute with. Anywhere else `avg` stays, which
/// DataFusion is not given, so such a query runs natively.
fn analytics_text(query: &sp::Query) -> String {
    fn is_average(f: &sp::Function) -> bool {
        f.over.is_none() && f.name.0.len() == 1 && f.name.to_string().eq_ignore_ascii_case("avg")
    }
    fn call(item: &mut sp::SelectItem) -> Option<&mut sp::Function> {
        match item {
            sp::SelectItem::UnnamedExpr(sp::Expr::Function(f))
            | sp::SelectItem::ExprWithAlias {
                expr: sp::Expr::Function(f),
                ..
            } if is_average(f) => Some(f),
            _ => None,
        }
    }
    let averages = match query.body.as_ref() {
        sp::SetExpr::Select(select) => select.projection.iter().any(|item| {
            matches!(
                item,
                sp::SelectItem::UnnamedExpr(sp::Expr::Function(f))
                    | sp::SelectItem::ExprWithAlias { expr: sp::Expr::Function(f), .. }
                    if is_average(f)
            )
        }),
        _ => false,
    };
    // Nearly every query has none: only those pay for a copy.
    if !averages {
        return query.to_string();
    }
    let mut query = query.clone();
    if let sp::SetExpr::Select(select) = query.body.as_mut() {
        for f in select.projection.iter_mut().filter_map(call) {
            f.name = sp::ObjectName::from(vec![sp::Ident::new("pg_avg")]);
        }
    }
    query.to_string()
}

#[cfg(test)]
mod split_tests {
    use super::split_statements;

    fn split(sql: &str) -> Vec<(&str, usize)> {
        split_statements(sql)
            .into_iter()
            .map(|s| (s.text, s.chars_before))
            .collect()
    }

    #[test]
    fn statements_split_at_top_level_semicolons_only() {
        assert_eq!(
            split("SELECT 1;  select ';' , $$a;b$$ ; -- c;\n/* d; */ SELECT \"x;y\""),
            vec![
                ("SELECT 1;", 0),
                ("select ';' , $$a;b$$ ;", 11),
                ("SELECT \"x;y\"", 49)
            ]
        );
        assert_eq!(split(" \n -- only a comment\n"), vec![]);
        assert_eq!(split(";;"), vec![]);
        assert_eq!(
            split("SELECT 'é';\nSELECT 2"),
            vec![("SELECT 'é';", 0), ("SELECT 2", 12)]
        );
    }

    #[test]
    fn a_script_that_does_not_tokenize_is_one_statement() {
        assert_eq!(
            split("  SELECT 'open; SELECT 2"),
            vec![("SELECT 'open; SELECT 2", 2)]
        );
        assert_eq!(split("   "), vec![]);
    }
}
