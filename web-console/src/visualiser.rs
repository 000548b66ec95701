//! The ALEX visualiser: a table's learned index drawn as it is — inner nodes by level, each
//! spanning the data nodes beneath it; data nodes with their fill, their gaps (an occupancy
//! profile) and their linear model over sampled keys — with the counters that show it adapt
//! (expansions, splits). Past [`MAX_COLUMNS`] data nodes, neighbours are drawn as one column.
//!
//! The drawing is an SVG string built here (thousands of elements are cheaper as markup than as
//! reactive nodes); clicking a column selects it for the detailed chart below.

use std::fmt::Write;

use serde_json::Value as JsonValue;

use crate::highlight::escape;

/// Data-node columns drawn at most; more nodes are aggregated into groups.
pub const MAX_COLUMNS: usize = 240;
const WIDTH: f64 = 960.0;
const ROW: f64 = 26.0;
const DATA_HEIGHT: f64 = 90.0;

/// A data node's numbers, from the index document.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DataNode {
    pub id: u64,
    pub depth: usize,
    pub min_key: String,
    pub max_key: String,
    pub capacity: f64,
    pub fill: f64,
    pub slope: f64,
    pub intercept: f64,
    pub error_mean: f64,
    pub error_max: f64,
    pub occupancy: Vec<f64>,
    pub points: Vec<(f64, f64)>,
}

struct Inner {
    depth: usize,
    min_key: String,
    max_key: String,
    fanout: f64,
    /// The first and last data-node column beneath it.
    span: Option<(usize, usize)>,
}

fn key_text(v: &JsonValue) -> String {
    match v {
        JsonValue::Null => "∅".into(),
        JsonValue::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn num(v: &JsonValue) -> f64 {
    v.as_f64().unwrap_or(0.0)
}

/// The data nodes of an index document, in key order.
pub fn data_nodes(doc: &JsonValue) -> Vec<DataNode> {
    doc["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|n| n["kind"] == "data")
        .map(|n| DataNode {
            id: n["id"].as_u64().unwrap_or(0),
            depth: n["depth"].as_u64().unwrap_or(0) as usize,
            min_key: key_text(&n["min_key"]),
            max_key: key_text(&n["max_key"]),
            capacity: num(&n["capacity"]),
            fill: num(&n["fill"]),
            slope: num(&n["slope"]),
            intercept: num(&n["intercept"]),
            error_mean: num(&n["error_mean"]),
            error_max: num(&n["error_max"]),
            occupancy: n["occupancy"]
                .as_array()
                .into_iter()
                .flatten()
                .map(num)
                .collect(),
            points: n["points"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| (num(&p[0]), num(&p[1])))
                .collect(),
        })
        .collect()
}

/// How many data nodes each drawn column holds.
pub fn group_size(data_nodes: usize) -> usize {
    data_nodes.div_ceil(MAX_COLUMNS).max(1)
}

/// `counts` summed into `parts` consecutive runs (as even as the lengths allow).
fn regroup(counts: &[f64], parts: usize) -> Vec<f64> {
    let parts = parts.max(1);
    let mut out = vec![0.0; parts];
    for (i, c) in counts.iter().enumerate() {
        out[i * parts / counts.len()] += c;
    }
    out
}

/// A colour from pale (empty) to deep (full) for a fill ratio.
fn fill_colour(ratio: f64) -> String {
    let r = ratio.clamp(0.0, 1.0);
    let light = 88.0 - 50.0 * r;
    format!("hsl(205, 70%, {light:.0}%)")
}

/// The whole index as SVG; `selected` is the highlighted column.
pub fn render(doc: &JsonValue, selected: Option<usize>) -> String {
    let nodes = doc["nodes"].as_array().cloned().unwrap_or_default();
    let data = data_nodes(doc);
    let per_column = group_size(data.len());
    let columns = data.len().div_ceil(per_column).max(1);
    let column_width = WIDTH / columns as f64;

    // Inner nodes, and the span of data columns under each (walking up from every data node).
    let mut inner: Vec<Inner> = Vec::new();
    let mut inner_index = std::collections::HashMap::new();
    let mut data_parent = Vec::new();
    let mut parent_of_inner = Vec::new();
    for n in &nodes {
        let parent = n["parent"].as_u64();
        if n["kind"] == "inner" {
            inner_index.insert(n["id"].as_u64().unwrap_or(0), inner.len());
            inner.push(Inner {
                depth: n["depth"].as_u64().unwrap_or(0) as usize,
                min_key: key_text(&n["min_key"]),
                max_key: key_text(&n["max_key"]),
                fanout: num(&n["fill"]),
                span: None,
            });
            parent_of_inner.push(parent);
        } else {
            data_parent.push(parent);
        }
    }
    for (i, parent) in data_parent.iter().enumerate() {
        let column = i / per_column;
        let mut at = parent.and_then(|p| inner_index.get(&p).copied());
        while let Some(k) = at {
            let span = inner[k].span.get_or_insert((column, column));
            span.0 = span.0.min(column);
            span.1 = span.1.max(column);
            at = parent_of_inner[k].and_then(|p| inner_index.get(&p).copied());
        }
    }
    let levels = inner.iter().map(|n| n.depth + 1).max().unwrap_or(0);
    let data_top = levels as f64 * ROW + 8.0;
    let height = data_top + DATA_HEIGHT + 4.0;

    let mut svg = String::new();
    let _ = write!(
        svg,
        "<svg class=\"alex\" viewBox=\"0 0 {WIDTH} {height}\" width=\"100%\" \
         preserveAspectRatio=\"xMinYMin meet\" xmlns=\"http://www.w3.org/2000/svg\">"
    );
    for node in &inner {
        let Some((first, last)) = node.span else {
            continue;
        };
        let x = first as f64 * column_width;
        let w = (last - first + 1) as f64 * column_width;
        let y = node.depth as f64 * ROW;
        let _ = write!(
            svg,
            "<rect class=\"inner\" x=\"{:.2}\" y=\"{y:.1}\" width=\"{:.2}\" height=\"{:.1}\" rx=\"3\">\
             <title>inner node, level {}: keys {} … {}, {} children</title></rect>",
            x + 0.5,
            (w - 1.0).max(0.5),
            ROW - 6.0,
            node.depth,
            escape(&node.min_key),
            escape(&node.max_key),
            node.fanout
        );
    }
    for (column, group) in data.chunks(per_column).enumerate() {
        let x = column as f64 * column_width;
        let capacity: f64 = group.iter().map(|n| n.capacity).sum();
        let fill: f64 = group.iter().map(|n| n.fill).sum();
        let ratio = if capacity > 0.0 { fill / capacity } else { 0.0 };
        let title = match group {
            [n] => format!(
                "data node {} (level {}): keys {} … {}, {} of {} slots, model error mean {:.2} max {}",
                n.id, n.depth, n.min_key, n.max_key, n.fill, n.capacity, n.error_mean, n.error_max
            ),
            _ => format!(
                "{} data nodes: keys {} … {}, {} of {} slots",
                group.len(),
                group.first().map_or("", |n| n.min_key.as_str()),
                group.last().map_or("", |n| n.max_key.as_str()),
                fill,
                capacity
            ),
        };
        let class = if selected == Some(column) {
            "data selected"
        } else {
            "data"
        };
        let _ = write!(
            svg,
            "<g class=\"{class}\" data-column=\"{column}\"><title>{}</title>\
             <rect class=\"box\" x=\"{:.2}\" y=\"{data_top:.1}\" width=\"{:.2}\" height=\"{DATA_HEIGHT}\" fill=\"{}\"/>",
            escape(&title),
            x + 0.25,
            (column_width - 0.5).max(0.3),
            fill_colour(ratio * 0.35),
        );
        // Fill: a single node's occupancy profile (in as many runs of slots as there is room
        // for), or one bar for a group.
        let inner_w = column_width - 0.5;
        let profile = match group {
            [n] if !n.occupancy.is_empty() && n.capacity > 0.0 => {
                let parts = ((inner_w / 2.0) as usize).clamp(1, n.occupancy.len());
                regroup(&n.occupancy, parts)
                    .into_iter()
                    .map(|occupied| occupied * parts as f64 / n.capacity)
                    .collect()
            }
            _ => vec![ratio],
        };
        let bw = inner_w / profile.len() as f64;
        for (b, r) in profile.iter().enumerate() {
            let h = (DATA_HEIGHT - 2.0) * r.min(1.0);
            let _ = write!(
                svg,
                "<rect class=\"occupied\" x=\"{:.2}\" y=\"{:.2}\" width=\"{:.2}\" height=\"{h:.2}\" fill=\"{}\"/>",
                x + 0.25 + b as f64 * bw,
                data_top + DATA_HEIGHT - 1.0 - h,
                (bw - 0.2).max(0.1),
                fill_colour(*r)
            );
        }
        if let [n] = group {
            if column_width >= 8.0 {
                model_plot(
                    &mut svg,
                    n,
                    (x + 2.0, data_top + 2.0),
                    (column_width - 4.0, DATA_HEIGHT - 4.0),
                    1.2,
                );
            }
        }
        svg.push_str("</g>");
    }
    svg.push_str("</svg>");
    svg
}

/// A data node's keys (dots at their actual slots) and its model's line (predicted slots),
/// slot 0 at the bottom, in the box at `origin` of `size`.
fn model_plot(svg: &mut String, n: &DataNode, origin: (f64, f64), size: (f64, f64), dot: f64) {
    let (Some(first), Some(last)) = (n.points.first(), n.points.last()) else {
        return;
    };
    if n.capacity <= 0.0 {
        return;
    }
    let (x0, x1) = (first.0, last.0.max(first.0 + f64::EPSILON));
    let sx = |input: f64| origin.0 + (input - x0) / (x1 - x0) * size.0;
    let sy = |slot: f64| origin.1 + size.1 - (slot / n.capacity).clamp(0.0, 1.0) * size.1;
    let predicted = |input: f64| n.slope * input + n.intercept;
    let _ = write!(
        svg,
        "<line class=\"model\" x1=\"{:.2}\" y1=\"{:.2}\" x2=\"{:.2}\" y2=\"{:.2}\"/>",
        sx(x0),
        sy(predicted(x0)),
        sx(x1),
        sy(predicted(x1))
    );
    for &(input, slot) in &n.points {
        let _ = write!(
            svg,
            "<circle class=\"key\" cx=\"{:.2}\" cy=\"{:.2}\" r=\"{dot}\"/>",
            sx(input),
            sy(slot)
        );
    }
}

/// The detailed chart of one column's first data node.
pub fn render_detail(doc: &JsonValue, column: usize) -> Option<String> {
    let data = data_nodes(doc);
    let per_column = group_size(data.len());
    let group = data.chunks(per_column).nth(column)?;
    let n = group.first()?;
    let (w, h) = (WIDTH, 220.0);
    let mut svg = String::new();
    let _ = write!(
        svg,
        "<svg class=\"alex-detail\" viewBox=\"0 0 {w} {h}\" width=\"100%\" xmlns=\"http://www.w3.org/2000/svg\">\
         <rect class=\"box\" x=\"0.5\" y=\"0.5\" width=\"{}\" height=\"{}\" fill=\"none\"/>",
        w - 1.0,
        h - 1.0
    );
    let buckets = n.occupancy.len().max(1) as f64;
    let slots_per_bucket = n.capacity / buckets;
    for (b, occupied) in n.occupancy.iter().enumerate() {
        let r = if slots_per_bucket > 0.0 {
            occupied / slots_per_bucket
        } else {
            0.0
        };
        let bh = 30.0 * r.min(1.0);
        let _ = write!(
            svg,
            "<rect class=\"occupied\" x=\"{:.2}\" y=\"{:.2}\" width=\"{:.2}\" height=\"{bh:.2}\" fill=\"{}\"/>",
            4.0 + b as f64 * (w - 8.0) / buckets,
            h - 4.0 - bh,
            (w - 8.0) / buckets - 1.0,
            fill_colour(r)
        );
    }
    model_plot(&mut svg, n, (8.0, 8.0), (w - 16.0, h - 50.0), 3.0);
    svg.push_str("</svg>");
    let mut caption = format!(
        "data node {} at level {}: keys {} … {} · {} keys in {} slots ({:.0}% full) · model slot = {:.4e}·key {:+.1} · error mean {:.2}, max {}",
        n.id,
        n.depth,
        n.min_key,
        n.max_key,
        n.fill,
        n.capacity,
        if n.capacity > 0.0 {
            100.0 * n.fill / n.capacity
        } else {
            0.0
        },
        n.slope,
        n.intercept,
        n.error_mean,
        n.error_max
    );
    if group.len() > 1 {
        let _ = write!(
            caption,
            " (first of {} nodes drawn as this column)",
            group.len()
        );
    }
    Some(format!(
        "<p class=\"caption\">{}</p>{svg}",
        escape(&caption)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc(data: usize) -> JsonValue {
        let mut nodes = vec![json!({"id": 0, "kind": "inner", "depth": 0, "parent": null,
            "min_key": 0, "max_key": data * 10, "fill": data})];
        for i in 0..data {
            nodes.push(json!({"id": i, "kind": "data", "depth": 1, "parent": 0,
                "min_key": i * 10, "max_key": i * 10 + 9, "capacity": 16, "fill": 10,
                "slope": 1.0, "intercept": -(i as f64) * 10.0, "error_mean": 0.5, "error_max": 1,
                "occupancy": [2, 3, 0, 5], "points": [[i * 10, 0], [i * 10 + 9, 12]]}));
        }
        json!({"table": "t", "stats": {}, "nodes": nodes})
    }

    #[test]
    fn every_data_node_is_a_column_until_there_are_too_many() {
        let svg = render(&doc(5), Some(2));
        assert_eq!(svg.matches("data-column=").count(), 5);
        assert_eq!(svg.matches("class=\"data selected\"").count(), 1);
        assert_eq!(svg.matches("class=\"inner\"").count(), 1);
        assert_eq!(svg.matches("class=\"model\"").count(), 5);
        let many = render(&doc(1000), None);
        assert_eq!(
            many.matches("data-column=").count(),
            1000usize.div_ceil(group_size(1000))
        );
        assert!(many.matches("data-column=").count() <= MAX_COLUMNS);
        assert!(many.contains("5 data nodes"));
    }

    #[test]
    fn occupancy_regroups_into_fewer_runs_keeping_the_total() {
        assert_eq!(regroup(&[1.0, 2.0, 3.0, 4.0], 2), vec![3.0, 7.0]);
        assert_eq!(regroup(&[1.0, 2.0, 3.0], 2), vec![3.0, 3.0]);
        assert_eq!(regroup(&[5.0], 1), vec![5.0]);
    }

    #[test]
    fn the_detail_names_the_node_and_its_model() {
        let detail = render_detail(&doc(3), 1).unwrap_or_default();
        assert!(
            detail.contains("data node 1 at level 1: keys 10 … 19"),
            "{detail}"
        );
        assert!(
            detail.contains("10 keys in 16 slots (62% full)"),
            "{detail}"
        );
        assert_eq!(detail.matches("class=\"key\"").count(), 2);
        assert!(render_detail(&doc(3), 7).is_none());
    }
}
