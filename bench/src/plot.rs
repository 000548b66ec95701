//! `omendb-bench plot`: PNG charts from the suites' JSON files — OmenDB's advantage against scale
//! per operation (one chart per key order and durability setting), and the memory figures.
//! Files of one suite are charted together, so a 10M-row run made on its own joins the
//! smaller scales' lines.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use plotters::prelude::*;

use crate::report::{Group, Report, median};

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
    // Twenty: the embedded suite's charts have up to nineteen lines.
    const COLOURS: [RGBColor; 20] = [
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
        RGBColor(128, 0, 0),
        RGBColor(0, 128, 128),
        RGBColor(197, 176, 213),
        RGBColor(128, 128, 0),
        RGBColor(247, 129, 191),
        RGBColor(102, 102, 255),
    ];
    COLOURS[i % COLOURS.len()]
}

/// A scale as an axis label: whole numbers as such, fractions (TPC-H's 0.1) with their digits.
fn scale_label(x: f64) -> String {
    trimmed(x, if x >= 1.0 { 0 } else { 3 })
}

/// `x` with at most `decimals` decimals, trailing zeros dropped.
fn trimmed(x: f64, decimals: usize) -> String {
    let text = format!("{x:.decimals$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

/// A ratio or measure as an axis label: two decimals at most.
fn measure_label(y: f64) -> String {
    trimmed(y, 2)
}

/// Draws `series` (x: a scale, y: OmenDB's advantage or a measure) on log axes, with the
/// parity line (1×) if `ratios`. Points at or below zero have no place on them and are left out.
fn chart(
    path: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &Series,
    ratios: bool,
) -> Result<(), String> {
    let series: Series = series
        .iter()
        .map(|(name, line)| {
            let mut line: Vec<(f64, f64)> = line.iter().copied().filter(|p| p.1 > 0.0).collect();
            line.sort_by(|a, b| a.0.total_cmp(&b.0));
            (name.clone(), line)
        })
        .collect();
    let points: Vec<(f64, f64)> = series.values().flatten().copied().collect();
    if points.is_empty() {
        return Ok(());
    }
    let (x_min, x_max) = points.iter().fold((f64::MAX, f64::MIN), |(lo, hi), p| {
        (lo.min(p.0), hi.max(p.0))
    });
    // Advantages span 0.05× to 250×, bytes per row 30 to 800: on log axes both ends stay
    // readable (and 2× ahead is as far above parity as 2× behind is below it).
    let (y_min, y_max) = points.iter().fold((f64::MAX, f64::MIN), |(lo, hi), p| {
        (lo.min(p.1), hi.max(p.1))
    });
    let (y_min, y_max) = if ratios {
        // At least 0.5× to 2×, so that a few ratios are marked however close the lines are.
        ((y_min * 0.8).min(0.5), (y_max * 1.25).max(2.0))
    } else {
        (y_min * 0.8, y_max * 1.25)
    };
    let root = BitMapBackend::new(path, (1100, 700)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let mut chart = ChartBuilder::on(&root)
        // Long titles (the server suite's name the peer's full version) in a smaller size.
        .caption(
            title,
            ("sans-serif", if title.len() > 80 { 16 } else { 24 }),
        )
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(64)
        .build_cartesian_2d(
            (x_min * 0.8..x_max * 1.25).log_scale(),
            // Ratios marked at powers of two: 0.5×, 1×, 2×, 4×, …
            (y_min..y_max)
                .log_scale()
                .base(if ratios { 2.0 } else { 10.0 }),
        )
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .x_desc(x_label)
        .y_desc(y_label)
        .x_label_formatter(&|x| scale_label(*x))
        .y_label_formatter(&|y| measure_label(*y))
        .label_style(("sans-serif", 14))
        .draw()
        .map_err(|e| e.to_string())?;
    if ratios {
        // Parity: above the line OmenDB is ahead.
        chart
            .draw_series(LineSeries::new(
                vec![(x_min * 0.8, 1.0), (x_max * 1.25, 1.0)],
                BLACK.mix(0.4),
            ))
            .map_err(|e| e.to_string())?;
    }
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

/// The groups of the reports by suite, the last file's group where two files hold the same
/// configuration (a re-run replaces its earlier figures).
fn by_suite(reports: &[Report]) -> BTreeMap<&str, Vec<&Group>> {
    let mut suites: BTreeMap<&str, Vec<&Group>> = BTreeMap::new();
    for report in reports {
        let groups = suites.entry(report.suite.as_str()).or_default();
        for group in &report.groups {
            groups.retain(|g| g.params != group.params);
            groups.push(group);
        }
    }
    suites
}

/// Writes the charts of every report into `out`; the files written.
pub fn plot(reports: &[Report], out: &Path) -> Result<Vec<PathBuf>, String> {
    register_font()?;
    std::fs::create_dir_all(out).map_err(|e| e.to_string())?;
    let mut written = Vec::new();
    for (suite, groups) in by_suite(reports) {
        // Charts by everything but the scale; lines by operation.
        let scale_key = match suite {
            "embedded" => "rows",
            "alex" => "keys",
            "tpch" => "sf",
            _ => "clients",
        };
        let mut charts: BTreeMap<String, (Series, String)> = BTreeMap::new();
        for group in &groups {
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
            let path = out.join(format!("{}.png", file_name(suite, setting)));
            // A setting that only names the peer (the TPC-H suite's) adds nothing to the title.
            let title = if setting.is_empty() || *setting == format!("peer {peer}") {
                format!("{suite}: OmenDB vs {peer}")
            } else {
                format!("{suite}: OmenDB vs {peer} ({setting})")
            };
            chart(
                &path,
                &title,
                scale_key,
                &format!("OmenDB advantage (× {peer})"),
                series,
                true,
            )?;
            written.push(path);
        }
        // Latency distributions: each contender's percentiles against the scale, per setting.
        let mut latency: BTreeMap<String, Series> = BTreeMap::new();
        for group in &groups {
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
                file_name(&format!("{suite}-latency"), setting)
            ));
            let title = format!("{suite}: latency percentiles, ms ({setting})");
            chart(
                &path,
                &title,
                scale_key,
                "milliseconds (median of runs)",
                series,
                false,
            )?;
            written.push(path);
        }
        // The raw medians of memory-like figures, per contender, as a second view.
        let mut memory = Series::new();
        for group in &groups {
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
            let path = out.join(format!("{suite}-bytes.png"));
            chart(
                &path,
                &format!("{suite}: bytes per key or row"),
                scale_key,
                "bytes",
                &memory,
                false,
            )?;
            written.push(path);
        }
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::{by_suite, measure_label, scale_label};
    use crate::report::{Group, Machine, Report};

    fn report(suite: &str, runs: &[(u64, &str)]) -> Report {
        let groups = runs
            .iter()
            .map(|&(rows, title)| Group {
                title: title.into(),
                params: [("rows".to_string(), rows.into())].into_iter().collect(),
                contenders: ["OmenDB".into(), "SQLite".into()],
                operations: Vec::new(),
            })
            .collect();
        Report {
            suite: suite.into(),
            command: String::new(),
            machine: Machine::this(),
            groups,
        }
    }

    /// Runs of one suite at other scales join its charts; a configuration run twice keeps
    /// the later file's figures; other suites stay apart.
    #[test]
    fn files_of_one_suite_are_charted_together() {
        let small = report("embedded", &[(10_000, "10K"), (1_000_000, "1M, first")]);
        let large = report("embedded", &[(1_000_000, "1M, again"), (10_000_000, "10M")]);
        let alex = report("alex", &[(1_000_000, "alex 1M")]);
        let reports = [small, large, alex];
        let suites = by_suite(&reports);
        let titles = |suite: &str| -> Vec<String> {
            suites[suite].iter().map(|g| g.title.clone()).collect()
        };
        assert_eq!(titles("embedded"), ["10K", "1M, again", "10M"]);
        assert_eq!(titles("alex"), ["alex 1M"]);
    }

    #[test]
    fn scale_labels_keep_fractions() {
        assert_eq!(scale_label(0.1), "0.1");
        assert_eq!(scale_label(0.25), "0.25");
        assert_eq!(scale_label(1.0), "1");
        assert_eq!(scale_label(1_000_000.0), "1000000");
        assert_eq!(measure_label(1.414), "1.41");
        assert_eq!(measure_label(128.0), "128");
        assert_eq!(measure_label(0.5), "0.5");
    }
}
