//! User-agent parsing with `woothee`, which is pure Rust and compiles to wasm32.
//!
//! The result goes into `context.footfall.ua` as
//! `{"browser", "browserVersion", "os", "osVersion", "category", "vendor", "bot"}`; `category` is
//! woothee's device class (`pc`, `smartphone`, `mobilephone`, `appliance`, `crawler`, `misc`,
//! `UNKNOWN`) and `bot` is true for crawlers.

use serde::Serialize;

/// What a user agent says about the device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserAgentInfo {
    /// Browser or crawler name (`Chrome`, `Safari`, `Googlebot`, …).
    pub browser: String,
    /// Browser version.
    pub browser_version: String,
    /// Operating system (`Windows 10`, `iPhone`, `Android`, …).
    pub os: String,
    /// Operating system version.
    pub os_version: String,
    /// Device class: `pc`, `smartphone`, `mobilephone`, `appliance`, `crawler`, `misc` or `UNKNOWN`.
    pub category: String,
    /// Browser vendor.
    pub vendor: String,
    /// Whether the agent is a known crawler or bot.
    pub bot: bool,
}

/// Parses a user agent. `None` when woothee recognises nothing at all.
pub fn parse_user_agent(ua: &str) -> Option<UserAgentInfo> {
    let parsed = woothee::parser::Parser::new().parse(ua)?;
    Some(UserAgentInfo {
        browser: parsed.name.to_owned(),
        browser_version: parsed.version.to_owned(),
        os: parsed.os.to_owned(),
        os_version: parsed.os_version.into_owned(),
        category: parsed.category.to_owned(),
        vendor: parsed.vendor.to_owned(),
        bot: parsed.category == "crawler",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_a_desktop_browser() {
        let ua = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
        let info = parse_user_agent(ua).unwrap();
        assert_eq!(info.browser, "Chrome");
        assert_eq!(info.category, "pc");
        assert!(!info.bot);
    }

    #[test]
    fn flags_crawlers_as_bots() {
        let ua = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)";
        assert!(parse_user_agent(ua).unwrap().bot);
    }
}
