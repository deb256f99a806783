//! Plain-text tables for funnels and retention grids.

use std::fmt::Write as _;

use serde_json::Value;

/// A funnel answer (the API's JSON) as a table.
pub fn funnel_table(f: &Value) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<4} {:<20} {:>8} {:>10} {:>10} {:>9} {:>14}",
        "step", "event", "persons", "conversion", "from prev", "drop-off", "median (prev)"
    );
    for s in f["total"].as_array().into_iter().flatten() {
        let median = s["median_ms_from_previous"]
            .as_i64()
            .map_or_else(|| "-".to_owned(), human_ms);
        let _ = writeln!(
            out,
            "{:<4} {:<20} {:>8} {:>9.1}% {:>9.1}% {:>9} {:>14}",
            s["step"],
            s["event"].as_str().unwrap_or(""),
            s["count"],
            s["conversion"].as_f64().unwrap_or(0.0) * 100.0,
            s["conversion_from_previous"].as_f64().unwrap_or(0.0) * 100.0,
            s["dropoff"],
            median
        );
    }
    out
}

/// A retention answer (the API's JSON) as a grid of percentages.
pub fn retention_table(r: &Value) -> String {
    let mut out = String::new();
    let cohorts = r["cohorts"].as_array().cloned().unwrap_or_default();
    let periods = cohorts
        .first()
        .and_then(|c| c["returned"].as_array())
        .map_or(0, Vec::len);
    let _ = write!(out, "{:<12} {:>6}", "cohort", "size");
    for k in 0..periods {
        let _ = write!(out, " {:>6}", format!("+{k}"));
    }
    out.push('\n');
    for c in cohorts {
        let size = c["size"].as_i64().unwrap_or(0);
        let _ = write!(
            out,
            "{:<12} {:>6}",
            &c["period"].as_str().unwrap_or("")[..10.min(c["period"].as_str().unwrap_or("").len())],
            size
        );
        for v in c["returned"].as_array().into_iter().flatten() {
            let n = v.as_i64().unwrap_or(0);
            let cell = if size == 0 {
                "-".to_owned()
            } else {
                format!("{:.0}%", n as f64 * 100.0 / size as f64)
            };
            let _ = write!(out, " {cell:>6}");
        }
        out.push('\n');
    }
    out
}

/// `1h 2m`, `3m 4s`, `5s`.
pub fn human_ms(ms: i64) -> String {
    let s = ms / 1000;
    if s >= 3600 {
        format!("{}h {}m", s / 3600, s / 60 % 60)
    } else if s >= 60 {
        format!("{}m {}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tables_render() {
        let f = json!({"total": [{"step": 1, "event": "View", "count": 10, "conversion": 1.0, "conversion_from_previous": 1.0, "dropoff": 0, "median_ms_from_previous": null},
                                  {"step": 2, "event": "Buy", "count": 4, "conversion": 0.4, "conversion_from_previous": 0.4, "dropoff": 6, "median_ms_from_previous": 65000}]});
        let t = funnel_table(&f);
        assert!(
            t.contains("Buy") && t.contains("40.0%") && t.contains("1m 5s"),
            "{t}"
        );
        let r = json!({"cohorts": [{"period": "2026-11-02T00:00:00.000Z", "size": 4, "returned": [4, 1]}]});
        let t = retention_table(&r);
        assert!(
            t.contains("2026-11-02") && t.contains("100%") && t.contains("25%"),
            "{t}"
        );
    }
}
