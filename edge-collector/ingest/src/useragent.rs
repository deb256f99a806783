//! User-agent parsing with `woothee`, which is pure Rust and compiles to wasm32.
//!
//! The result goes into `context.footfall.ua` as
//! `{"browser", "browserVersion", "os", "osVersion", "category", "vendor", "bot"}`; `category` is
//! woothee's device class (`pc`, `smartphone`, `mobilephone`, `appliance`, `crawler`, `misc`,
//! `UNKNOWN`) and `bot` is true for crawlers.

use std::sync::Arc;

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

/// Agents longer than this are parsed every time, not cached: real ones are a few hundred bytes, and a
/// client sending huge unique agents should not be able to flush the cache with a few of them.
const MAX_CACHED_AGENT_BYTES: usize = 512;

/// The `context.footfall.ua` object of each user agent seen recently, shared by every request.
///
/// woothee runs a few regexes per agent, microseconds each, and a collector sees the same few
/// thousand agents over and over: a per-request cache missed every agent that a batch from a
/// server library (many users, several browsers) had not used before. The cache is bounded by
/// bytes (agent and JSON), so unique agents only cost the parse they would have cost anyway.
pub struct UserAgentCache {
    cache: quick_cache::sync::Cache<String, Option<Arc<str>>, AgentWeighter>,
}

#[derive(Debug, Clone, Copy)]
struct AgentWeighter;

impl quick_cache::Weighter<String, Option<Arc<str>>> for AgentWeighter {
    fn weight(&self, agent: &String, json: &Option<Arc<str>>) -> u64 {
        // The entry's own overhead (two pointers, the Arc's counts) counts too, so that a flood of
        // tiny agents is bounded as well.
        (agent.len() + json.as_deref().map_or(0, str::len) + 64) as u64
    }
}

impl std::fmt::Debug for UserAgentCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserAgentCache")
            .field("agents", &self.cache.len())
            .field("bytes", &self.cache.weight())
            .finish()
    }
}

impl UserAgentCache {
    /// A cache holding at most about `max_bytes` of agents and their JSON.
    pub fn new(max_bytes: u64) -> Self {
        // About 400 bytes per entry (agent, JSON, overhead) for the item estimate.
        let items = usize::try_from(max_bytes / 400)
            .unwrap_or(usize::MAX)
            .max(16);
        Self {
            cache: quick_cache::sync::Cache::with_weighter(items, max_bytes, AgentWeighter),
        }
    }

    /// The serialized [`UserAgentInfo`] of `agent`; `None` when woothee recognises nothing.
    pub fn json(&self, agent: &str) -> Option<Arc<str>> {
        if let Some(hit) = self.cache.get(agent) {
            return hit;
        }
        let json: Option<Arc<str>> = parse_user_agent(agent)
            .and_then(|info| serde_json::to_string(&info).ok())
            .map(Arc::from);
        if agent.len() <= MAX_CACHED_AGENT_BYTES {
            self.cache.insert(agent.to_owned(), json.clone());
        }
        json
    }

    /// How many agents are cached.
    pub fn len(&self) -> usize {
        self.cache.len()
    }

    /// Whether no agent is cached.
    pub fn is_empty(&self) -> bool {
        self.cache.is_empty()
    }
}

impl Default for UserAgentCache {
    /// 4 MiB: about ten thousand agents.
    fn default() -> Self {
        Self::new(4 << 20)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHROME: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";

    #[test]
    fn a_cached_agent_gives_the_json_a_fresh_parse_gives() {
        let cache = UserAgentCache::default();
        let fresh = serde_json::to_string(&parse_user_agent(CHROME).unwrap()).unwrap();
        assert_eq!(cache.json(CHROME).as_deref(), Some(fresh.as_str()));
        assert_eq!(cache.len(), 1);
        assert_eq!(cache.json(CHROME).as_deref(), Some(fresh.as_str()));
        assert_eq!(cache.len(), 1, "the second lookup is a hit");
        // Unrecognised agents are cached as such, and stay unrecognised.
        assert_eq!(cache.json("\u{1}"), None);
        assert_eq!(cache.json("\u{1}"), None);
        assert_eq!(cache.len(), 2);
    }

    #[test]
    fn the_cache_stays_within_its_byte_budget_and_skips_huge_agents() {
        let cache = UserAgentCache::new(64 << 10);
        for i in 0..5_000 {
            let agent = format!("Mozilla/5.0 (X11; Linux x86_64) Firefox/{i}.0");
            assert!(cache.json(&agent).is_some());
        }
        assert!(cache.len() < 5_000, "old agents were evicted");
        assert!(cache.cache.weight() <= 64 << 10);
        let huge = format!("Mozilla/5.0 {}", "x".repeat(MAX_CACHED_AGENT_BYTES));
        let before = cache.len();
        let _ = cache.json(&huge);
        assert!(cache.cache.get(huge.as_str()).is_none());
        assert!(cache.len() <= before);
    }

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
