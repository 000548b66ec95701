//! The JSON documents OmenDB answers with outside the wire protocol: the server's HTTP API and the
//! WebAssembly package build them here, so the web console reads one format whichever backend
//! it talks to.
//!
//! - a result: `{"columns": [{"name", "type"}], "rows": [[…]], "tag", "affected"}`, integers,
//!   floats and booleans as JSON values and every other type in its PostgreSQL text form (exact);
//! - an error: `{"sqlstate", "message", "position", "detail"}`;
//! - the schema: `{"tables": [{"name", "columns", "primary_key", "indexes", "checks"}], "views"}`;
//! - a table's learned index: `{"table", "stats": {…}, "nodes": [{…}]}`, node by node.

use serde_json::{Value as JsonValue, json};

use crate::alex::{NodeInfo, NodeKind};
use crate::types::Value;
use crate::{Database, Error, QueryResult, Result, RowKey, Session};

/// Runs a script statement by statement in `session`, stopping at the first error: each
/// statement's result document gets its `elapsed_ms` (measured with `now_ms`, a millisecond
/// clock the platform supplies), and the error's `position` counts from the script's start.
pub fn run_script(
    session: &mut Session,
    sql: &str,
    now_ms: impl Fn() -> f64,
) -> (Vec<JsonValue>, Option<JsonValue>) {
    let mut results = Vec::new();
    for statement in crate::sql::split_statements(sql) {
        let started = now_ms();
        let (done, failed) = session.execute_until_error(statement.text);
        let elapsed = now_ms() - started;
        for result in &done {
            let mut doc = self::result(result);
            doc["elapsed_ms"] = json!(elapsed / done.len() as f64);
            results.push(doc);
        }
        if let Some(e) = failed {
            let mut doc = error(&e);
            if let Some(position) = e.position() {
                doc["position"] = json!(position + statement.chars_before);
            }
            return (results, Some(doc));
        }
    }
    (results, None)
}

/// One statement's result.
pub fn result(result: &QueryResult) -> JsonValue {
    let affected = result
        .tag
        .rsplit(' ')
        .next()
        .and_then(|n| n.parse::<u64>().ok());
    json!({
        "columns": result
            .columns
            .iter()
            .map(|c| json!({"name": c.name, "type": c.data_type.to_string()}))
            .collect::<Vec<_>>(),
        "rows": result
            .rows
            .iter()
            .map(|row| row.iter().map(value).collect::<Vec<_>>())
            .collect::<Vec<_>>(),
        "tag": result.tag,
        "affected": affected,
    })
}

/// A value: JSON's own types where they are exact, the PostgreSQL text form otherwise.
pub fn value(value: &Value) -> JsonValue {
    match value {
        Value::Null => JsonValue::Null,
        Value::Boolean(b) => JsonValue::Bool(*b),
        Value::Int(i) => json!(i),
        Value::Float(f) if f.is_finite() => json!(f),
        other => JsonValue::String(other.to_string()),
    }
}

/// A statement parameter: strings are text (the statement casts them), numbers integers where
/// they are whole and otherwise text, so that `0.1` reaches a NUMERIC parameter exactly.
pub fn parameter(value: &JsonValue) -> Value {
    match value {
        JsonValue::Null => Value::Null,
        JsonValue::Bool(b) => Value::Boolean(*b),
        JsonValue::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => Value::Text(n.to_string().into()),
        },
        JsonValue::String(s) => Value::Text(s.into()),
        other => Value::Text(other.to_string().into()),
    }
}

/// An error, with its SQLSTATE and (when the statement text locates it) 1-based position.
pub fn error(e: &Error) -> JsonValue {
    json!({
        "sqlstate": e.sqlstate(),
        "message": e.to_string(),
        "position": e.position(),
        "detail": e.detail(),
    })
}

/// Every table (columns, primary key, secondary indexes, checks) and view.
pub fn schema(db: &Database) -> JsonValue {
    let tables: Vec<JsonValue> = db
        .table_names()
        .iter()
        .filter_map(|name| db.table_schema(name).ok())
        .map(|t| {
            let column = |i: &usize| t.columns[*i].name.clone();
            json!({
                "name": t.name,
                "columns": t.columns.iter().filter(|c| !c.dropped).map(|c| json!({
                    "name": c.name,
                    "type": c.data_type.to_string(),
                    "nullable": c.nullable,
                })).collect::<Vec<_>>(),
                "primary_key": t.primary_key.iter().map(column).collect::<Vec<_>>(),
                "indexes": t.indexes.iter().map(|i| json!({
                    "name": i.name,
                    "columns": i.columns.iter().map(column).collect::<Vec<_>>(),
                    "unique": i.unique,
                })).collect::<Vec<_>>(),
                "checks": t.checks.iter().map(|c| json!({"name": c.name, "expr": c.expr})).collect::<Vec<_>>(),
            })
        })
        .collect();
    let views: Vec<JsonValue> = db
        .view_names()
        .iter()
        .filter_map(|name| db.view(name))
        .map(|v| json!({"name": v.name, "columns": v.columns, "query": v.query}))
        .collect();
    json!({"tables": tables, "views": views})
}

/// The table's learned index: its statistics (shape, model error, fill, structural events,
/// memory) and every node (level, parent, key range, linear model, capacity and fill; for data
/// nodes also the model error, an occupancy profile and sampled keys as `[input, slot]`). Keys
/// are JSON numbers for integer keys and hex strings of the encoded key otherwise.
pub fn index(db: &Database, table: &str) -> Result<JsonValue> {
    let (table_stats, nodes) = db.index_view(table)?;
    let s = &table_stats.index;
    Ok(json!({
        "table": table,
        "stats": {
            "keys": s.len,
            "depth": s.depth,
            "inner_nodes": s.inner_nodes,
            "data_nodes": s.data_nodes,
            "avg_density": s.avg_density,
            "model_error_mean": s.model_error_mean,
            "model_error_max": s.model_error_max,
            "shifts_per_insert": s.shifts_per_insert,
            "inserts": s.events.inserts,
            "expansions": s.events.expansions,
            "splits_sideways": s.events.splits_sideways,
            "splits_down": s.events.splits_down,
            "contractions": s.events.contractions,
            "merges": s.events.merges,
            "root_expansions": s.events.root_expansions,
            "memory_bytes": table_stats.index_memory.total(),
        },
        "nodes": nodes.iter().map(node).collect::<Vec<_>>(),
    }))
}

fn node(n: &NodeInfo<RowKey>) -> JsonValue {
    let key = |k: &Option<RowKey>| match k {
        None => JsonValue::Null,
        Some(RowKey::Int(i)) => json!(i),
        Some(RowKey::Bytes(b)) => JsonValue::String(b.iter().map(|x| format!("{x:02x}")).collect()),
    };
    let mut doc = json!({
        "id": n.id,
        "kind": match n.kind { NodeKind::Inner => "inner", NodeKind::Data => "data" },
        "depth": n.depth,
        "parent": n.parent,
        "min_key": key(&n.min_key),
        "max_key": key(&n.max_key),
        "slope": finite(n.slope),
        "intercept": finite(n.intercept),
        "capacity": n.capacity,
        "fill": n.fill,
    });
    if let (Some(layout), Some(fields)) = (&n.layout, doc.as_object_mut()) {
        fields.insert("error_mean".into(), finite(layout.error_mean));
        fields.insert("error_max".into(), json!(layout.error_max));
        fields.insert("occupancy".into(), json!(layout.occupancy));
        let points: Vec<JsonValue> = layout
            .points
            .iter()
            .map(|(input, slot)| json!([finite(*input), slot]))
            .collect();
        fields.insert("points".into(), JsonValue::Array(points));
    }
    doc
}

/// JSON has no infinities or NaN: those become `null`.
fn finite(x: f64) -> JsonValue {
    if x.is_finite() {
        json!(x)
    } else {
        JsonValue::Null
    }
}
