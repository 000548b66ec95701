//! The system catalogs clients query to find their way: a subset of `pg_catalog` (pg_class,
//! pg_namespace, pg_attribute, pg_type, pg_index, pg_constraint, pg_attrdef, pg_database,
//! pg_roles, pg_am, …) and `information_schema` (tables, columns, schemata, views,
//! table_constraints, key_column_usage), computed from OmenDB's catalog when a query names
//! them, plus the lookups behind `pg_get_indexdef`, `pg_get_userbyid`, `::regclass` and the
//! like. Enough for psql's `\d` family and drivers' schema reflection.
//!
//! Object ids follow PostgreSQL where it has fixed ones (types, `pg_catalog` = 11, `public` =
//! 2200); tables and secondary indexes are 16384 + their object id, as user objects start
//! there in PostgreSQL. Other objects (primary keys, constraints, views, roles) get ids in
//! ranges of their own, stable for as long as the object exists.
//!
//! OmenDB has one database, one user schema (`public`) and no object ownership: every
//! relation is shown as owned by the first superuser (by name). Catalogs OmenDB has nothing
//! for (policies, publications, inheritance, statistics objects, comments) exist and are
//! empty, so the queries that read them run.

use std::collections::HashMap;
use std::sync::Arc;

use crate::auth::Role;
use crate::catalog::{Generated, TableSchema, ViewDef};
use crate::types::{DataType, SCALAR_TYPES, SmolStr, Value, format_array};
use crate::{Error, Result};

pub const PG_CATALOG_OID: i64 = 11;
pub const PUBLIC_OID: i64 = 2200;
pub const INFORMATION_SCHEMA_OID: i64 = 13183;
/// The owner shown when there are no superusers (PostgreSQL's bootstrap superuser's id).
const BOOTSTRAP_ROLE_OID: i64 = 10;
const DATABASE_OID: i64 = 5;
const DATABASE_NAME: &str = "omendb";
const HEAP_AM_OID: i64 = 2;
const BTREE_AM_OID: i64 = 403;
/// The learned index that is every table's primary index.
const ALEX_AM_OID: i64 = 9000;
const DEFAULT_COLLATION_OID: i64 = 100;

const FIRST_USER_OID: i64 = 16384;
const PRIMARY_KEY_OIDS: i64 = 0x1000_0000;
const KEY_CONSTRAINT_OIDS: i64 = 0x2000_0000;
const CHECK_CONSTRAINT_OIDS: i64 = 0x3000_0000;
const VIEW_OIDS: i64 = 0x4000_0000;
const ROLE_OIDS: i64 = 0x5000_0000;
const DEFAULT_OIDS: i64 = 0x6000_0000;
const SYSTEM_RELATION_OIDS: i64 = 0x7000_0000;

/// An id for a named object without one of its own: a hash of the name in `range`.
fn named_oid(range: i64, name: &str) -> i64 {
    // FNV-1a, 28 bits: stable across runs and platforms.
    let mut hash: u32 = 0x811c_9dc5;
    for byte in name.bytes() {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    range + i64::from(hash & 0x0fff_ffff)
}

fn table_oid(table: &TableSchema) -> i64 {
    FIRST_USER_OID + i64::from(table.id)
}

fn primary_key_oid(table: &TableSchema) -> i64 {
    PRIMARY_KEY_OIDS + i64::from(table.id)
}

pub fn role_oid(name: &str) -> i64 {
    named_oid(ROLE_OIDS, name)
}

/// A PostgreSQL type's name as `format_type` shows it, with its modifier (`numeric(10,2)`).
pub fn format_type(ty: DataType) -> String {
    match ty {
        DataType::Varchar(Some(n)) => format!("character varying({n})"),
        DataType::Char(n) => format!("character({n})"),
        DataType::Numeric(Some((p, s))) => format!("numeric({p},{s})"),
        other => other.name().to_string(),
    }
}

/// The type with PostgreSQL's type id `oid` and modifier `typmod` (-1: none).
pub fn type_by_oid(oid: i64, typmod: i64) -> Option<DataType> {
    let base = SCALAR_TYPES
        .iter()
        .copied()
        .chain(SCALAR_TYPES.iter().filter_map(|t| DataType::array_of(*t)))
        .find(|t| i64::from(t.oid()) == oid)?;
    let modifier = typmod - 4;
    Some(match base {
        DataType::Varchar(_) if modifier >= 0 => DataType::Varchar(Some(modifier as u32)),
        DataType::Char(_) if modifier >= 0 => DataType::Char(modifier as u32),
        DataType::Char(_) => DataType::Char(1),
        DataType::Numeric(_) if modifier >= 0 => {
            DataType::Numeric(Some(((modifier >> 16) as u16, (modifier & 0xffff) as u16)))
        }
        other => other,
    })
}

/// The type a name denotes, as `to_regtype` and `::regtype` read it.
pub fn type_by_name(name: &str) -> Option<DataType> {
    let name = name.trim().to_ascii_lowercase();
    let name = name.strip_prefix("pg_catalog.").unwrap_or(&name);
    let (name, array) = match name.strip_suffix("[]") {
        Some(element) => (element.trim(), true),
        None => (name, false),
    };
    let base = match name {
        "int" | "integer" | "int4" => DataType::Integer,
        "smallint" | "int2" => DataType::SmallInt,
        "bigint" | "int8" => DataType::BigInt,
        "real" | "float4" => DataType::Real,
        "double precision" | "float8" | "float" => DataType::Double,
        "bool" | "boolean" => DataType::Boolean,
        "varchar" | "character varying" => DataType::Varchar(None),
        "char" | "character" | "bpchar" => DataType::Char(1),
        "decimal" | "numeric" => DataType::Numeric(None),
        "timestamp" | "timestamp without time zone" => DataType::Timestamp,
        "timestamptz" | "timestamp with time zone" => DataType::TimestampTz,
        "time" | "time without time zone" => DataType::Time,
        other => *SCALAR_TYPES
            .iter()
            .find(|t| t.internal_name() == other || t.name() == other)?,
    };
    if array {
        DataType::array_of(base)
    } else {
        Some(base)
    }
}

/// Where a lookup misses.
#[derive(Debug, Clone, PartialEq)]
pub enum Missing {
    /// NULL (`to_regclass`, `pg_get_indexdef` of an unknown id).
    Null,
    /// The key's own text (an unknown object id shown by `::regclass`).
    Key,
    /// `unknown (OID=n)`, as `pg_get_userbyid` says.
    UnknownOid,
    /// An error naming the key (`'nope'::regclass`: relation "nope" does not exist).
    Undefined(&'static str),
}

/// A catalog lookup a function or cast was bound to: keys in their text form.
#[derive(Debug, Clone, PartialEq)]
pub struct Lookup {
    pub entries: HashMap<String, Value>,
    pub missing: Missing,
}

impl Lookup {
    fn new(entries: impl IntoIterator<Item = (String, Value)>, missing: Missing) -> Self {
        Self {
            entries: entries.into_iter().collect(),
            missing,
        }
    }

    pub fn get(&self, key: &Value) -> Result<Value> {
        if key.is_null() {
            return Ok(Value::Null);
        }
        let mut text = key.to_string();
        if matches!(key, Value::Text(_)) {
            text = object_name(&text);
        }
        if let Some(found) = self.entries.get(&text) {
            return Ok(found.clone());
        }
        match &self.missing {
            Missing::Null => Ok(Value::Null),
            Missing::Key => Ok(Value::Text(text.into())),
            Missing::UnknownOid => Ok(Value::Text(format!("unknown (OID={text})").into())),
            Missing::Undefined("relation") => Err(Error::UndefinedTable(text)),
            Missing::Undefined(kind) => Err(Error::UndefinedObject(format!("{kind} \"{text}\""))),
        }
    }
}

/// A name as `regclass` input reads it: without a `public.`/`pg_catalog.` schema, folded to
/// lower case unless double-quoted.
fn object_name(text: &str) -> String {
    let text = text.trim();
    let text = ["public.", "pg_catalog.", "\"public\".", "\"pg_catalog\"."]
        .iter()
        .find_map(|schema| text.strip_prefix(schema))
        .unwrap_or(text);
    match text.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
        Some(quoted) => quoted.replace("\"\"", "\""),
        None => text.to_lowercase(),
    }
}

/// The lookups functions and casts can be bound to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LookupKind {
    /// `pg_get_userbyid(oid)`.
    RoleName,
    /// `'name'::regrole`.
    RoleOid,
    /// `oid::regclass`.
    RelationName,
    /// `'name'::regclass` (`strict`: an unknown name is an error, else NULL as `to_regclass`).
    RelationOid { strict: bool },
    /// `oid::regnamespace`.
    NamespaceName,
    /// `'name'::regnamespace`.
    NamespaceOid,
    /// `pg_get_indexdef(oid)`.
    IndexDef,
    /// `pg_get_constraintdef(oid)`.
    ConstraintDef,
    /// `pg_get_viewdef(oid)`.
    ViewDef,
    /// `'name'::regtype`: the type's id (42704 for an unknown name).
    TypeOid,
}

/// One relation of the system catalogs: its columns and rows.
#[derive(Debug)]
pub struct SystemRelation {
    pub columns: Vec<(&'static str, DataType)>,
    pub rows: Vec<Vec<Value>>,
}

/// What the system catalogs show: a copy of the database's catalog at one moment.
#[derive(Debug, Clone)]
pub struct SystemCatalog {
    /// Tables by name, with each view's column types found by planning it.
    tables: Vec<Arc<TableSchema>>,
    views: Vec<(Arc<ViewDef>, Vec<DataType>)>,
    roles: Vec<Role>,
}

fn text(s: impl Into<SmolStr>) -> Value {
    Value::Text(s.into())
}

fn int(i: i64) -> Value {
    Value::Int(i)
}

fn boolean(b: bool) -> Value {
    Value::Boolean(b)
}

fn null() -> Value {
    Value::Null
}

fn int2_array(items: impl IntoIterator<Item = i64>) -> Value {
    Value::Array(items.into_iter().map(Value::Int).collect())
}

const OID: DataType = DataType::Integer;
const NAME: DataType = DataType::Text;
const BOOL: DataType = DataType::Boolean;
const INT2: DataType = DataType::SmallInt;
const INT4: DataType = DataType::Integer;

const TEXT_ARRAY: DataType = DataType::Array(&DataType::Text);
const INT2_ARRAY: DataType = DataType::Array(&DataType::SmallInt);
const OID_ARRAY: DataType = DataType::Array(&DataType::Integer);

/// The system relations with rows computed from the catalog (see also [`empty_relation`]).
const COMPUTED: [&str; 22] = [
    "pg_namespace",
    "pg_class",
    "pg_am",
    "pg_attribute",
    "pg_type",
    "pg_index",
    "pg_constraint",
    "pg_attrdef",
    "pg_database",
    "pg_roles",
    "pg_user",
    "pg_collation",
    "pg_tablespace",
    "pg_views",
    "pg_tables",
    "pg_indexes",
    "information_schema.tables",
    "information_schema.columns",
    "information_schema.schemata",
    "information_schema.views",
    "information_schema.table_constraints",
    "information_schema.key_column_usage",
];

/// The catalogs that are always empty here.
const EMPTY: [&str; 15] = [
    "pg_description",
    "pg_auth_members",
    "pg_policy",
    "pg_statistic_ext",
    "pg_publication",
    "pg_publication_namespace",
    "pg_publication_rel",
    "pg_inherits",
    "pg_trigger",
    "pg_rewrite",
    "pg_sequence",
    "pg_enum",
    "pg_extension",
    "pg_foreign_table",
    "pg_partitioned_table",
];

/// Whether `name` (without its schema; `information_schema.` kept) is a system relation.
pub fn is_system_relation(name: &str) -> bool {
    COMPUTED.contains(&name) || EMPTY.contains(&name)
}

/// Every system relation: its name without schema, its schema's id and its kind.
fn system_relations() -> impl Iterator<Item = (&'static str, i64, &'static str)> {
    COMPUTED.iter().chain(&EMPTY).map(|name| {
        let kind = match *name {
            "pg_roles" | "pg_user" | "pg_views" | "pg_tables" | "pg_indexes" => "v",
            n if n.starts_with("information_schema.") => "v",
            _ => "r",
        };
        match name.strip_prefix("information_schema.") {
            Some(bare) => (bare, INFORMATION_SCHEMA_OID, kind),
            None => (*name, PG_CATALOG_OID, kind),
        }
    })
}

/// The catalogs OmenDB has nothing to put in, with the columns clients read.
fn empty_relation(name: &str) -> Option<Vec<(&'static str, DataType)>> {
    Some(match name {
        "pg_description" => vec![
            ("objoid", OID),
            ("classoid", OID),
            ("objsubid", INT4),
            ("description", DataType::Text),
        ],
        "pg_auth_members" => vec![
            ("oid", OID),
            ("roleid", OID),
            ("member", OID),
            ("grantor", OID),
            ("admin_option", BOOL),
        ],
        "pg_policy" => vec![
            ("oid", OID),
            ("polname", NAME),
            ("polrelid", OID),
            ("polcmd", DataType::Text),
            ("polpermissive", BOOL),
            ("polroles", OID_ARRAY),
            ("polqual", DataType::Text),
            ("polwithcheck", DataType::Text),
        ],
        "pg_statistic_ext" => vec![
            ("oid", OID),
            ("stxrelid", OID),
            ("stxname", NAME),
            ("stxnamespace", OID),
            ("stxowner", OID),
            ("stxstattarget", INT4),
            ("stxkeys", INT2_ARRAY),
            ("stxkind", TEXT_ARRAY),
        ],
        "pg_publication" => vec![
            ("oid", OID),
            ("pubname", NAME),
            ("pubowner", OID),
            ("puballtables", BOOL),
            ("pubinsert", BOOL),
            ("pubupdate", BOOL),
            ("pubdelete", BOOL),
            ("pubtruncate", BOOL),
            ("pubviaroot", BOOL),
        ],
        "pg_publication_namespace" => {
            vec![("oid", OID), ("pnpubid", OID), ("pnnspid", OID)]
        }
        "pg_publication_rel" => vec![
            ("oid", OID),
            ("prpubid", OID),
            ("prrelid", OID),
            ("prqual", DataType::Text),
            ("prattrs", INT2_ARRAY),
        ],
        "pg_inherits" => vec![
            ("inhrelid", OID),
            ("inhparent", OID),
            ("inhseqno", INT4),
            ("inhdetachpending", BOOL),
        ],
        "pg_trigger" => vec![
            ("oid", OID),
            ("tgrelid", OID),
            ("tgname", NAME),
            ("tgenabled", DataType::Text),
            ("tgisinternal", BOOL),
        ],
        "pg_rewrite" => vec![("oid", OID), ("rulename", NAME), ("ev_class", OID)],
        "pg_sequence" => vec![
            ("seqrelid", OID),
            ("seqtypid", OID),
            ("seqstart", DataType::BigInt),
            ("seqincrement", DataType::BigInt),
            ("seqmax", DataType::BigInt),
            ("seqmin", DataType::BigInt),
            ("seqcache", DataType::BigInt),
            ("seqcycle", BOOL),
        ],
        "pg_enum" => vec![
            ("oid", OID),
            ("enumtypid", OID),
            ("enumsortorder", DataType::Real),
            ("enumlabel", NAME),
        ],
        "pg_extension" => vec![
            ("oid", OID),
            ("extname", NAME),
            ("extowner", OID),
            ("extnamespace", OID),
            ("extversion", DataType::Text),
        ],
        "pg_foreign_table" => vec![("ftrelid", OID), ("ftserver", OID)],
        "pg_partitioned_table" => vec![("partrelid", OID), ("partstrat", DataType::Text)],
        _ => return None,
    })
}

impl SystemCatalog {
    pub fn new(
        tables: Vec<Arc<TableSchema>>,
        views: Vec<(Arc<ViewDef>, Vec<DataType>)>,
        mut roles: Vec<Role>,
    ) -> Self {
        roles.sort_by(|a, b| a.name.cmp(&b.name));
        let mut tables = tables;
        tables.sort_by(|a, b| a.name.cmp(&b.name));
        Self {
            tables,
            views,
            roles,
        }
    }

    /// Every relation is shown as owned by the first superuser.
    fn owner(&self) -> i64 {
        self.roles
            .iter()
            .find(|r| r.superuser)
            .map_or(BOOTSTRAP_ROLE_OID, |r| role_oid(&r.name))
    }

    /// The lookup table of `kind`.
    pub fn lookup(&self, kind: LookupKind) -> Lookup {
        use LookupKind::*;
        match kind {
            RoleName => {
                let mut names: Vec<(String, Value)> = self
                    .roles
                    .iter()
                    .map(|r| (role_oid(&r.name).to_string(), text(&r.name)))
                    .collect();
                if self.owner() == BOOTSTRAP_ROLE_OID {
                    // No superuser role (a server without authentication): the owner shown
                    // is the user such sessions run as.
                    names.push((
                        BOOTSTRAP_ROLE_OID.to_string(),
                        text(crate::sql::functions::DEFAULT_USER),
                    ));
                }
                Lookup::new(names, Missing::UnknownOid)
            }
            RoleOid => Lookup::new(
                self.roles
                    .iter()
                    .map(|r| (r.name.clone(), int(role_oid(&r.name)))),
                Missing::Undefined("role"),
            ),
            RelationName => Lookup::new(
                self.relations()
                    .into_iter()
                    .map(|r| (r.oid.to_string(), text(r.name))),
                Missing::Key,
            ),
            RelationOid { strict } => Lookup::new(
                self.relations().into_iter().map(|r| (r.name, int(r.oid))),
                if strict {
                    Missing::Undefined("relation")
                } else {
                    Missing::Null
                },
            ),
            NamespaceName => Lookup::new(
                namespaces().map(|(oid, name)| (oid.to_string(), text(name))),
                Missing::Key,
            ),
            NamespaceOid => Lookup::new(
                namespaces().map(|(oid, name)| (name.to_string(), int(oid))),
                Missing::Undefined("schema"),
            ),
            IndexDef => Lookup::new(
                self.indexes()
                    .into_iter()
                    .map(|i| (i.oid.to_string(), text(i.definition()))),
                Missing::Null,
            ),
            ConstraintDef => Lookup::new(
                self.constraints()
                    .into_iter()
                    .map(|c| (c.oid.to_string(), text(c.definition))),
                Missing::Null,
            ),
            TypeOid => {
                const ALIASES: [&str; 14] = [
                    "int",
                    "integer",
                    "smallint",
                    "bigint",
                    "real",
                    "float",
                    "double precision",
                    "boolean",
                    "character varying",
                    "character",
                    "char",
                    "decimal",
                    "timestamp",
                    "timestamptz",
                ];
                let names = SCALAR_TYPES
                    .iter()
                    .flat_map(|t| [t.name(), t.internal_name()])
                    .chain(ALIASES);
                let entries = names.flat_map(|name| {
                    [name.to_string(), format!("{name}[]")]
                        .into_iter()
                        .filter_map(|n| type_by_name(&n).map(|t| (n, int(i64::from(t.oid())))))
                });
                Lookup::new(entries, Missing::Undefined("type"))
            }
            ViewDef => Lookup::new(
                self.views.iter().map(|(v, _)| {
                    (
                        named_oid(VIEW_OIDS, &v.name).to_string(),
                        text(format!(" {};", v.query)),
                    )
                }),
                Missing::Null,
            ),
        }
    }

    /// The relation `name` (see [`is_system_relation`]), with its rows.
    pub fn relation(&self, name: &str) -> Option<SystemRelation> {
        if let Some(columns) = empty_relation(name) {
            return Some(SystemRelation {
                columns,
                rows: Vec::new(),
            });
        }
        let (columns, rows) = match name {
            "pg_namespace" => (
                vec![
                    ("oid", OID),
                    ("nspname", NAME),
                    ("nspowner", OID),
                    ("nspacl", TEXT_ARRAY),
                ],
                namespaces()
                    .map(|(oid, name)| vec![int(oid), text(name), int(self.owner()), null()])
                    .collect(),
            ),
            "pg_am" => (
                vec![("oid", OID), ("amname", NAME), ("amtype", DataType::Text)],
                [
                    (HEAP_AM_OID, "heap", "t"),
                    (BTREE_AM_OID, "btree", "i"),
                    (ALEX_AM_OID, "alex", "i"),
                ]
                .into_iter()
                .map(|(oid, name, kind)| vec![int(oid), text(name), text(kind)])
                .collect(),
            ),
            "pg_class" => self.pg_class(),
            "pg_attribute" => self.pg_attribute(),
            "pg_type" => pg_type(),
            "pg_index" => self.pg_index(),
            "pg_constraint" => self.pg_constraint(),
            "pg_attrdef" => self.pg_attrdef(),
            "pg_database" => (
                vec![
                    ("oid", OID),
                    ("datname", NAME),
                    ("datdba", OID),
                    ("encoding", INT4),
                    ("datlocprovider", DataType::Text),
                    ("datistemplate", BOOL),
                    ("datallowconn", BOOL),
                    ("datconnlimit", INT4),
                    ("datcollate", DataType::Text),
                    ("datctype", DataType::Text),
                    ("daticulocale", DataType::Text),
                    ("dattablespace", OID),
                    ("datacl", TEXT_ARRAY),
                ],
                vec![vec![
                    int(DATABASE_OID),
                    text(DATABASE_NAME),
                    int(self.owner()),
                    int(6),
                    text("c"),
                    boolean(false),
                    boolean(true),
                    int(-1),
                    text("C"),
                    text("C"),
                    null(),
                    int(1663),
                    null(),
                ]],
            ),
            "pg_roles" => self.pg_roles(),
            "pg_user" => (
                vec![
                    ("usename", NAME),
                    ("usesysid", OID),
                    ("usecreatedb", BOOL),
                    ("usesuper", BOOL),
                    ("userepl", BOOL),
                    ("usebypassrls", BOOL),
                    ("passwd", DataType::Text),
                    ("valuntil", DataType::TimestampTz),
                    ("useconfig", TEXT_ARRAY),
                ],
                self.roles
                    .iter()
                    .filter(|r| r.login)
                    .map(|r| {
                        vec![
                            text(&r.name),
                            int(role_oid(&r.name)),
                            boolean(r.superuser),
                            boolean(r.superuser),
                            boolean(r.superuser),
                            boolean(r.superuser),
                            text("********"),
                            null(),
                            null(),
                        ]
                    })
                    .collect(),
            ),
            "pg_collation" => (
                vec![
                    ("oid", OID),
                    ("collname", NAME),
                    ("collnamespace", OID),
                    ("collprovider", DataType::Text),
                ],
                vec![
                    vec![
                        int(DEFAULT_COLLATION_OID),
                        text("default"),
                        int(PG_CATALOG_OID),
                        text("d"),
                    ],
                    vec![int(950), text("C"), int(PG_CATALOG_OID), text("c")],
                ],
            ),
            "pg_tablespace" => (
                vec![("oid", OID), ("spcname", NAME), ("spcowner", OID)],
                vec![
                    vec![int(1663), text("pg_default"), int(self.owner())],
                    vec![int(1664), text("pg_global"), int(self.owner())],
                ],
            ),
            "pg_tables" => (
                vec![
                    ("schemaname", NAME),
                    ("tablename", NAME),
                    ("tableowner", NAME),
                    ("tablespace", NAME),
                    ("hasindexes", BOOL),
                    ("hasrules", BOOL),
                    ("hastriggers", BOOL),
                    ("rowsecurity", BOOL),
                ],
                self.tables
                    .iter()
                    .map(|t| {
                        vec![
                            text("public"),
                            text(&t.name),
                            self.lookup(LookupKind::RoleName)
                                .get(&int(self.owner()))
                                .unwrap_or(Value::Null),
                            null(),
                            boolean(has_index(t)),
                            boolean(false),
                            boolean(false),
                            boolean(false),
                        ]
                    })
                    .collect(),
            ),
            "pg_views" => (
                vec![
                    ("schemaname", NAME),
                    ("viewname", NAME),
                    ("viewowner", NAME),
                    ("definition", DataType::Text),
                ],
                self.views
                    .iter()
                    .map(|(v, _)| {
                        vec![
                            text("public"),
                            text(&v.name),
                            self.lookup(LookupKind::RoleName)
                                .get(&int(self.owner()))
                                .unwrap_or(Value::Null),
                            text(format!(" {};", v.query)),
                        ]
                    })
                    .collect(),
            ),
            "pg_indexes" => (
                vec![
                    ("schemaname", NAME),
                    ("tablename", NAME),
                    ("indexname", NAME),
                    ("tablespace", NAME),
                    ("indexdef", DataType::Text),
                ],
                self.indexes()
                    .into_iter()
                    .map(|i| {
                        vec![
                            text("public"),
                            text(&i.table.name),
                            text(&i.name),
                            null(),
                            text(i.definition()),
                        ]
                    })
                    .collect(),
            ),
            "information_schema.schemata" => (
                vec![
                    ("catalog_name", NAME),
                    ("schema_name", NAME),
                    ("schema_owner", NAME),
                ],
                namespaces()
                    .map(|(_, name)| {
                        vec![
                            text(DATABASE_NAME),
                            text(name),
                            self.lookup(LookupKind::RoleName)
                                .get(&int(self.owner()))
                                .unwrap_or(Value::Null),
                        ]
                    })
                    .collect(),
            ),
            "information_schema.tables" => (
                vec![
                    ("table_catalog", NAME),
                    ("table_schema", NAME),
                    ("table_name", NAME),
                    ("table_type", DataType::Text),
                    ("is_insertable_into", DataType::Text),
                ],
                self.tables
                    .iter()
                    .map(|t| (t.name.as_str(), "BASE TABLE", "YES"))
                    .chain(
                        self.views
                            .iter()
                            .map(|(v, _)| (v.name.as_str(), "VIEW", "NO")),
                    )
                    .map(|(name, kind, insertable)| {
                        vec![
                            text(DATABASE_NAME),
                            text("public"),
                            text(name),
                            text(kind),
                            text(insertable),
                        ]
                    })
                    .collect(),
            ),
            "information_schema.views" => (
                vec![
                    ("table_catalog", NAME),
                    ("table_schema", NAME),
                    ("table_name", NAME),
                    ("view_definition", DataType::Text),
                ],
                self.views
                    .iter()
                    .map(|(v, _)| {
                        vec![
                            text(DATABASE_NAME),
                            text("public"),
                            text(&v.name),
                            text(&v.query),
                        ]
                    })
                    .collect(),
            ),
            "information_schema.columns" => self.information_schema_columns(),
            "information_schema.table_constraints" => (
                vec![
                    ("constraint_catalog", NAME),
                    ("constraint_schema", NAME),
                    ("constraint_name", NAME),
                    ("table_catalog", NAME),
                    ("table_schema", NAME),
                    ("table_name", NAME),
                    ("constraint_type", DataType::Text),
                    ("is_deferrable", DataType::Text),
                    ("initially_deferred", DataType::Text),
                ],
                self.constraints()
                    .into_iter()
                    .map(|c| {
                        vec![
                            text(DATABASE_NAME),
                            text("public"),
                            text(&c.name),
                            text(DATABASE_NAME),
                            text("public"),
                            text(&c.table.name),
                            text(match c.kind {
                                'p' => "PRIMARY KEY",
                                'u' => "UNIQUE",
                                _ => "CHECK",
                            }),
                            text("NO"),
                            text("NO"),
                        ]
                    })
                    .collect(),
            ),
            "information_schema.key_column_usage" => (
                vec![
                    ("constraint_catalog", NAME),
                    ("constraint_schema", NAME),
                    ("constraint_name", NAME),
                    ("table_catalog", NAME),
                    ("table_schema", NAME),
                    ("table_name", NAME),
                    ("column_name", NAME),
                    ("ordinal_position", INT4),
                ],
                self.constraints()
                    .into_iter()
                    .flat_map(|c| {
                        c.columns
                            .iter()
                            .enumerate()
                            .map(|(i, column)| {
                                vec![
                                    text(DATABASE_NAME),
                                    text("public"),
                                    text(&c.name),
                                    text(DATABASE_NAME),
                                    text("public"),
                                    text(&c.table.name),
                                    text(&c.table.columns[*column].name),
                                    int(i as i64 + 1),
                                ]
                            })
                            .collect::<Vec<_>>()
                    })
                    .collect(),
            ),
            _ => return None,
        };
        Some(SystemRelation { columns, rows })
    }

    /// Tables, views and indexes, with their ids.
    fn relations(&self) -> Vec<RelationEntry> {
        let mut out = Vec::new();
        for table in &self.tables {
            out.push(RelationEntry {
                oid: table_oid(table),
                name: table.name.clone(),
            });
        }
        for (view, _) in &self.views {
            out.push(RelationEntry {
                oid: named_oid(VIEW_OIDS, &view.name),
                name: view.name.clone(),
            });
        }
        for index in self.indexes() {
            out.push(RelationEntry {
                oid: index.oid,
                name: index.name,
            });
        }
        for (name, namespace, _) in system_relations() {
            out.push(RelationEntry {
                oid: named_oid(SYSTEM_RELATION_OIDS, name),
                name: if namespace == INFORMATION_SCHEMA_OID {
                    format!("information_schema.{name}")
                } else {
                    name.to_string()
                },
            });
        }
        out
    }

    /// Every index: each table's primary key (its learned index) and secondary indexes.
    fn indexes(&self) -> Vec<IndexEntry<'_>> {
        let mut out = Vec::new();
        for table in &self.tables {
            if !table.primary_key.is_empty() {
                out.push(IndexEntry {
                    oid: primary_key_oid(table),
                    name: format!("{}_pkey", table.name),
                    table,
                    columns: table.primary_key.clone(),
                    unique: true,
                    primary: true,
                });
            }
            for index in &table.indexes {
                out.push(IndexEntry {
                    oid: FIRST_USER_OID + i64::from(index.id),
                    name: index.name.clone(),
                    table,
                    columns: index.columns.clone(),
                    unique: index.unique,
                    primary: false,
                });
            }
        }
        out
    }

    /// Primary keys, unique constraints (unique indexes) and CHECK constraints.
    fn constraints(&self) -> Vec<ConstraintEntry<'_>> {
        let mut out = Vec::new();
        for index in self.indexes().into_iter().filter(|i| i.unique) {
            let columns = column_list(index.table, &index.columns);
            out.push(ConstraintEntry {
                oid: KEY_CONSTRAINT_OIDS + (index.oid & 0x0fff_ffff),
                name: index.name.clone(),
                table: index.table,
                kind: if index.primary { 'p' } else { 'u' },
                columns: index.columns.clone(),
                index: index.oid,
                definition: if index.primary {
                    format!("PRIMARY KEY ({columns})")
                } else {
                    format!("UNIQUE ({columns})")
                },
            });
        }
        for table in &self.tables {
            for (i, check) in table.checks.iter().enumerate() {
                out.push(ConstraintEntry {
                    oid: CHECK_CONSTRAINT_OIDS + (i64::from(table.id) << 8) + i as i64,
                    name: check.name.clone(),
                    table,
                    kind: 'c',
                    columns: Vec::new(),
                    index: 0,
                    definition: format!("CHECK ({})", check.expr),
                });
            }
        }
        out
    }

    fn pg_class(&self) -> (Vec<(&'static str, DataType)>, Vec<Vec<Value>>) {
        let columns = vec![
            ("oid", OID),
            ("relname", NAME),
            ("relnamespace", OID),
            ("reltype", OID),
            ("reloftype", OID),
            ("relowner", OID),
            ("relam", OID),
            ("relfilenode", OID),
            ("reltablespace", OID),
            ("relpages", INT4),
            ("reltuples", DataType::Real),
            ("reltoastrelid", OID),
            ("relhasindex", BOOL),
            ("relisshared", BOOL),
            ("relpersistence", DataType::Text),
            ("relkind", DataType::Text),
            ("relnatts", INT2),
            ("relchecks", INT2),
            ("relhasrules", BOOL),
            ("relhastriggers", BOOL),
            ("relhassubclass", BOOL),
            ("relrowsecurity", BOOL),
            ("relforcerowsecurity", BOOL),
            ("relispopulated", BOOL),
            ("relreplident", DataType::Text),
            ("relispartition", BOOL),
            ("relacl", TEXT_ARRAY),
            ("reloptions", TEXT_ARRAY),
            ("relpartbound", DataType::Text),
        ];
        let owner = self.owner();
        let row = |oid: i64, name: &str, am: i64, has_index: bool, kind: &str, natts, checks| {
            let (namespace, name) = match name.strip_prefix("information_schema.") {
                Some(bare) => (INFORMATION_SCHEMA_OID, bare),
                None if oid >= SYSTEM_RELATION_OIDS => (PG_CATALOG_OID, name),
                None => (PUBLIC_OID, name),
            };
            vec![
                int(oid),
                text(name),
                int(namespace),
                int(0),
                int(0),
                int(owner),
                int(am),
                int(oid),
                int(0),
                int(0),
                Value::Float(-1.0),
                int(0),
                boolean(has_index),
                boolean(false),
                text("p"),
                text(kind),
                int(natts),
                int(checks),
                boolean(false),
                boolean(false),
                boolean(false),
                boolean(false),
                boolean(false),
                boolean(true),
                text("d"),
                boolean(false),
                null(),
                null(),
                null(),
            ]
        };
        let mut rows = Vec::new();
        for table in &self.tables {
            rows.push(row(
                table_oid(table),
                &table.name,
                HEAP_AM_OID,
                has_index(table),
                "r",
                table.columns.len() as i64,
                table.checks.len() as i64,
            ));
        }
        for (view, _) in &self.views {
            rows.push(row(
                named_oid(VIEW_OIDS, &view.name),
                &view.name,
                0,
                false,
                "v",
                view.columns.len() as i64,
                0,
            ));
        }
        for index in self.indexes() {
            let am = if index.primary {
                ALEX_AM_OID
            } else {
                BTREE_AM_OID
            };
            rows.push(row(
                index.oid,
                &index.name,
                am,
                false,
                "i",
                index.columns.len() as i64,
                0,
            ));
        }
        for (name, namespace, kind) in system_relations() {
            let am = if kind == "r" { HEAP_AM_OID } else { 0 };
            let shown = if namespace == INFORMATION_SCHEMA_OID {
                format!("information_schema.{name}")
            } else {
                name.to_string()
            };
            let oid = named_oid(SYSTEM_RELATION_OIDS, name);
            rows.push(row(oid, &shown, am, false, kind, 0, 0));
        }
        (columns, rows)
    }

    fn pg_attribute(&self) -> (Vec<(&'static str, DataType)>, Vec<Vec<Value>>) {
        let columns = vec![
            ("attrelid", OID),
            ("attname", NAME),
            ("atttypid", OID),
            ("attlen", INT2),
            ("attnum", INT2),
            ("attndims", INT2),
            ("atttypmod", INT4),
            ("attnotnull", BOOL),
            ("atthasdef", BOOL),
            ("atthasmissing", BOOL),
            ("attidentity", DataType::Text),
            ("attgenerated", DataType::Text),
            ("attisdropped", BOOL),
            ("attislocal", BOOL),
            ("attcollation", OID),
            ("attstattarget", INT4),
            ("attstorage", DataType::Text),
            ("attcompression", DataType::Text),
        ];
        let row = |relation: i64, number: usize, name: &str, ty: DataType, not_null, default| {
            let collation = if ty.is_text() {
                DEFAULT_COLLATION_OID
            } else {
                0
            };
            vec![
                int(relation),
                text(name),
                int(i64::from(ty.oid())),
                int(-1),
                int(number as i64),
                int(i64::from(ty.element().is_some())),
                int(i64::from(ty.typmod())),
                boolean(not_null),
                boolean(default),
                boolean(false),
                text(""),
                text(""),
                boolean(false),
                boolean(true),
                int(collation),
                int(-1),
                // PostgreSQL's storage strategy: plain for fixed-width types, main for
                // NUMERIC, extended for the other variable-width ones.
                text(if matches!(ty, DataType::Numeric(_)) {
                    "m"
                } else if ty.is_numeric()
                    || matches!(
                        ty,
                        DataType::Boolean
                            | DataType::Date
                            | DataType::Time
                            | DataType::Timestamp
                            | DataType::TimestampTz
                            | DataType::Interval
                            | DataType::Uuid
                    )
                {
                    "p"
                } else {
                    "x"
                }),
                text(""),
            ]
        };
        let mut rows = Vec::new();
        for table in &self.tables {
            for (i, column) in table.columns.iter().enumerate() {
                let mut r = row(
                    table_oid(table),
                    i + 1,
                    &column.name,
                    column.data_type,
                    !column.nullable,
                    has_default(column),
                );
                if column.dropped {
                    // PostgreSQL's name for a dropped column, which clients skip.
                    r[1] = text(format!("........pg.dropped.{}........", i + 1));
                    r[12] = boolean(true);
                }
                if is_identity(column) {
                    // SERIAL and identity columns take a counter's next value by default.
                    r[10] = text("d");
                }
                rows.push(r);
            }
        }
        for (view, types) in &self.views {
            for (i, (name, ty)) in view.columns.iter().zip(types).enumerate() {
                rows.push(row(
                    named_oid(VIEW_OIDS, &view.name),
                    i + 1,
                    name,
                    *ty,
                    false,
                    false,
                ));
            }
        }
        for index in self.indexes() {
            for (i, column) in index.columns.iter().enumerate() {
                let column = &index.table.columns[*column];
                rows.push(row(
                    index.oid,
                    i + 1,
                    &column.name,
                    column.data_type,
                    false,
                    false,
                ));
            }
        }
        (columns, rows)
    }

    fn pg_index(&self) -> (Vec<(&'static str, DataType)>, Vec<Vec<Value>>) {
        let columns = vec![
            ("indexrelid", OID),
            ("indrelid", OID),
            ("indnatts", INT2),
            ("indnkeyatts", INT2),
            ("indisunique", BOOL),
            ("indnullsnotdistinct", BOOL),
            ("indisprimary", BOOL),
            ("indisexclusion", BOOL),
            ("indimmediate", BOOL),
            ("indisclustered", BOOL),
            ("indisvalid", BOOL),
            ("indcheckxmin", BOOL),
            ("indisready", BOOL),
            ("indislive", BOOL),
            ("indisreplident", BOOL),
            ("indkey", DataType::Int2Vector),
            ("indoption", DataType::Int2Vector),
            ("indexprs", DataType::Text),
            ("indpred", DataType::Text),
        ];
        let rows = self
            .indexes()
            .into_iter()
            .map(|i| {
                let n = i.columns.len() as i64;
                vec![
                    int(i.oid),
                    int(table_oid(i.table)),
                    int(n),
                    int(n),
                    boolean(i.unique),
                    boolean(false),
                    boolean(i.primary),
                    boolean(false),
                    boolean(true),
                    // The primary index holds the rows in key order: the table is clustered.
                    boolean(i.primary),
                    boolean(true),
                    boolean(false),
                    boolean(true),
                    boolean(true),
                    boolean(false),
                    int2_array(i.columns.iter().map(|c| *c as i64 + 1)),
                    int2_array(i.columns.iter().map(|_| 0)),
                    null(),
                    null(),
                ]
            })
            .collect();
        (columns, rows)
    }

    fn pg_constraint(&self) -> (Vec<(&'static str, DataType)>, Vec<Vec<Value>>) {
        let columns = vec![
            ("oid", OID),
            ("conname", NAME),
            ("connamespace", OID),
            ("contype", DataType::Text),
            ("condeferrable", BOOL),
            ("condeferred", BOOL),
            ("convalidated", BOOL),
            ("conrelid", OID),
            ("contypid", OID),
            ("conindid", OID),
            ("conparentid", OID),
            ("confrelid", OID),
            ("confupdtype", DataType::Text),
            ("confdeltype", DataType::Text),
            ("confmatchtype", DataType::Text),
            ("conislocal", BOOL),
            ("coninhcount", INT2),
            ("connoinherit", BOOL),
            ("conkey", INT2_ARRAY),
            ("confkey", INT2_ARRAY),
            ("conbin", DataType::Text),
        ];
        let rows = self
            .constraints()
            .into_iter()
            .map(|c| {
                vec![
                    int(c.oid),
                    text(&c.name),
                    int(PUBLIC_OID),
                    text(c.kind.to_string()),
                    boolean(false),
                    boolean(false),
                    boolean(true),
                    int(table_oid(c.table)),
                    int(0),
                    int(c.index),
                    int(0),
                    int(0),
                    text(" "),
                    text(" "),
                    text(" "),
                    boolean(true),
                    int(0),
                    boolean(false),
                    if c.kind == 'c' {
                        null()
                    } else {
                        int2_array(c.columns.iter().map(|i| *i as i64 + 1))
                    },
                    null(),
                    if c.kind == 'c' {
                        text(c.definition.trim_start_matches("CHECK "))
                    } else {
                        null()
                    },
                ]
            })
            .collect();
        (columns, rows)
    }

    fn pg_attrdef(&self) -> (Vec<(&'static str, DataType)>, Vec<Vec<Value>>) {
        let columns = vec![
            ("oid", OID),
            ("adrelid", OID),
            ("adnum", INT2),
            ("adbin", DataType::Text),
        ];
        let mut rows = Vec::new();
        for table in &self.tables {
            for (i, column) in table.columns.iter().enumerate() {
                if let Some(expr) = default_expression(column) {
                    rows.push(vec![
                        int(DEFAULT_OIDS + (i64::from(table.id) << 10) + i as i64),
                        int(table_oid(table)),
                        int(i as i64 + 1),
                        text(expr),
                    ]);
                }
            }
        }
        (columns, rows)
    }

    fn pg_roles(&self) -> (Vec<(&'static str, DataType)>, Vec<Vec<Value>>) {
        let columns = vec![
            ("oid", OID),
            ("rolname", NAME),
            ("rolsuper", BOOL),
            ("rolinherit", BOOL),
            ("rolcreaterole", BOOL),
            ("rolcreatedb", BOOL),
            ("rolcanlogin", BOOL),
            ("rolreplication", BOOL),
            ("rolconnlimit", INT4),
            ("rolpassword", DataType::Text),
            ("rolvaliduntil", DataType::TimestampTz),
            ("rolbypassrls", BOOL),
            ("rolconfig", TEXT_ARRAY),
        ];
        let rows = self
            .roles
            .iter()
            .map(|r| {
                vec![
                    int(role_oid(&r.name)),
                    text(&r.name),
                    boolean(r.superuser),
                    boolean(true),
                    boolean(r.superuser),
                    boolean(r.superuser),
                    boolean(r.login),
                    boolean(r.superuser),
                    int(-1),
                    text("********"),
                    null(),
                    boolean(r.superuser),
                    null(),
                ]
            })
            .collect();
        (columns, rows)
    }

    fn information_schema_columns(&self) -> (Vec<(&'static str, DataType)>, Vec<Vec<Value>>) {
        let columns = vec![
            ("table_catalog", NAME),
            ("table_schema", NAME),
            ("table_name", NAME),
            ("column_name", NAME),
            ("ordinal_position", INT4),
            ("column_default", DataType::Text),
            ("is_nullable", DataType::Text),
            ("data_type", DataType::Text),
            ("character_maximum_length", INT4),
            ("numeric_precision", INT4),
            ("numeric_scale", INT4),
            ("udt_name", NAME),
            ("is_identity", DataType::Text),
            ("is_generated", DataType::Text),
        ];
        let row = |table: &str,
                   position: usize,
                   name: &str,
                   ty: DataType,
                   nullable,
                   default,
                   identity: bool| {
            let (length, precision, scale) = match ty {
                DataType::Varchar(Some(n)) | DataType::Char(n) => {
                    (int(i64::from(n)), null(), null())
                }
                DataType::Numeric(Some((p, s))) => (null(), int(i64::from(p)), int(i64::from(s))),
                DataType::SmallInt => (null(), int(16), int(0)),
                DataType::Integer => (null(), int(32), int(0)),
                DataType::BigInt => (null(), int(64), int(0)),
                _ => (null(), null(), null()),
            };
            vec![
                text(DATABASE_NAME),
                text("public"),
                text(table),
                text(name),
                int(position as i64),
                default,
                text(if nullable { "YES" } else { "NO" }),
                text(match ty {
                    DataType::Array(_) => "ARRAY",
                    other => other.name(),
                }),
                length,
                precision,
                scale,
                text(ty.internal_name()),
                text(if identity { "YES" } else { "NO" }),
                text("NEVER"),
            ]
        };
        let mut rows = Vec::new();
        for table in &self.tables {
            let visible = table.columns.iter().filter(|c| !c.dropped);
            for (i, column) in visible.enumerate() {
                rows.push(row(
                    &table.name,
                    i + 1,
                    &column.name,
                    column.data_type,
                    column.nullable,
                    default_expression(column).map_or(Value::Null, |d| Value::Text(d.into())),
                    is_identity(column),
                ));
            }
        }
        for (view, types) in &self.views {
            for (i, (name, ty)) in view.columns.iter().zip(types).enumerate() {
                rows.push(row(&view.name, i + 1, name, *ty, true, Value::Null, false));
            }
        }
        (columns, rows)
    }
}

/// `pg_type`: the scalar types and their arrays.
fn pg_type() -> (Vec<(&'static str, DataType)>, Vec<Vec<Value>>) {
    let columns = vec![
        ("oid", OID),
        ("typname", NAME),
        ("typnamespace", OID),
        ("typowner", OID),
        ("typlen", INT2),
        ("typbyval", BOOL),
        ("typtype", DataType::Text),
        ("typcategory", DataType::Text),
        ("typisdefined", BOOL),
        ("typdelim", DataType::Text),
        ("typrelid", OID),
        ("typelem", OID),
        ("typarray", OID),
        ("typnotnull", BOOL),
        ("typbasetype", OID),
        ("typtypmod", INT4),
        ("typndims", INT4),
        ("typcollation", OID),
        ("typdefault", DataType::Text),
    ];
    let row = |ty: DataType, element: Option<DataType>, array: Option<DataType>| {
        let (length, by_value) = match ty {
            DataType::Boolean => (1, true),
            DataType::SmallInt => (2, true),
            DataType::Integer | DataType::Real | DataType::Date => (4, true),
            DataType::BigInt | DataType::Double | DataType::Time => (8, true),
            DataType::Timestamp | DataType::TimestampTz => (8, true),
            DataType::Interval | DataType::Uuid => (16, false),
            _ => (-1, false),
        };
        let category = match ty {
            DataType::Array(_) => "A",
            DataType::Boolean => "B",
            t if t.is_numeric() => "N",
            t if t.is_text() => "S",
            DataType::Date | DataType::Time | DataType::Timestamp | DataType::TimestampTz => "D",
            DataType::Interval => "T",
            _ => "U",
        };
        vec![
            int(i64::from(ty.oid())),
            text(ty.internal_name()),
            int(PG_CATALOG_OID),
            int(BOOTSTRAP_ROLE_OID),
            int(length),
            boolean(by_value),
            text("b"),
            text(category),
            boolean(true),
            text(","),
            int(0),
            int(element.map_or(0, |e| i64::from(e.oid()))),
            int(array.map_or(0, |a| i64::from(a.oid()))),
            boolean(false),
            int(0),
            int(-1),
            int(0),
            int(if ty.is_text() {
                DEFAULT_COLLATION_OID
            } else {
                0
            }),
            null(),
        ]
    };
    let mut rows = Vec::new();
    for ty in SCALAR_TYPES {
        let array = DataType::array_of(ty);
        rows.push(row(ty, None, array));
        // CHAR and VARCHAR arrays are text arrays here.
        if let Some(array) =
            array.filter(|_| !matches!(ty, DataType::Char(_) | DataType::Varchar(_)))
        {
            rows.push(row(array, Some(ty), None));
        }
    }
    (columns, rows)
}

fn namespaces() -> impl Iterator<Item = (i64, &'static str)> {
    [
        (PG_CATALOG_OID, "pg_catalog"),
        (PUBLIC_OID, "public"),
        (INFORMATION_SCHEMA_OID, "information_schema"),
    ]
    .into_iter()
}

fn has_index(table: &TableSchema) -> bool {
    !table.primary_key.is_empty() || !table.indexes.is_empty()
}

fn is_identity(column: &crate::catalog::Column) -> bool {
    !column.dropped && matches!(column.generated, Some(Generated::Serial))
}

fn has_default(column: &crate::catalog::Column) -> bool {
    default_expression(column).is_some()
}

/// A column default as SQL, as `pg_get_expr` shows it (`'x'::text`, `now()`).
fn default_expression(column: &crate::catalog::Column) -> Option<String> {
    if column.dropped {
        return None;
    }
    match (&column.generated, &column.default) {
        (Some(Generated::Expression(sql)), _) => Some(sql.clone()),
        // A SERIAL column is shown as an identity column (its counter is no sequence).
        (Some(Generated::Serial), _) => None,
        (None, Some(value)) if !value.is_null() => Some(literal(value, column.data_type)),
        _ => None,
    }
}

/// A constant as a SQL literal with its type, as PostgreSQL deparses it.
fn literal(value: &Value, ty: DataType) -> String {
    match value {
        Value::Int(i) if *i >= 0 => i.to_string(),
        Value::Int(i) => format!("'{i}'::{}", ty.name()),
        Value::Numeric(d) if !d.is_sign_negative() => d.to_string(),
        Value::Boolean(b) => b.to_string(),
        Value::Array(items) => format!(
            "'{}'::{}",
            format_array(items).replace('\'', "''"),
            ty.name()
        ),
        other => format!("'{}'::{}", other.to_string().replace('\'', "''"), ty.name()),
    }
}

fn column_list(table: &TableSchema, columns: &[usize]) -> String {
    columns
        .iter()
        .map(|c| table.columns[*c].name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

struct RelationEntry {
    oid: i64,
    name: String,
}

struct IndexEntry<'a> {
    oid: i64,
    name: String,
    table: &'a TableSchema,
    columns: Vec<usize>,
    unique: bool,
    primary: bool,
}

impl IndexEntry<'_> {
    /// The index as `pg_get_indexdef` shows it.
    fn definition(&self) -> String {
        format!(
            "CREATE {}INDEX {} ON public.{} USING {} ({})",
            if self.unique { "UNIQUE " } else { "" },
            self.name,
            self.table.name,
            if self.primary { "alex" } else { "btree" },
            column_list(self.table, &self.columns)
        )
    }
}

struct ConstraintEntry<'a> {
    oid: i64,
    name: String,
    table: &'a TableSchema,
    /// PostgreSQL's `contype`: `p`, `u` or `c`.
    kind: char,
    columns: Vec<usize>,
    index: i64,
    definition: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Role;
    use crate::catalog::{Check, Column, IndexSchema};

    fn catalog() -> SystemCatalog {
        let mut price = Column::new("price", DataType::Numeric(Some((8, 2))));
        price.default = Some(Value::Int(0));
        let table = TableSchema {
            id: 3,
            name: "items".into(),
            columns: vec![Column::new("id", DataType::Integer), price],
            primary_key: vec![0],
            indexes: vec![IndexSchema {
                id: 4,
                name: "items_price".into(),
                columns: vec![1],
                unique: false,
            }],
            checks: vec![Check {
                name: "items_price_check".into(),
                expr: "price >= 0".into(),
            }],
        };
        let view = ViewDef {
            name: "v".into(),
            columns: vec!["id".into()],
            query: "SELECT id FROM items".into(),
        };
        let role = Role {
            name: "admin".into(),
            login: true,
            superuser: true,
            verifier: None,
        };
        SystemCatalog::new(
            vec![Arc::new(table)],
            vec![(Arc::new(view), vec![DataType::Integer])],
            vec![role],
        )
    }

    /// Every row of every system relation has one value per column, of the column's type.
    #[test]
    fn rows_match_their_columns() {
        let catalog = catalog();
        for name in COMPUTED.iter().chain(&EMPTY) {
            let relation = catalog.relation(name).unwrap();
            for row in &relation.rows {
                assert_eq!(row.len(), relation.columns.len(), "{name}");
                for (value, (column, ty)) in row.iter().zip(&relation.columns) {
                    assert!(
                        ty.admit(column, value.clone()).is_ok(),
                        "{name}.{column}: {value:?} is no {}",
                        ty.name()
                    );
                }
            }
        }
    }

    #[test]
    fn object_ids_are_unique() {
        let catalog = catalog();
        let relations = catalog.relations();
        let mut oids: Vec<i64> = relations.iter().map(|r| r.oid).collect();
        oids.extend(catalog.constraints().iter().map(|c| c.oid));
        oids.sort_unstable();
        let count = oids.len();
        oids.dedup();
        assert_eq!(oids.len(), count);
        assert!(
            oids.iter()
                .all(|oid| (FIRST_USER_OID..i64::from(i32::MAX)).contains(oid))
        );
    }

    #[test]
    fn lookups_find_names_and_ids() {
        let catalog = catalog();
        let oid = catalog
            .lookup(LookupKind::RelationOid { strict: true })
            .get(&Value::Text("public.\"items\"".into()))
            .unwrap();
        assert_eq!(oid, Value::Int(16387));
        assert_eq!(
            catalog.lookup(LookupKind::RelationName).get(&oid).unwrap(),
            Value::Text("items".into())
        );
        assert_eq!(
            catalog
                .lookup(LookupKind::RelationOid { strict: true })
                .get(&Value::Text("nope".into()))
                .unwrap_err()
                .sqlstate(),
            "42P01"
        );
        assert_eq!(
            catalog
                .lookup(LookupKind::IndexDef)
                .get(&Value::Int(16388))
                .unwrap(),
            Value::Text("CREATE INDEX items_price ON public.items USING btree (price)".into())
        );
        assert_eq!(
            catalog
                .lookup(LookupKind::RoleName)
                .get(&Value::Int(7))
                .unwrap(),
            Value::Text("unknown (OID=7)".into())
        );
        assert_eq!(
            type_by_name("character varying[]"),
            DataType::array_of(DataType::Text)
        );
        assert_eq!(
            type_by_oid(1700, ((10 << 16) | 2) + 4),
            Some(DataType::Numeric(Some((10, 2))))
        );
        assert_eq!(
            format_type(DataType::Varchar(Some(5))),
            "character varying(5)"
        );
    }
}
