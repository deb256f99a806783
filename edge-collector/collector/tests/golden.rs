//! Golden replay: request bodies shaped like the four real clients in `shared/notes/real-clients.md`,
//! and analytics-java's batch (its shape from its source), in `tests/fixtures/real_clients.jsonl`,
//! replayed through `router()`. Each line holds the request and what must come out: the status, the
//! per-event statuses, and fields the stored events and dead letters must contain (a subset match:
//! extra fields are allowed).

mod common;

use axum::body::Body;
use common::*;
use serde_json::Value;

/// Whether every field of `expected` is in `actual` with the same value, recursively for objects.
fn contains(actual: &Value, expected: &Value) -> bool {
    match (actual, expected) {
        (Value::Object(a), Value::Object(e)) => e
            .iter()
            .all(|(k, v)| a.get(k).is_some_and(|av| contains(av, v))),
        _ => actual == expected,
    }
}

#[tokio::test]
async fn real_client_requests_are_accepted_unchanged() {
    let fixtures = include_str!("fixtures/real_clients.jsonl");
    let mut replayed = 0;
    for line in fixtures.lines().filter(|l| !l.trim().is_empty()) {
        let case: Value = serde_json::from_str(line).unwrap();
        let client = case["client"].as_str().unwrap();
        let (app, sink) = app_with(config());
        let body = serde_json::to_vec(&case["body"]).unwrap();
        let body = if case["gzip"] == true {
            gzip(&body)
        } else {
            body
        };
        let mut request = post(case["path"].as_str().unwrap());
        for (name, value) in case["headers"].as_object().unwrap() {
            if name != "authorization" {
                request = request.header(name.as_str(), value.as_str().unwrap());
            }
        }
        let response = send(&app, request.body(Body::from(body)).unwrap()).await;
        let expect = &case["expect"];
        assert_eq!(
            response.status().as_u16(),
            expect["status"].as_u64().unwrap() as u16,
            "{client}"
        );
        let answer = json(response).await;
        let statuses: Vec<&str> = answer["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["status"].as_str().unwrap())
            .collect();
        let expected: Vec<&str> = expect["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap())
            .collect();
        assert_eq!(statuses, expected, "{client}: {answer}");

        let stored = events(&sink);
        for (i, want) in expect["stored"].as_array().unwrap().iter().enumerate() {
            assert!(
                contains(&stored[i], want),
                "{client}: event {i}\n got {}\nwant {want}",
                stored[i]
            );
        }
        let letters = dead_letters(&sink);
        for (i, want) in expect
            .get("dead_letters")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            assert!(
                contains(&letters[i], want),
                "{client}: dead letter {i}\n got {}\nwant {want}",
                letters[i]
            );
        }
        replayed += 1;
    }
    assert_eq!(replayed, 6);
}
