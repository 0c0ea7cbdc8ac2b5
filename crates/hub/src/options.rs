//! `ResolveOptions`: every setting of the hub client and cache, read from the environment in this
//! one place (`from_env`) or set by the caller (tests build them by hand).
//!
//! | variable | meaning | default |
//! | --- | --- | --- |
//! | `INFERNO_HF_ENDPOINT`, else `HF_ENDPOINT` | hub base URL | `https://huggingface.co` |
//! | `HF_TOKEN` | sent as `Authorization: Bearer …` | none |
//! | `INFERNO_CACHE_DIR` | cache root | `$XDG_CACHE_HOME/inferno`, else `~/.cache/inferno` |
//! | `INFERNO_OFFLINE`, else `HF_HUB_OFFLINE` | `1`/`true`/`yes`/`on`: never touch the network | off |
//! | `INFERNO_HF_TIMEOUT` | connect and read timeout, seconds | 30 |
//! | `INFERNO_HF_RETRIES` | extra tries of a download cut part way (each resumes) | 3 |
//! | `HTTPS_PROXY`, `ALL_PROXY`, `HTTP_PROXY` (any case) | proxy for non-loopback endpoints | none |

use std::path::PathBuf;
use std::time::Duration;

use crate::Error;

pub const DEFAULT_ENDPOINT: &str = "https://huggingface.co";
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_RETRIES: u32 = 3;

#[derive(Debug, Clone)]
pub struct ResolveOptions {
    /// Hub base URL without a trailing slash, e.g. `https://huggingface.co`.
    pub endpoint: String,
    /// Bearer token for private or gated repositories.
    pub token: Option<String>,
    /// Cache root; files land in `{cache_dir}/hub/{owner}--{repo}/{revision}/{file}`.
    pub cache_dir: PathBuf,
    /// Never touch the network: use the cache or fail.
    pub offline: bool,
    pub connect_timeout: Duration,
    /// Longest wait for the next bytes of a response (not a limit on a whole download).
    pub read_timeout: Duration,
    /// Further tries after a download is cut part way; each one resumes with a Range request.
    pub retries: u32,
    /// Wait before retry `k` is `retry_backoff * k`.
    pub retry_backoff: Duration,
    /// Show a progress bar per file on stderr (hidden anyway when stderr is not a terminal).
    pub progress: bool,
    /// Re-hash cached files against their recorded sha256 before using them.
    pub verify_cached: bool,
    /// Proxy URL for the hub connection (never used for a loopback endpoint).
    pub proxy: Option<String>,
}

impl ResolveOptions {
    /// Options for `endpoint` and `cache_dir` with the defaults for the rest, nothing from the
    /// environment.
    pub fn new(endpoint: impl Into<String>, cache_dir: impl Into<PathBuf>) -> ResolveOptions {
        ResolveOptions {
            endpoint: endpoint.into().trim_end_matches('/').to_string(),
            token: None,
            cache_dir: cache_dir.into(),
            offline: false,
            connect_timeout: DEFAULT_TIMEOUT,
            read_timeout: DEFAULT_TIMEOUT,
            retries: DEFAULT_RETRIES,
            retry_backoff: Duration::from_millis(500),
            progress: true,
            verify_cached: false,
            proxy: None,
        }
    }

    /// Options from the process environment (see the table at the top of this file).
    pub fn from_env() -> Result<ResolveOptions, Error> {
        ResolveOptions::from_lookup(|k| std::env::var(k).ok())
    }

    /// Options from `lookup(variable)` standing in for the environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<ResolveOptions, Error> {
        let get = |k: &str| lookup(k).filter(|v| !v.trim().is_empty());
        let endpoint = get("INFERNO_HF_ENDPOINT")
            .or_else(|| get("HF_ENDPOINT"))
            .unwrap_or_else(|| DEFAULT_ENDPOINT.to_string());
        if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
            return Err(Error::InvalidSetting {
                name: "INFERNO_HF_ENDPOINT".into(),
                value: endpoint,
                reason: "must start with http:// or https://".into(),
            });
        }
        let cache_dir = match get("INFERNO_CACHE_DIR") {
            Some(dir) => PathBuf::from(dir),
            None => match (get("XDG_CACHE_HOME"), get("HOME")) {
                (Some(xdg), _) => PathBuf::from(xdg).join("inferno"),
                (None, Some(home)) => PathBuf::from(home).join(".cache").join("inferno"),
                (None, None) => {
                    return Err(Error::InvalidSetting {
                        name: "INFERNO_CACHE_DIR".into(),
                        value: String::new(),
                        reason: "unset, and neither XDG_CACHE_HOME nor HOME is set to put the \
                                 cache under"
                            .into(),
                    })
                }
            },
        };
        let mut opts = ResolveOptions::new(endpoint, cache_dir);
        opts.token = get("HF_TOKEN");
        opts.offline = match ["INFERNO_OFFLINE", "HF_HUB_OFFLINE"]
            .iter()
            .find_map(|k| get(k).map(|v| (*k, v)))
        {
            Some((name, v)) => parse_flag(name, &v)?,
            None => false,
        };
        if let Some(v) = get("INFERNO_HF_TIMEOUT") {
            let secs = parse_number("INFERNO_HF_TIMEOUT", &v)?;
            opts.connect_timeout = Duration::from_secs(secs);
            opts.read_timeout = Duration::from_secs(secs);
        }
        if let Some(v) = get("INFERNO_HF_RETRIES") {
            let n = parse_number("INFERNO_HF_RETRIES", &v)?;
            opts.retries = u32::try_from(n).unwrap_or(u32::MAX);
        }
        opts.proxy = [
            "HTTPS_PROXY",
            "https_proxy",
            "ALL_PROXY",
            "all_proxy",
            "HTTP_PROXY",
            "http_proxy",
        ]
        .iter()
        .find_map(|k| get(k));
        Ok(opts)
    }
}

fn parse_flag(name: &str, v: &str) -> Result<bool, Error> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(Error::InvalidSetting {
            name: name.into(),
            value: v.into(),
            reason: "expected 1/0, true/false, yes/no or on/off".into(),
        }),
    }
}

fn parse_number(name: &str, v: &str) -> Result<u64, Error> {
    v.trim().parse::<u64>().map_err(|_| Error::InvalidSetting {
        name: name.into(),
        value: v.into(),
        reason: "expected a whole number".into(),
    })
}
