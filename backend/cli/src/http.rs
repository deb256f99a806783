//! A small blocking HTTP client (ureq) for the CLI and the demo.

use std::time::Duration;

use anyhow::{bail, Context};
use serde_json::Value;

/// A client.
#[derive(Debug, Clone)]
pub struct Http {
    agent: ureq::Agent,
}

impl Default for Http {
    fn default() -> Self {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into();
        Self { agent }
    }
}

impl Http {
    /// POSTs `body`; returns the status and the body text. `Err` only when no answer came.
    pub fn post(
        &self,
        url: &str,
        authorization: &str,
        body: &str,
    ) -> anyhow::Result<(u16, String)> {
        let mut res = self
            .agent
            .post(url)
            .header("authorization", authorization)
            .header("content-type", "application/json")
            .send(body)
            .with_context(|| format!("POST {url}"))?;
        let status = res.status().as_u16();
        Ok((status, res.body_mut().read_to_string().unwrap_or_default()))
    }

    /// Calls the query API with a read key and parses the JSON answer; non-2xx is an error with
    /// the API's message.
    pub fn api(
        &self,
        method: &str,
        url: &str,
        read_key: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<Value> {
        let auth = format!("Bearer {read_key}");
        let (status, text) = match (method, body) {
            ("GET", _) => {
                let mut res = self
                    .agent
                    .get(url)
                    .header("authorization", &auth)
                    .call()
                    .with_context(|| format!("GET {url}"))?;
                (
                    res.status().as_u16(),
                    res.body_mut().read_to_string().unwrap_or_default(),
                )
            }
            (_, b) => self.post(
                url,
                &auth,
                &b.map_or_else(|| "{}".to_owned(), Value::to_string),
            )?,
        };
        let value: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        if !(200..300).contains(&status) {
            let message = value
                .pointer("/error/message")
                .and_then(Value::as_str)
                .map_or_else(|| value.to_string(), str::to_owned);
            bail!("{status}: {message}");
        }
        Ok(value)
    }
}
