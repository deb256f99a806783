//! Helpers shared by the unit tests.

use std::path::Path;

use crate::{EventLog, LogConfig, Record};

/// `n` records whose key and payload name `tag` and their index.
pub(crate) fn records(tag: &str, n: usize) -> Vec<Record> {
    (0..n)
        .map(|i| Record::new(format!("wk:{tag}"), format!(r#"{{"tag":"{tag}","i":{i}}}"#)))
        .collect()
}

/// Small segments so rotation and retention happen within a few appends.
pub(crate) fn small_segments() -> LogConfig {
    LogConfig {
        segment_bytes: 1024,
        ..LogConfig::default()
    }
}

pub(crate) fn open(dir: &Path, config: LogConfig) -> EventLog {
    EventLog::open(dir, config).expect("open log")
}

/// Every committed record, read through a fresh in-process reader.
pub(crate) fn read_all(log: &EventLog) -> Vec<(u64, Record)> {
    let mut reader = log.reader();
    let from = log.earliest_offset();
    reader.read(from, usize::MAX, usize::MAX).expect("read all")
}

/// Paths of the segment files in `dir`, oldest first.
pub(crate) fn segment_paths(dir: &Path) -> Vec<std::path::PathBuf> {
    crate::segment::list(dir)
        .expect("list segments")
        .into_iter()
        .map(|s| s.path)
        .collect()
}

/// Drives a future on the current thread with no async runtime at all.
pub(crate) fn block_on<F: std::future::Future>(future: F) -> F::Output {
    use std::sync::Arc;
    use std::task::{Context, Poll, Wake, Waker};

    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        std::thread::park();
    }
}
