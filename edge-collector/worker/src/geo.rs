//! Geo from Cloudflare's `request.cf`, mapped into the same [`Geo`] the native collector's MaxMind
//! lookup fills (`context.footfall.geo`).
//!
//! | `request.cf` | `Geo` |
//! |---|---|
//! | `country` (ISO 3166-1 alpha-2; `XX` unknown, `T1` Tor) | `country` (absent for `XX` and `T1`) |
//! | `regionCode` (ISO 3166-2 subdivision, without the country) | `region` |
//! | `city` | `city` |
//! | `latitude`, `longitude` (decimal strings) | `latitude`, `longitude` |
//! | `timezone` (IANA) | `timezone` |
//!
//! Cloudflare locates the connecting address, which is the `CF-Connecting-IP` the worker uses as the
//! client IP, so the geo goes with that address only (see `footfall_ingest::RequestInfo::known_geo`).

use footfall_ingest::Geo;
use serde::Deserialize;

/// A string or a number, as coordinates may come either way.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Coordinate {
    /// `"30.27130"`, as Cloudflare sends it.
    Text(String),
    /// `30.2713`.
    Number(f64),
}

impl Coordinate {
    fn value(&self) -> Option<f64> {
        match self {
            Coordinate::Text(text) => text.trim().parse().ok(),
            Coordinate::Number(n) => Some(*n),
        }
        .filter(|v: &f64| v.is_finite())
    }
}

/// The fields of `request.cf` that locate the client; every other field is ignored.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CfProperties {
    /// Country code.
    pub country: Option<String>,
    /// Subdivision code.
    pub region_code: Option<String>,
    /// City name.
    pub city: Option<String>,
    /// Latitude.
    pub latitude: Option<Coordinate>,
    /// Longitude.
    pub longitude: Option<Coordinate>,
    /// IANA time zone.
    pub timezone: Option<String>,
}

fn text(value: &Option<String>) -> Option<String> {
    value
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

impl CfProperties {
    /// Where the client is, or `None` when Cloudflare knows nothing.
    pub fn geo(&self) -> Option<Geo> {
        let geo = Geo {
            country: text(&self.country).filter(|c| c != "XX" && c != "T1"),
            region: text(&self.region_code),
            city: text(&self.city),
            latitude: self.latitude.as_ref().and_then(Coordinate::value),
            longitude: self.longitude.as_ref().and_then(Coordinate::value),
            timezone: text(&self.timezone),
        };
        (geo != Geo::default()).then_some(geo)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_what_cloudflare_sends() {
        let cf: CfProperties = serde_json::from_value(serde_json::json!({
            "colo": "DFW", "country": "US", "city": "Austin", "region": "Texas", "regionCode": "TX",
            "latitude": "30.27130", "longitude": "-97.74260", "timezone": "America/Chicago", "asn": 395747
        }))
        .unwrap();
        assert_eq!(
            cf.geo(),
            Some(Geo {
                country: Some("US".into()),
                region: Some("TX".into()),
                city: Some("Austin".into()),
                latitude: Some(30.2713),
                longitude: Some(-97.7426),
                timezone: Some("America/Chicago".into()),
            })
        );
    }

    #[test]
    fn leaves_out_what_is_unknown_or_garbled() {
        let cf: CfProperties = serde_json::from_value(serde_json::json!({
            "country": "XX", "city": "", "latitude": "north", "longitude": 13.4
        }))
        .unwrap();
        assert_eq!(
            cf.geo(),
            Some(Geo {
                longitude: Some(13.4),
                ..Geo::default()
            })
        );
        let tor: CfProperties =
            serde_json::from_value(serde_json::json!({"country": "T1"})).unwrap();
        assert_eq!(tor.geo(), None);
        assert_eq!(CfProperties::default().geo(), None);
    }
}
