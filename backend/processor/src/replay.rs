//! Dead-letter replay and time-range reprocessing.
//!
//! * [`replay_dead_letter`]: once the cause is fixed (a schema relaxed, a client repaired), a
//!   dead letter's raw payload goes through the same parsing and storage as a new event; on
//!   success it is marked replayed. Replaying twice stores nothing new (the messageId is kept, or
//!   the dead letter's id stands in for a missing one).
//! * [`reprocess`]: deletes a project's events in `[from, to)` and reads the whole events log
//!   again, storing the events of that range, then recomputes the sessions of their persons.

use std::path::Path;

use footfall_eventlog::LogReader;

use crate::parse::{parse_event, Fallback};
use crate::processor::{BatchReport, Processor};
use crate::{Error, Result};

/// Replays one dead letter.
pub fn replay_dead_letter(processor: &mut Processor, id: &str, now_ms: i64) -> Result<BatchReport> {
    let store = processor.store().clone();
    let dl = store
        .dead_letter(id)?
        .ok_or_else(|| Error::Invalid(format!("no dead letter {id:?}")))?;
    let fallback = Fallback {
        project_id: dl.project_id.clone(),
        received_ms: dl.received_ms,
        message_id: dl.id.clone(),
    };
    let parsed = parse_event(dl.payload.as_bytes(), Some(&fallback))
        .map_err(|reason| Error::Invalid(format!("dead letter {id} is still invalid: {reason}")))?;
    let mut report = BatchReport {
        records: 1,
        ..Default::default()
    };
    processor.write(vec![(0, parsed)], Vec::new(), true, &mut report)?;
    store.mark_replayed(id, now_ms)?;
    Ok(report)
}

/// Reprocesses `[from_ms, to_ms)` of `project` from the events log in `events_dir`.
pub fn reprocess(
    processor: &mut Processor,
    events_dir: &Path,
    project: &str,
    from_ms: i64,
    to_ms: i64,
) -> Result<BatchReport> {
    if to_ms <= from_ms {
        return Err(Error::Invalid("--to must be after --from".into()));
    }
    let mut reader = LogReader::open(events_dir)?;
    let store = processor.store().clone();
    store.delete_events(project, from_ms, to_ms)?;
    let mut report = BatchReport::default();
    let mut offset = reader.earliest_offset()?;
    loop {
        let records = reader.read(offset, 5000, 16 << 20)?;
        let Some((last, _)) = records.last() else {
            break;
        };
        offset = last + 1;
        report.records += records.len();
        let batch: Vec<_> = records
            .into_iter()
            .filter_map(|(o, r)| parse_event(&r.payload, None).ok().map(|p| (o, p)))
            .filter(|(_, p)| {
                p.row.project_id == project && p.row.ts_ms >= from_ms && p.row.ts_ms < to_ms
            })
            .collect();
        if !batch.is_empty() {
            processor.write(batch, Vec::new(), false, &mut report)?;
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use footfall_eventlog::{EventLog, LogConfig, Record};
    use footfall_store::{DeadLetterRow, DuckStore, Store};

    use super::*;

    #[test]
    fn a_fixed_dead_letter_replays_once() {
        let store = Arc::new(DuckStore::open_in_memory().unwrap());
        let mut p = Processor::new(store.clone()).unwrap();
        store
            .insert_dead_letters(&[DeadLetterRow {
                id: "dl-3".into(),
                project_id: "shop".into(),
                received_ms: 1000,
                cause: "schema".into(),
                reason: "price: must be a number".into(),
                payload: r#"{"type":"track","event":"Buy","anonymousId":"a","messageId":"m9"}"#
                    .into(),
                replayed_ms: 0,
            }])
            .unwrap();
        assert_eq!(replay_dead_letter(&mut p, "dl-3", 5).unwrap().stored, 1);
        assert_eq!(replay_dead_letter(&mut p, "dl-3", 6).unwrap().stored, 0);
        assert!(store.dead_letters(10, false).unwrap().is_empty());
        assert!(matches!(
            replay_dead_letter(&mut p, "nope", 5),
            Err(Error::Invalid(_))
        ));
    }

    #[test]
    fn reprocessing_restores_a_range() {
        let dir = tempfile::tempdir().unwrap();
        let log = EventLog::open(dir.path(), LogConfig::default()).unwrap();
        let ev = |id: &str, ts: &str| {
            Record::new(
                "k",
                format!(
                    r#"{{"type":"track","event":"View","anonymousId":"a","messageId":"{id}","timestamp":"{ts}","receivedAt":"{ts}","context":{{"footfall":{{"projectId":"shop"}}}}}}"#
                ),
            )
        };
        log.append_blocking(vec![
            ev("m1", "2026-11-23T10:00:00.000Z"),
            ev("m2", "2026-11-24T10:00:00.000Z"),
        ])
        .unwrap();
        let store = Arc::new(DuckStore::open_in_memory().unwrap());
        let mut p = Processor::new(store.clone()).unwrap();
        let from = footfall_store::query::parse_rfc3339_ms("2026-11-23T00:00:00Z").unwrap();
        let r = reprocess(&mut p, dir.path(), "shop", from, from + 86_400_000).unwrap();
        assert_eq!((r.records, r.stored), (2, 1));
        let r = reprocess(&mut p, dir.path(), "shop", from, from + 86_400_000).unwrap();
        assert_eq!(r.stored, 1);
        assert_eq!(
            store
                .session_inputs_of_ids("shop", &["a".into()], None)
                .unwrap()
                .len(),
            1
        );
    }
}
