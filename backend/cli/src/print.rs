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
        // Through as_i64: a serde_json::Value ignores width and alignment when displayed.
        let _ = writeln!(
            out,
            "{:<4} {:<20} {:>8} {:>9.1}% {:>9.1}% {:>9} {:>14}",
            s["step"].as_i64().unwrap_or(0),
            s["event"].as_str().unwrap_or(""),
            s["count"].as_i64().unwrap_or(0),
            s["conversion"].as_f64().unwrap_or(0.0) * 100.0,
            s["conversion_from_previous"].as_f64().unwrap_or(0.0) * 100.0,
            s["dropoff"].as_i64().unwrap_or(0),
            median
        );
    }
    out
}

/// A retention answer (the API's JSON) as a grid of percentages. Cells of periods that start after
/// `now_ms` are left blank: the API counts them as 0 returns, which would read as 0 % retention.
pub fn retention_table(r: &Value, now_ms: i64) -> String {
    let width = match r["interval"].as_str() {
        Some("week") => 7 * 86_400_000,
        _ => 86_400_000,
    };
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
        let cohort_ms = c["period_ms"].as_i64().unwrap_or(0);
        for (k, v) in c["returned"].as_array().into_iter().flatten().enumerate() {
            let n = v.as_i64().unwrap_or(0);
            let cell = if cohort_ms + k as i64 * width > now_ms {
                String::new()
            } else if size == 0 {
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
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(
            lines[0].find("persons").map(|i| i + "persons".len()),
            lines[2].find(" 4 ").map(|i| i + 2),
            "counts right-aligned under their header:\n{t}"
        );
        let day = 86_400_000;
        let r = json!({"interval": "day", "cohorts": [{"period_ms": 0, "period": "1970-01-01T00:00:00.000Z", "size": 4, "returned": [4, 1, 0]}]});
        let t = retention_table(&r, day);
        assert!(
            t.contains("1970-01-01") && t.contains("100%") && t.contains("25%"),
            "{t}"
        );
        assert!(
            t.lines().nth(1).unwrap().trim_end().ends_with("25%"),
            "the period after now is blank, not 0%:\n{t}"
        );
        assert!(retention_table(&r, 2 * day).contains(" 0%"));
    }
}
