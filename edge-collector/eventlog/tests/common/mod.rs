//! Helpers shared by the integration tests.
#![allow(dead_code)] // Each test file uses its own subset.

use std::time::Duration;

use footfall_eventlog::{LogConfig, LogReader, Record};

/// The record a producer appends as its `seq`-th: the payload names both,
/// and its length varies (30..~1000 bytes) so frames straddle pages and
/// buffer boundaries in every way.
pub fn record(producer: &str, seq: u64) -> Record {
    let head = format!(r#"{{"producer":"{producer}","seq":{seq},"pad":""#);
    let pad = (seq.wrapping_mul(7919) % 971) as usize;
    let payload = format!("{head}{}\"}}", "x".repeat(pad));
    Record::new(format!("wk_test:{producer}"), payload)
}

/// `(producer, seq)` back from a record made by [`record`].
pub fn parse(record: &Record) -> (String, u64) {
    let text = std::str::from_utf8(&record.payload).expect("utf-8 payload");
    let producer = text
        .split(r#""producer":""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("producer");
    let seq = text
        .split(r#""seq":"#)
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .and_then(|n| n.parse().ok())
        .expect("seq");
    (producer.to_owned(), seq)
}

/// Segments small enough that tests rotate through several of them.
pub fn rotating_config() -> LogConfig {
    let mut config = LogConfig::default();
    config.segment_bytes = 256 * 1024;
    config
}

/// Reads everything from `from` up to the current high watermark.
pub fn read_to_end(reader: &mut LogReader, mut from: u64) -> Vec<(u64, Record)> {
    let mut out = Vec::new();
    loop {
        let batch = reader.read(from, 1000, 1 << 20).expect("read");
        let Some((last, _)) = batch.last() else {
            return out;
        };
        from = last + 1;
        out.extend(batch);
    }
}

pub const PATIENCE: Duration = Duration::from_secs(60);
