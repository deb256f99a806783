//! Helpers shared by the integration tests: a client on a fake clock and in-memory storage.
#![allow(dead_code)]

use footfall_core::{
    Action, BatchRequest, Client, Config, ManualClock, MemoryStorage, UploadOutcome,
};
use footfall_protocol::{Batch, Message};

pub const T0: i64 = 1_795_000_000_000;

pub type TestClient = Client<MemoryStorage, ManualClock>;

pub struct Fixture {
    pub client: TestClient,
    pub clock: ManualClock,
    pub storage: MemoryStorage,
}

pub fn fixture() -> Fixture {
    fixture_with(Config::new("wk_test"))
}

pub fn fixture_with(config: Config) -> Fixture {
    let clock = ManualClock::new(T0);
    let storage = MemoryStorage::new();
    let client = Client::new(config, storage.clone(), clock.clone(), 7).unwrap();
    Fixture {
        client,
        clock,
        storage,
    }
}

impl Fixture {
    /// Restarts the client over the same storage, as after a crash.
    pub fn restart(&mut self, config: Config) {
        self.client = Client::new(config, self.storage.clone(), self.clock.clone(), 8).unwrap();
    }

    pub fn now(&self) -> i64 {
        use footfall_core::Clock;
        self.clock.now()
    }

    pub fn action(&mut self) -> Action {
        let now = self.now();
        self.client.next_action(now).unwrap()
    }

    /// Flushes and expects an upload.
    pub fn upload(&mut self) -> BatchRequest {
        self.client.flush();
        match self.action() {
            Action::Upload(request) => request,
            other => panic!("expected an upload, got {other:?}"),
        }
    }

    pub fn answer(
        &mut self,
        request: &BatchRequest,
        status: u16,
        retry_after: Option<&str>,
        body: &str,
    ) -> footfall_core::UploadReport {
        self.client
            .on_upload_result(
                request.batch_id,
                UploadOutcome::response(status, retry_after, body),
            )
            .unwrap()
    }
}

pub fn messages(request: &BatchRequest) -> Vec<Message> {
    let batch: Batch = serde_json::from_str(&request.body).expect("the body is a Segment batch");
    batch.batch
}

pub const OK: &str = r#"{"success":true}"#;
