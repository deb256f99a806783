//! The settings that Segment's and RudderStack's SDKs load before they send anything, served by the
//! collector so that switching an app to Footfall is one setting.
//!
//! **Segment** ([`segment_settings`]): analytics.js (`@segment/analytics-next`) asks
//! `${cdnURL}/v1/projects/<writeKey>/settings`, and analytics-swift and analytics-kotlin ask
//! `https://${cdnHost}/projects/<writeKey>/settings` (`cdnHost` ending in `/v1`). The answer holds:
//! * `integrations["Segment.io"]`: `apiKey`, and `apiHost` and `protocol` naming this collector, which
//!   the SDKs send events to; no other integration, so no device-mode destination bundle is fetched
//!   from Segment's CDN;
//! * `metrics.sampleRate: 0`: analytics.js otherwise reports its own telemetry to `api.segment.io`,
//!   at a sample rate of 1 by default, which a team leaving Segment does not want;
//! * the empty `plan`, `edgeFunction`, `middlewareSettings`, `enabledMiddleware` and `remotePlugins`
//!   that strict decoders (analytics-kotlin's) expect.
//!
//! **RudderStack** ([`rudderstack_source_config`]): its SDKs ask their control plane
//! (`configUrl`, `controlPlaneUrl`) for `/sourceConfig/?writeKey=<key>` (or with the key in Basic
//! auth). The answer is the source, enabled, with no device-mode destination and with the SDK's error
//! and metrics reporting to RudderStack off (`config.statsCollection`). Events go to the
//! `dataPlaneUrl` the app gives, which is the collector.

use serde_json::{json, Value};

use crate::Source;

/// The answer's message, with a 404, to a settings request for a write key no source has.
pub const NO_SUCH_SOURCE: &str =
    "no source has this write key: check the key the SDK is loaded with";

/// The write key a RudderStack settings request names: `?writeKey=` (its browser SDK), else the
/// `Authorization` header's Basic credentials (its mobile SDKs); `None` when neither names one.
pub fn settings_write_key(query_key: Option<&str>, authorization: Option<&str>) -> Option<String> {
    let from_header = || {
        authorization
            .and_then(|auth| footfall_protocol::auth::write_key_from_authorization(auth).ok())
    };
    query_key
        .map(str::to_owned)
        .or_else(from_header)
        .filter(|key| !key.is_empty())
}

/// Segment's settings for `write_key`, whose events go to `protocol://api_host/…`; `api_host` is a
/// host (and port) with the API's path, e.g. `collector.example.com/v1`.
pub fn segment_settings(write_key: &str, api_host: &str, protocol: &str) -> Value {
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

/// RudderStack's source config for `write_key`, which stands for `source`.
pub fn rudderstack_source_config(write_key: &str, source: &Source) -> Value {
    json!({
        "isHosted": false,
        "source": {
            "id": source.source_id,
            "name": source.source_id,
            "writeKey": write_key,
            "workspaceId": source.project_id,
            "enabled": true,
            "deleted": false,
            "config": {
                "statsCollection": {
                    "errors": {"enabled": false},
                    "metrics": {"enabled": false}
                }
            },
            "destinations": []
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rudderstacks_source_is_enabled_with_no_destination_and_no_reporting() {
        let source = Source {
            project_id: "shop".into(),
            source_id: "web".into(),
        };
        let config = rudderstack_source_config("wk_live", &source);
        let source = &config["source"];
        assert_eq!(
            (source["id"].as_str(), source["writeKey"].as_str()),
            (Some("web"), Some("wk_live"))
        );
        assert_eq!(source["enabled"], true);
        assert_eq!(source["destinations"], json!([]));
        let stats = &source["config"]["statsCollection"];
        assert_eq!(
            (&stats["errors"]["enabled"], &stats["metrics"]["enabled"]),
            (&json!(false), &json!(false))
        );
    }

    #[test]
    fn names_the_collector_as_the_only_destination_and_turns_segments_telemetry_off() {
        let settings = segment_settings("wk_live", "collector.example.com/v1", "https");
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
