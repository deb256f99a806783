//! Geo lookup of the client IP behind a small trait, with a MaxMind implementation (feature `maxmind`).
//!
//! The result goes into `context.footfall.geo` as `{"country", "region", "city", "latitude",
//! "longitude", "timezone"}`, each field present only when known. The database is read from bytes so that
//! this crate never touches the file system; the collector reads the file.

use std::net::IpAddr;

use serde::Serialize;

/// Where an IP address is, as far as the lookup knows.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Geo {
    /// ISO 3166-1 alpha-2 country code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    /// ISO 3166-2 subdivision code (without the country prefix).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// City name in English.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    /// Approximate latitude.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latitude: Option<f64>,
    /// Approximate longitude.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub longitude: Option<f64>,
    /// IANA time zone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
}

/// Looks up where an IP address is.
pub trait GeoLookup: Send + Sync {
    /// The location of `ip`, or `None` when unknown.
    fn lookup(&self, ip: IpAddr) -> Option<Geo>;
}

#[cfg(feature = "maxmind")]
pub use maxmind::MaxMindGeo;

#[cfg(feature = "maxmind")]
mod maxmind {
    use super::{Geo, GeoLookup};
    use std::net::IpAddr;

    /// A GeoIP2 / GeoLite2 City database held in memory.
    pub struct MaxMindGeo {
        reader: maxminddb::Reader<Vec<u8>>,
    }

    impl std::fmt::Debug for MaxMindGeo {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("MaxMindGeo").finish_non_exhaustive()
        }
    }

    impl MaxMindGeo {
        /// Opens a database from its bytes (the content of an `.mmdb` file).
        pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, String> {
            maxminddb::Reader::from_source(bytes)
                .map(|reader| Self { reader })
                .map_err(|e| e.to_string())
        }
    }

    impl GeoLookup for MaxMindGeo {
        fn lookup(&self, ip: IpAddr) -> Option<Geo> {
            let result = self.reader.lookup(ip).ok()?;
            let city = result.decode::<maxminddb::geoip2::City<'_>>().ok()??;
            let geo = Geo {
                country: city.country.iso_code.map(str::to_owned),
                region: city
                    .subdivisions
                    .first()
                    .and_then(|s| s.iso_code)
                    .map(str::to_owned),
                city: city.city.names.english.map(str::to_owned),
                latitude: city.location.latitude,
                longitude: city.location.longitude,
                timezone: city.location.time_zone.map(str::to_owned),
            };
            (geo != Geo::default()).then_some(geo)
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn refuses_bytes_that_are_not_a_database() {
            assert!(MaxMindGeo::from_bytes(b"not a database".to_vec()).is_err());
        }
    }
}
