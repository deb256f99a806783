//! The traffic `footfall-loadgen` sends, as a library so that benchmarks of the collector's parts
//! (`cargo bench -p footfall-ingest`) measure the same batches as the load generator.
//!
//! A batch is 50 (by default) events of about 300 bytes for random users out of `users`: 70 % track,
//! 20 % page, 10 % identify; a third of the users are on the web (with a browser user agent), the
//! rest come through server libraries, so one batch mixes many users, as a server library's does.

const USER_AGENTS: [&str; 3] = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Safari/605.1.15",
];
const EVENTS: [&str; 5] = [
    "Product Viewed",
    "Product Added",
    "Checkout Started",
    "Order Completed",
    "Signed Up",
];
const PAGES: [&str; 4] = ["/", "/pricing", "/docs/getting-started", "/blog/journeys"];

fn uuid(rng: &mut fastrand::Rng) -> String {
    let b = rng.u128(..);
    let h = format!("{b:032x}");
    format!(
        "{}-{}-4{}-a{}-{}",
        &h[0..8],
        &h[8..12],
        &h[13..16],
        &h[17..20],
        &h[20..32]
    )
}

/// One event of about 300 bytes: 70 % track, 20 % page, 10 % identify.
pub fn event(rng: &mut fastrand::Rng, users: u64, now_ms: i64) -> serde_json::Value {
    let user = rng.u64(0..users);
    let anonymous_id = format!("anon-{user:08x}");
    let timestamp = footfall_protocol::format_rfc3339_millis(now_ms - rng.i64(0..5_000));
    let ua = USER_AGENTS[(user / 3 % 3) as usize];
    // A third of the users are on the web (with a user agent), the rest come through server libraries.
    let context = if user % 3 == 0 {
        serde_json::json!({"library": {"name": "analytics.js", "version": "1.70.0"}, "userAgent": ua})
    } else {
        serde_json::json!({"library": {"name": "analytics-python", "version": "2.4.0"}})
    };
    let mut e = match rng.u8(0..10) {
        0..=6 => serde_json::json!({"type": "track", "event": EVENTS[rng.usize(0..EVENTS.len())],
            "properties": {"product_id": format!("p-{}", rng.u32(0..5000)), "price": rng.u32(100..20000) as f64 / 100.0}}),
        7 | 8 => serde_json::json!({"type": "page", "name": "Page",
            "properties": {"path": PAGES[rng.usize(0..PAGES.len())]}}),
        _ => {
            serde_json::json!({"type": "identify", "userId": format!("user-{user}"), "traits": {"plan": "pro"}})
        }
    };
    let m = e.as_object_mut().expect("an object");
    m.insert("anonymousId".into(), anonymous_id.into());
    m.insert("messageId".into(), uuid(rng).into());
    m.insert("timestamp".into(), timestamp.into());
    m.insert("context".into(), context);
    e
}

/// A `POST /v1/batch` body of `batch_size` events with a `sentAt` of `now_ms`.
pub fn batch_body(rng: &mut fastrand::Rng, batch_size: usize, users: u64, now_ms: i64) -> Vec<u8> {
    let batch: Vec<_> = (0..batch_size).map(|_| event(rng, users, now_ms)).collect();
    let sent_at = footfall_protocol::format_rfc3339_millis(now_ms);
    serde_json::to_vec(&serde_json::json!({"batch": batch, "sentAt": sent_at})).expect("json")
}

/// When a paced run's connections send, relative to each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Arrivals {
    /// The connections' first requests are spread across one interval, so requests reach the server
    /// evenly, as many independent clients' do.
    #[default]
    Even,
    /// Every connection sends at the same instant each interval: a synchronized burst of
    /// `connections × batch size` events, a harsher load than independent clients make.
    Burst,
}

/// How long after the start a paced connection sends its first request; later ones follow every
/// `interval`.
pub fn first_due(
    arrivals: Arrivals,
    interval: std::time::Duration,
    connection: usize,
    connections: usize,
) -> std::time::Duration {
    match arrivals {
        Arrivals::Burst => std::time::Duration::ZERO,
        Arrivals::Even => interval.mul_f64(connection as f64 / connections.max(1) as f64),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn even_arrivals_spread_the_connections_over_one_interval() {
        let interval = Duration::from_millis(10);
        let starts: Vec<_> = (0..4)
            .map(|c| first_due(Arrivals::Even, interval, c, 4))
            .collect();
        assert_eq!(
            starts,
            [0, 2_500, 5_000, 7_500].map(Duration::from_micros).to_vec()
        );
    }

    #[test]
    fn burst_arrivals_start_every_connection_at_once() {
        let interval = Duration::from_millis(10);
        assert!((0..4).all(|c| first_due(Arrivals::Burst, interval, c, 4).is_zero()));
    }

    #[test]
    fn a_batch_holds_the_requested_number_of_events_and_a_sent_at() {
        let mut rng = fastrand::Rng::with_seed(1);
        let body: serde_json::Value =
            serde_json::from_slice(&batch_body(&mut rng, 50, 100, 1_700_000_000_000)).unwrap();
        assert_eq!(body["batch"].as_array().unwrap().len(), 50);
        assert_eq!(body["sentAt"], "2023-11-14T22:13:20.000Z");
    }
}
