//! `omendb-bench plot`: PNG charts from the suites' JSON files — OmenDB's advantage against scale
//! per operation (one chart per key order and durability setting), and the memory figures.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use plotters::prelude::*;

use crate::report::{Report, median};

/// Registers a TrueType font for chart text (plotters draws text with ab_glyph, in pure Rust).
fn register_font() -> Result<(), String> {
    const CANDIDATES: [&str; 3] = [
        "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
        "/usr/share/fonts/TTF/DejaVuSans.ttf",
        "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    ];
    let bytes = CANDIDATES
        .iter()
        .find_map(|p| std::fs::read(p).ok())
        .ok_or("no DejaVuSans.ttf found (Debian: apt-get install fonts-dejavu-core)")?;
    let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
    plotters::style::register_font("sans-serif", FontStyle::Normal, bytes)
        .map_err(|_| "the font could not be read".to_string())
}

/// One line of a chart: an operation's advantage at each scale.
type Series = BTreeMap<String, Vec<(f64, f64)>>;

fn palette(i: usize) -> RGBColor {
    const COLOURS: [RGBColor; 14] = [
        RGBColor(31, 119, 180),
        RGBColor(255, 127, 14),
        RGBColor(44, 160, 44),
        RGBColor(214, 39, 40),
        RGBColor(148, 103, 189),
        RGBColor(140, 86, 75),
        RGBColor(227, 119, 194),
        RGBColor(127, 127, 127),
        RGBColor(188, 189, 34),
        RGBColor(23, 190, 207),
        RGBColor(0, 0, 0),
        RGBColor(255, 187, 120),
        RGBColor(152, 223, 138),
        RGBColor(0, 0, 128),
    ];
    COLOURS[i % COLOURS.len()]
}

/// A scale as an axis label: whole numbers as such, fractions (TPC-H's 0.1) with their digits.
fn scale_label(x: f64) -> String {
    if x >= 1.0 {
        format!("{x:.0}")
    } else {
        let text = format!("{x:.3}");
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// Draws `series` (x: a scale, y: OmenDB's advantage) with a log x axis.
fn chart(
    path: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &Series,
) -> Result<(), String> {
    let points: Vec<(f64, f64)> = series.values().flatten().copied().collect();
    if points.is_empty() {
        return Ok(());
    }
    let (x_min, x_max) = points.iter().fold((f64::MAX, f64::MIN), |(lo, hi), p| {
        (lo.min(p.0), hi.max(p.0))
    });
    let y_max = points.iter().map(|p| p.1).fold(1.0f64, f64::max) * 1.15;
    let root = BitMapBackend::new(path, (1100, 700)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 24))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(64)
        .build_cartesian_2d((x_min * 0.8..x_max * 1.25).log_scale(), 0.0..y_max)
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .x_desc(x_label)
        .y_desc(y_label)
        .x_label_formatter(&|x| scale_label(*x))
        .label_style(("sans-serif", 14))
        .draw()
        .map_err(|e| e.to_string())?;
    // Parity: above the line OmenDB is ahead.
    chart
        .draw_series(LineSeries::new(
            vec![(x_min * 0.8, 1.0), (x_max * 1.25, 1.0)],
            BLACK.mix(0.4),
        ))
        .map_err(|e| e.to_string())?;
    for (i, (name, line)) in series.iter().enumerate() {
        let colour = palette(i);
        chart
            .draw_series(LineSeries::new(
                line.iter().copied(),
                colour.stroke_width(2),
            ))
            .map_err(|e| e.to_string())?
            .label(name.clone())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(2))
            });
        chart
            .draw_series(line.iter().map(|&p| Circle::new(p, 4, colour.filled())))
            .map_err(|e| e.to_string())?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .label_font(("sans-serif", 13))
        .draw()
        .map_err(|e| e.to_string())?;
    root.present().map_err(|e| e.to_string())
}

fn scale(group: &crate::report::Group, key: &str) -> Option<f64> {
    group.params.get(key).and_then(serde_json::Value::as_f64)
}

/// A group's parameters other than the scale, as `name value, …`: what one chart is about.
/// Only scalar ones: structured ones (the TPC-H suite's engines and load times) describe a run
/// rather than set it.
fn setting(group: &crate::report::Group, scale_key: &str) -> String {
    group
        .params
        .iter()
        .filter(|(k, v)| *k != scale_key && !(v.is_object() || v.is_array()))
        .map(|(k, _)| k)
        .map(|k| format!("{k} {}", param_text(group, k)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `prefix-the-setting-in-lowercase-words`.
fn file_name(prefix: &str, setting: &str) -> String {
    let words: Vec<String> = setting
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_lowercase)
        .collect();
    if words.is_empty() {
        prefix.to_string()
    } else {
        format!("{prefix}-{}", words.join("-"))
    }
}

fn param_text(group: &crate::report::Group, name: &str) -> String {
    match group.params.get(name) {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => String::new(),
    }
}

/// Writes the charts of every report into `out`; the files written.
pub fn plot(reports: &[Report], out: &Path) -> Result<Vec<PathBuf>, String> {
    register_font()?;
    std::fs::create_dir_all(out).map_err(|e| e.to_string())?;
    let mut written = Vec::new();
    for report in reports {
        // Charts by everything but the scale; lines by operation.
        let scale_key = match report.suite.as_str() {
            "embedded" => "rows",
            "alex" => "keys",
            "tpch" => "sf",
            _ => "clients",
        };
        let mut charts: BTreeMap<String, (Series, String)> = BTreeMap::new();
        for group in &report.groups {
            let Some(x) = scale(group, scale_key) else {
                continue;
            };
            let entry = charts
                .entry(setting(group, scale_key))
                .or_insert_with(|| (Series::new(), group.contenders[1].clone()));
            for op in &group.operations {
                if op.samples.iter().all(|s| !s.is_empty()) {
                    entry
                        .0
                        .entry(op.name.clone())
                        .or_default()
                        .push((x, op.advantage()));
                }
            }
        }
        for (setting, (series, peer)) in &charts {
            let path = out.join(format!("{}.png", file_name(&report.suite, setting)));
            // A setting that only names the peer (the TPC-H suite's) adds nothing to the title.
            let title = if setting.is_empty() || *setting == format!("peer {peer}") {
                format!("{}: OmenDB vs {peer}", report.suite)
            } else {
                format!("{}: OmenDB vs {peer} ({setting})", report.suite)
            };
            chart(
                &path,
                &title,
                scale_key,
                &format!("OmenDB advantage (× {peer})"),
                series,
            )?;
            written.push(path);
        }
        // Latency distributions: each contender's percentiles against the scale, per setting.
        let mut latency: BTreeMap<String, Series> = BTreeMap::new();
        for group in &report.groups {
            let Some(x) = scale(group, scale_key) else {
                continue;
            };
            let lines = latency.entry(setting(group, scale_key)).or_default();
            for op in group.operations.iter().filter(|o| o.unit == "ms") {
                for (side, name) in group.contenders.iter().enumerate() {
                    let label = format!("{name}: {}", op.name);
                    lines
                        .entry(label)
                        .or_default()
                        .push((x, median(&op.samples[side])));
                }
            }
        }
        for (setting, series) in latency.iter().filter(|(_, s)| !s.is_empty()) {
            let path = out.join(format!(
                "{}.png",
                file_name(&format!("{}-latency", report.suite), setting)
            ));
            let title = format!("{}: latency percentiles, ms ({setting})", report.suite);
            chart(
                &path,
                &title,
                scale_key,
                "milliseconds (median of runs)",
                series,
            )?;
            written.push(path);
        }
        // The raw medians of memory-like figures, per contender, as a second view.
        let mut memory = Series::new();
        for group in &report.groups {
            let Some(x) = scale(group, scale_key) else {
                continue;
            };
            for op in group
                .operations
                .iter()
                .filter(|o| o.unit.starts_with("bytes"))
            {
                for (side, name) in group.contenders.iter().enumerate() {
                    let label = format!("{name}: {}", op.name);
                    memory
                        .entry(label)
                        .or_default()
                        .push((x, median(&op.samples[side])));
                }
            }
        }
        if !memory.is_empty() {
            let path = out.join(format!("{}-bytes.png", report.suite));
            chart(
                &path,
                &format!("{}: bytes per key or row", report.suite),
                scale_key,
                "bytes",
                &memory,
            )?;
            written.push(path);
        }
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::scale_label;

    #[test]
    fn scale_labels_keep_fractions() {
        assert_eq!(scale_label(0.1), "0.1");
        assert_eq!(scale_label(0.25), "0.25");
        assert_eq!(scale_label(1.0), "1");
        assert_eq!(scale_label(1_000_000.0), "1000000");
    }
}
