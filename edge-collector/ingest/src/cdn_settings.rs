//! The source settings Segment's SDKs load before they send anything, served by the collector so
//! that switching an app to Footfall is one setting: analytics.js (`@segment/analytics-next`) asks
//! `${cdnURL}/v1/projects/<writeKey>/settings`, and analytics-swift and analytics-kotlin ask
//! `https://${cdnHost}/projects/<writeKey>/settings` (`cdnHost` ending in `/v1`).
//!
//! What the answer holds, and why:
//! * `integrations["Segment.io"]`: `apiKey`, and `apiHost` and `protocol` naming this collector, which
//!   the SDKs send events to; no other integration, so no device-mode destination bundle is fetched
//!   from Segment's CDN;
//! * `metrics.sampleRate: 0`: analytics.js otherwise reports its own telemetry to `api.segment.io`,
//!   at a sample rate of 1 by default, which a team leaving Segment does not want;
//! * the empty `plan`, `edgeFunction`, `middlewareSettings`, `enabledMiddleware` and `remotePlugins`
//!   that strict decoders (analytics-kotlin's) expect.

use serde_json::{json, Value};

/// The settings for `write_key`, whose events go to `protocol://api_host/…`; `api_host` is a host
/// (and port) with the API's path, e.g. `collector.example.com/v1`.
pub fn cdn_settings(write_key: &str, api_host: &str, protocol: &str) -> Value {
    json!({
        "integrations": {
            "Segment.io": {
                "apiKey": write_key,
                "apiHost": api_host,
                "protocol": protocol,
                "unbundledIntegrations": [],
                "addBundledMetadata": true,
                "maybeBundledConfigIds": {},
                "versionSettings": {"componentTypes": []}
            }
        },
        "plan": {},
        "edgeFunction": {},
        "analyticsNextEnabled": true,
        "middlewareSettings": {},
        "enabledMiddleware": {},
        "metrics": {"sampleRate": 0},
        "legacyVideoPluginsEnabled": false,
        "remotePlugins": []
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_collector_as_the_only_destination_and_turns_segments_telemetry_off() {
        let settings = cdn_settings("wk_live", "collector.example.com/v1", "https");
        let integrations = settings["integrations"].as_object().unwrap();
        assert_eq!(
            integrations.len(),
            1,
            "Segment.io alone: no bundle to fetch"
        );
        let segment = &integrations["Segment.io"];
        assert_eq!(segment["apiKey"], "wk_live");
        assert_eq!(segment["apiHost"], "collector.example.com/v1");
        assert_eq!(segment["protocol"], "https");
        assert_eq!(settings["metrics"]["sampleRate"], 0);
    }
}
