//! `ServerConfig`: everything the HTTP layer is configured with (the binary fills it from flags).

use std::time::Duration;

#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub host: String,
    pub port: u16,
    /// Accepted API keys (each entry may hold several, comma separated); empty: no auth.
    pub api_keys: Vec<String>,
    /// The name clients must send as `model` (and `/v1/models` lists).
    pub model_name: String,
    /// Request bodies above this are answered 413.
    pub max_body_bytes: usize,
    /// Send `usage` in every stream, whatever `stream_options` says.
    pub always_include_usage: bool,
    /// On SIGTERM/SIGINT, running requests get this long to finish before they are aborted.
    pub drain_timeout: Duration,
    /// A `: keep-alive` comment is streamed after this long without an event (long prefill).
    pub keep_alive_interval: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".into(),
            port: 8080,
            api_keys: Vec::new(),
            model_name: "model".into(),
            max_body_bytes: 4 << 20,
            always_include_usage: false,
            drain_timeout: Duration::from_secs(30),
            keep_alive_interval: Duration::from_secs(5),
        }
    }
}
