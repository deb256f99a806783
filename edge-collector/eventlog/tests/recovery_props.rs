//! Property tests of framing and crash recovery: whatever happens to the
//! unacknowledged tail (cut anywhere, bytes damaged), reopening keeps every
//! acknowledged record intact and hands out the next offsets densely;
//! damage to acknowledged records is reported, never skipped; arbitrary
//! bytes never make the log panic.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::read_to_end;
use footfall_eventlog::{ErrorKind, EventLog, LogConfig, LogReader, Record};
use proptest::prelude::*;
use proptest::sample::Index;

const SEGMENT_HEADER: u64 = 24;
const FRAME_OVERHEAD: u64 = 28;

/// A batch as (key length, payload length) per record.
fn batches() -> impl Strategy<Value = Vec<Vec<(usize, usize)>>> {
    prop::collection::vec(prop::collection::vec((0usize..40, 0usize..600), 1..6), 1..8)
}

fn make_record(offset: u64, key_len: usize, payload_len: usize) -> Record {
    let fill = |len: usize, salt: u64| {
        (0..len)
            .map(|i| b'a' + ((i as u64 + offset * 7 + salt) % 26) as u8)
            .collect::<Vec<_>>()
    };
    Record::new(fill(key_len, 1), fill(payload_len, 2))
}

struct Written {
    records: Vec<Record>,
    /// Byte position of each record's frame; one extra entry for the end.
    positions: Vec<u64>,
    /// The committed-mark file as it was after each batch was acknowledged.
    marks: Vec<(u64, Vec<u8>)>,
    segment: PathBuf,
}

/// Writes the batches to a fresh single-segment log and closes it.
fn write_log(dir: &Path, batches: &[Vec<(usize, usize)>]) -> Written {
    let log = EventLog::open(dir, LogConfig::default()).unwrap();
    let mut records = Vec::new();
    let mut positions = vec![SEGMENT_HEADER];
    let mut marks = vec![(0, fs::read(dir.join("COMMITTED")).unwrap())];
    for batch in batches {
        let batch: Vec<Record> = batch
            .iter()
            .enumerate()
            .map(|(i, &(k, p))| make_record(records.len() as u64 + i as u64, k, p))
            .collect();
        for record in &batch {
            let last = *positions.last().unwrap();
            positions
                .push(last + FRAME_OVERHEAD + (record.key.len() + record.payload.len()) as u64);
        }
        records.extend(batch.iter().cloned());
        let receipt = log.append_blocking(batch).unwrap();
        marks.push((
            receipt.last_offset + 1,
            fs::read(dir.join("COMMITTED")).unwrap(),
        ));
    }
    drop(log);
    let segment = dir.join("00000000000000000000.log");
    assert_eq!(
        fs::metadata(&segment).unwrap().len(),
        *positions.last().unwrap()
    );
    Written {
        records,
        positions,
        marks,
        segment,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn a_damaged_unacknowledged_tail_is_cut_and_acknowledged_records_survive(
        batches in batches(),
        acked in any::<Index>(),
        cut in prop::option::of(any::<Index>()),
        damage in prop::collection::vec((any::<Index>(), 1u8..=255), 0..4),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let written = write_log(dir.path(), &batches);
        // Pretend the crash came after `mark` records were acknowledged.
        let (mark, mark_bytes) = &written.marks[acked.index(written.marks.len())];
        fs::write(dir.path().join("COMMITTED"), mark_bytes).unwrap();
        let tail_start = written.positions[*mark as usize];
        let mut bytes = fs::read(&written.segment).unwrap();
        if let Some(cut) = cut {
            bytes.truncate((tail_start + cut.index((bytes.len() as u64 - tail_start + 1) as usize) as u64) as usize);
        }
        let tail_len = bytes.len() as u64 - tail_start;
        if tail_len > 0 {
            for (at, xor) in &damage {
                bytes[(tail_start + at.index(tail_len as usize) as u64) as usize] ^= xor;
            }
        }
        fs::write(&written.segment, &bytes).unwrap();

        let log = EventLog::open(dir.path(), LogConfig::default()).unwrap();
        let hwm = log.high_watermark();
        prop_assert!(*mark <= hwm && hwm <= written.records.len() as u64);
        let read = read_to_end(&mut log.reader(), 0);
        prop_assert_eq!(read.len() as u64, hwm);
        for (offset, record) in &read {
            prop_assert_eq!(record, &written.records[*offset as usize]);
        }
        let receipt = log.append_blocking(vec![Record::new("k", "next")]).unwrap();
        prop_assert_eq!(receipt.first_offset, hwm);
        drop(log);
        // A second open after recovery finds a clean log.
        let log = EventLog::open(dir.path(), LogConfig::default()).unwrap();
        prop_assert_eq!(log.high_watermark(), hwm + 1);
        prop_assert_eq!(log.stats().recovered_truncated_bytes, 0);
    }

    #[test]
    fn damage_to_an_acknowledged_record_is_reported_with_its_offset(
        batches in batches(),
        at in any::<Index>(),
        xor in 1u8..=255,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let written = write_log(dir.path(), &batches);
        let end = *written.positions.last().unwrap();
        let pos = SEGMENT_HEADER + at.index((end - SEGMENT_HEADER) as usize) as u64;
        let mut bytes = fs::read(&written.segment).unwrap();
        bytes[pos as usize] ^= xor;
        fs::write(&written.segment, &bytes).unwrap();
        let victim = written.positions.partition_point(|&p| p <= pos) as u64 - 1;

        let err = EventLog::open(dir.path(), LogConfig::default()).unwrap_err();
        prop_assert_eq!(err.kind(), &ErrorKind::Corrupt);
        prop_assert_eq!(err.offset(), Some(victim));
        prop_assert_eq!(err.path(), Some(written.segment.as_path()));

        // A reader reports the same record rather than skipping it.
        let mut reader = LogReader::open(dir.path()).unwrap();
        let mut from = 0;
        let err = loop {
            match reader.read(from, 3, usize::MAX) {
                Ok(batch) => {
                    prop_assert!(!batch.is_empty(), "the reader reached the end past damage");
                    from = batch.last().unwrap().0 + 1;
                }
                Err(err) => break err,
            }
        };
        prop_assert_eq!(err.kind(), &ErrorKind::Corrupt);
        prop_assert_eq!(err.offset(), Some(victim));
    }

    #[test]
    fn arbitrary_segment_bytes_never_panic(
        garbage in prop::collection::vec(any::<u8>(), 0..2048),
        keep_header in any::<bool>(),
        mark_after in 0usize..3,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let written = write_log(dir.path(), &[vec![(3, 10)], vec![(3, 10), (0, 0)]]);
        fs::write(dir.path().join("COMMITTED"), &written.marks[mark_after].1).unwrap();
        let mut bytes = if keep_header {
            fs::read(&written.segment).unwrap()[..SEGMENT_HEADER as usize].to_vec()
        } else {
            Vec::new()
        };
        bytes.extend(&garbage);
        fs::write(&written.segment, &bytes).unwrap();

        // Either outcome is fine; a panic or a wrong record is not.
        let mut reader = LogReader::open(dir.path()).unwrap();
        if let Ok(records) = reader.read(0, 100, usize::MAX) {
            for (offset, record) in records {
                prop_assert_eq!(&record, &written.records[offset as usize]);
            }
        }
        if let Ok(log) = EventLog::open(dir.path(), LogConfig::default()) {
            for (offset, record) in read_to_end(&mut log.reader(), 0) {
                prop_assert_eq!(&record, &written.records[offset as usize]);
            }
        }
    }
}
