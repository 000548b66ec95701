//! One statement's result: a paged grid (or, for EXPLAIN, the plan as a tree), its command tag,
//! row count and time, and export as CSV or JSON.

use leptos::prelude::*;
use serde_json::Value as JsonValue;
use wasm_bindgen::JsCast;

/// Rows shown per page: the grid never renders more than this many at once.
pub const PAGE_ROWS: usize = 100;

/// A cell as text: strings as they are, NULL as empty (shown as a marker), others as JSON.
fn cell_text(value: &JsonValue) -> Option<String> {
    match value {
        JsonValue::Null => None,
        JsonValue::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

fn column_names(doc: &JsonValue) -> Vec<String> {
    doc["columns"]
        .as_array()
        .map(|cs| {
            cs.iter()
                .map(|c| c["name"].as_str().unwrap_or("?").to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// RFC 4180 CSV with a header row; NULL is an empty field, the empty string `""`.
pub fn to_csv(doc: &JsonValue) -> String {
    fn field(out: &mut String, text: Option<&str>) {
        match text {
            None => {}
            Some(t) if t.is_empty() || t.contains([',', '"', '\n', '\r']) => {
                out.push('"');
                out.push_str(&t.replace('"', "\"\""));
                out.push('"');
            }
            Some(t) => out.push_str(t),
        }
    }
    let mut out = String::new();
    for (i, name) in column_names(doc).iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        field(&mut out, Some(name));
    }
    out.push_str("\r\n");
    for row in doc["rows"].as_array().into_iter().flatten() {
        for (i, value) in row.as_array().into_iter().flatten().enumerate() {
            if i > 0 {
                out.push(',');
            }
            field(&mut out, cell_text(value).as_deref());
        }
        out.push_str("\r\n");
    }
    out
}

/// The rows as an array of objects keyed by column name.
pub fn to_json(doc: &JsonValue) -> String {
    let names = column_names(doc);
    let rows: Vec<JsonValue> = doc["rows"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|row| {
            let fields = names
                .iter()
                .cloned()
                .zip(row.as_array().into_iter().flatten().cloned());
            JsonValue::Object(fields.collect())
        })
        .collect();
    serde_json::to_string_pretty(&rows).unwrap_or_default()
}

/// Offers `content` as a file download.
fn download(name: &str, mime: &str, content: &str) {
    let parts = js_sys::Array::of1(&content.into());
    let options = web_sys::BlobPropertyBag::new();
    options.set_type(mime);
    let Ok(blob) = web_sys::Blob::new_with_str_sequence_and_options(&parts, &options) else {
        return;
    };
    let Ok(url) = web_sys::Url::create_object_url_with_blob(&blob) else {
        return;
    };
    if let Some(a) = document()
        .create_element("a")
        .ok()
        .and_then(|a| a.dyn_into::<web_sys::HtmlAnchorElement>().ok())
    {
        a.set_href(&url);
        a.set_download(name);
        a.click();
    }
    let _ = web_sys::Url::revoke_object_url(&url);
}

/// An EXPLAIN plan (one line per operator, children indented) as nested lists.
fn plan_tree(lines: &[String]) -> String {
    let mut html = String::from("<ul class=\"plan\">");
    let mut depths = vec![0usize];
    for line in lines {
        let indent = line.len() - line.trim_start().len();
        let text = line.trim_start().trim_start_matches("-> ");
        while depths.len() > 1 && indent < *depths.last().unwrap_or(&0) {
            depths.pop();
            html.push_str("</ul></li>");
        }
        if indent > *depths.last().unwrap_or(&0) {
            depths.push(indent);
            html.push_str("<li class=\"children\"><ul>");
        }
        html.push_str("<li>");
        crate::highlight::escape_into(&mut html, text);
        html.push_str("</li>");
    }
    for _ in 1..depths.len() {
        html.push_str("</ul></li>");
    }
    html.push_str("</ul>");
    html
}

#[component]
pub fn ResultView(index: usize, doc: JsonValue) -> impl IntoView {
    let names = column_names(&doc);
    let rows: Vec<Vec<Option<String>>> = doc["rows"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| r.as_array().into_iter().flatten().map(cell_text).collect())
        .collect();
    let tag = doc["tag"].as_str().unwrap_or_default().to_string();
    let elapsed = doc["elapsed_ms"]
        .as_f64()
        .map(|ms| format!("{ms:.2} ms"))
        .unwrap_or_default();
    let count = rows.len();
    let is_plan = names.len() == 1 && names[0] == "QUERY PLAN";
    let pages = count.div_ceil(PAGE_ROWS).max(1);
    let (page, set_page) = signal(0usize);
    let summary = if names.is_empty() {
        tag.clone()
    } else {
        format!("{count} row{}", if count == 1 { "" } else { "s" })
    };
    let csv = StoredValue::new(to_csv(&doc));
    let json = StoredValue::new(to_json(&doc));
    let body = if names.is_empty() {
        ().into_any()
    } else if is_plan {
        let lines: Vec<String> = rows
            .iter()
            .map(|r| r[0].clone().unwrap_or_default())
            .collect();
        view! { <div class="plan-tree" inner_html=plan_tree(&lines)></div> }.into_any()
    } else {
        let rows = StoredValue::new(rows);
        let header = names
            .iter()
            .map(|n| view! { <th>{n.clone()}</th> })
            .collect_view();
        view! {
            <table class="grid">
                <thead><tr>{header}</tr></thead>
                <tbody>
                    {move || rows.with_value(|rows| {
                        let start = page.get() * PAGE_ROWS;
                        rows.iter().skip(start).take(PAGE_ROWS).map(|row| {
                            let cells = row.iter().map(|c| match c {
                                Some(text) => view! { <td>{text.clone()}</td> }.into_any(),
                                None => view! { <td class="null">"NULL"</td> }.into_any(),
                            }).collect_view();
                            view! { <tr>{cells}</tr> }
                        }).collect_view()
                    })}
                </tbody>
            </table>
            <div class="pager" class:hidden=move || { pages < 2 }>
                <button class="prev" disabled=move || { page.get() == 0 }
                    on:click=move |_| set_page.update(|p| *p = p.saturating_sub(1))>"‹ prev"</button>
                <span class="page">{move || format!("page {} of {pages}", page.get() + 1)}</span>
                <button class="next" disabled=move || { page.get() + 1 >= pages }
                    on:click=move |_| set_page.update(|p| *p = (*p + 1).min(pages - 1))>"next ›"</button>
            </div>
        }
        .into_any()
    };
    let exports = (!names.is_empty() && !is_plan).then(|| {
        view! {
            <button class="export-csv" on:click=move |_| csv.with_value(|c| download(&format!("result-{}.csv", index + 1), "text/csv", c))>"CSV"</button>
            <button class="export-json" on:click=move |_| json.with_value(|j| download(&format!("result-{}.json", index + 1), "application/json", j))>"JSON"</button>
        }
    });
    view! {
        <div class="result" data-index=index>
            <div class="result-head">
                <span class="tag">{tag}</span>
                <span class="count">{summary}</span>
                <span class="elapsed">{elapsed}</span>
                {exports}
            </div>
            {body}
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc() -> JsonValue {
        json!({"columns": [{"name": "id", "type": "integer"}, {"name": "note", "type": "text"}],
               "rows": [[1, "a,b"], [2, null], [3, "say \"hi\""], [4, ""]], "tag": "SELECT 4"})
    }

    #[test]
    fn csv_quotes_what_needs_quoting_and_leaves_null_empty() {
        assert_eq!(
            to_csv(&doc()),
            "id,note\r\n1,\"a,b\"\r\n2,\r\n3,\"say \"\"hi\"\"\"\r\n4,\"\"\r\n"
        );
    }

    #[test]
    fn json_export_is_objects_by_column() {
        let rows: JsonValue = serde_json::from_str(&to_json(&doc())).unwrap_or_default();
        assert_eq!(rows[0], json!({"id": 1, "note": "a,b"}));
        assert_eq!(rows[1]["note"], JsonValue::Null);
    }

    #[test]
    fn plans_nest_by_indentation() {
        let lines: Vec<String> = ["Limit", "  -> Sort (key: x)", "    -> Scan t", "  -> Other"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            plan_tree(&lines),
            "<ul class=\"plan\"><li>Limit</li><li class=\"children\"><ul><li>Sort (key: x)</li>\
             <li class=\"children\"><ul><li>Scan t</li></ul></li><li>Other</li></ul></li></ul>"
        );
    }
}
