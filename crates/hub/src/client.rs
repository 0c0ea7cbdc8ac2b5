//! `HubClient`: the three HTTP calls the resolver makes against a Hugging Face compatible hub.
//!
//! - listing: `GET {endpoint}/api/models/{repo}/revision/{rev}` → JSON `sha` and `siblings[].rfilename`
//! - metadata: `HEAD {endpoint}/{repo}/resolve/{rev}/{file}`, redirects not followed, because the hub
//!   answers an LFS file with a 302 whose `X-Linked-Etag` (the sha256) and `X-Linked-Size` belong to
//!   the file while the redirect target is a CDN object; a plain file answers 200 with `ETag` (a git
//!   blob sha1, not a sha256) and `Content-Length`
//! - body: `GET {endpoint}/{repo}/resolve/{rev}/{file}` with redirects followed and `Range: bytes=N-`
//!   when resuming.
//!
//! `HF_TOKEN` goes out as `Authorization: Bearer …` (kept across same-host redirects only).
//! `Accept-Encoding: identity` on every request: sizes and ranges are of the stored bytes.

use std::io::Read;

use serde::Deserialize;

use crate::model_ref::RepoId;
use crate::{Error, ResolveOptions};

/// Largest repository listing read (a listing names files; it is never this big).
const MAX_LISTING_BYTES: u64 = 32 << 20;
/// Redirects followed by a GET (hub → renamed repo → CDN is three at most in practice).
const MAX_REDIRECTS: u32 = 10;

pub(crate) struct HubClient {
    /// Follows redirects (listing, file bodies).
    agent: ureq::Agent,
    /// Does not follow redirects (HEAD, to read the hub's own headers on a 302).
    head_agent: ureq::Agent,
    endpoint: String,
    token: Option<String>,
}

/// The files of a repository at a revision.
#[derive(Debug, Clone)]
pub(crate) struct RepoListing {
    /// The commit the revision points at, when the hub says.
    pub commit: Option<String>,
    /// Every file path in the repository (`/`-separated, relative).
    pub files: Vec<String>,
}

/// What a HEAD request tells about one file.
#[derive(Debug, Clone, Default)]
pub(crate) struct FileMeta {
    /// Lower-case hex sha256 of the content, when the hub announced one (LFS files).
    pub sha256: Option<String>,
    pub size: Option<u64>,
    pub commit: Option<String>,
}

/// The start of a file body download.
pub(crate) enum Body {
    /// 200: the whole file from byte 0 (also the answer of a server that ignores Range).
    Full {
        total: Option<u64>,
        reader: Box<dyn Read + Send + Sync>,
    },
    /// 206: the file from byte `start`.
    Partial {
        start: u64,
        total: Option<u64>,
        reader: Box<dyn Read + Send + Sync>,
    },
    /// 416: the requested start lies at or past the end of the file.
    RangeNotSatisfiable,
}

#[derive(Deserialize)]
struct ListingJson {
    sha: Option<String>,
    #[serde(default)]
    siblings: Vec<SiblingJson>,
}

#[derive(Deserialize)]
struct SiblingJson {
    rfilename: String,
}

impl HubClient {
    pub(crate) fn new(opts: &ResolveOptions) -> Result<HubClient, Error> {
        let endpoint = opts.endpoint.trim_end_matches('/').to_string();
        let proxy = match &opts.proxy {
            Some(p) if !is_loopback_endpoint(&endpoint) => {
                Some(ureq::Proxy::new(p).map_err(|e| Error::InvalidSetting {
                    name: "HTTPS_PROXY".into(),
                    value: p.clone(),
                    reason: e.to_string(),
                })?)
            }
            _ => None,
        };
        let build = |redirects: u32| {
            let mut b = ureq::AgentBuilder::new()
                .timeout_connect(opts.connect_timeout)
                .timeout_read(opts.read_timeout)
                .timeout_write(opts.read_timeout)
                .redirects(redirects)
                .redirect_auth_headers(ureq::RedirectAuthHeaders::SameHost)
                .user_agent(concat!("inferno/", env!("CARGO_PKG_VERSION")))
                .try_proxy_from_env(false);
            if let Some(p) = &proxy {
                b = b.proxy(p.clone());
            }
            b.build()
        };
        Ok(HubClient {
            agent: build(MAX_REDIRECTS),
            head_agent: build(0),
            endpoint,
            token: opts.token.clone(),
        })
    }

    fn listing_url(&self, repo: &RepoId, revision: &str) -> String {
        format!(
            "{}/api/models/{}/revision/{}",
            self.endpoint,
            repo,
            encode_segment(revision)
        )
    }

    pub(crate) fn file_url(&self, repo: &RepoId, revision: &str, file: &str) -> String {
        let file_enc: Vec<String> = file.split('/').map(encode_segment).collect();
        format!(
            "{}/{}/resolve/{}/{}",
            self.endpoint,
            repo,
            encode_segment(revision),
            file_enc.join("/")
        )
    }

    fn request(&self, agent: &ureq::Agent, method: &str, url: &str) -> ureq::Request {
        let req = agent
            .request(method, url)
            .set("Accept-Encoding", "identity");
        match &self.token {
            Some(t) => req.set("Authorization", &format!("Bearer {t}")),
            None => req,
        }
    }

    /// Lists the files of `repo` at `revision`.
    pub(crate) fn list_repo(&self, repo: &RepoId, revision: &str) -> Result<RepoListing, Error> {
        let url = self.listing_url(repo, revision);
        tracing::debug!(%url, "listing repository");
        let what = format!("repository {repo} at revision {revision}");
        let resp = self
            .request(&self.agent, "GET", &url)
            .set("Accept", "application/json")
            .call()
            .map_err(|e| self.call_error(e, &url, &what))?;
        let mut bytes = Vec::new();
        resp.into_reader()
            .take(MAX_LISTING_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| Error::Transport {
                url: url.clone(),
                message: e.to_string(),
            })?;
        if bytes.len() as u64 > MAX_LISTING_BYTES {
            return Err(Error::BadListing {
                url,
                reason: format!("the listing is larger than {MAX_LISTING_BYTES} bytes"),
            });
        }
        let json: ListingJson = serde_json::from_slice(&bytes).map_err(|e| Error::BadListing {
            url: url.clone(),
            reason: format!("not a repository listing ({e})"),
        })?;
        Ok(RepoListing {
            commit: json.sha,
            files: json.siblings.into_iter().map(|s| s.rfilename).collect(),
        })
    }

    /// HEAD of one file: its announced sha256 and size. Follows only relative (same-hub) redirects
    /// that carry no file headers (a renamed repository); stops at the first answer that does.
    pub(crate) fn head_file(
        &self,
        repo: &RepoId,
        revision: &str,
        file: &str,
    ) -> Result<FileMeta, Error> {
        let what = format!("file {file} in {repo} at revision {revision}");
        let mut url = self.file_url(repo, revision, file);
        for _ in 0..MAX_REDIRECTS {
            tracing::debug!(%url, "HEAD");
            let resp = self
                .request(&self.head_agent, "HEAD", &url)
                .call()
                .map_err(|e| self.call_error(e, &url, &what))?;
            let linked_etag = resp.header("X-Linked-Etag").and_then(parse_sha256);
            let linked_size = resp
                .header("X-Linked-Size")
                .and_then(|v| v.trim().parse().ok());
            let commit = resp.header("X-Repo-Commit").map(str::to_string);
            let status = resp.status();
            if (300..400).contains(&status) && linked_etag.is_none() && linked_size.is_none() {
                if let Some(loc) = resp.header("Location").filter(|l| l.starts_with('/')) {
                    url = format!("{}{}", self.endpoint, loc);
                    continue;
                }
            }
            let content_length = if (200..300).contains(&status) {
                resp.header("Content-Length")
                    .and_then(|v| v.trim().parse().ok())
            } else {
                None
            };
            return Ok(FileMeta {
                sha256: linked_etag.or_else(|| resp.header("ETag").and_then(parse_sha256)),
                size: linked_size.or(content_length),
                commit,
            });
        }
        Err(Error::Transport {
            url,
            message: format!("more than {MAX_REDIRECTS} redirects"),
        })
    }

    /// GET of one file's body from byte `start` (a Range request when `start > 0`).
    pub(crate) fn get_file(
        &self,
        repo: &RepoId,
        revision: &str,
        file: &str,
        start: u64,
    ) -> Result<Body, Error> {
        let url = self.file_url(repo, revision, file);
        let what = format!("file {file} in {repo} at revision {revision}");
        let mut req = self.request(&self.agent, "GET", &url);
        if start > 0 {
            req = req.set("Range", &format!("bytes={start}-"));
        }
        tracing::debug!(%url, start, "GET");
        let resp = match req.call() {
            Ok(r) => r,
            Err(ureq::Error::Status(416, _)) if start > 0 => return Ok(Body::RangeNotSatisfiable),
            Err(e) => return Err(self.call_error(e, &url, &what)),
        };
        let content_length: Option<u64> = resp
            .header("Content-Length")
            .and_then(|v| v.trim().parse().ok());
        match resp.status() {
            206 => {
                let range = resp.header("Content-Range").and_then(parse_content_range);
                let Some((range_start, total)) = range else {
                    return Err(Error::BadListing {
                        url,
                        reason: "206 answer without a usable Content-Range".into(),
                    });
                };
                let total = total.or(content_length.map(|n| range_start + n));
                Ok(Body::Partial {
                    start: range_start,
                    total,
                    reader: resp.into_reader(),
                })
            }
            200 => Ok(Body::Full {
                total: content_length,
                reader: resp.into_reader(),
            }),
            status => Err(Error::HttpStatus {
                url,
                status,
                code: String::new(),
            }),
        }
    }

    /// Turns a ureq failure into an error naming `what` (repository or file) and the endpoint.
    fn call_error(&self, e: ureq::Error, url: &str, what: &str) -> Error {
        match e {
            ureq::Error::Status(status, resp) => {
                let code = match resp.header("X-Error-Code") {
                    Some(c) => format!(", {c}"),
                    None => String::new(),
                };
                let message = resp
                    .header("X-Error-Message")
                    .map(|m| format!(" — {m}"))
                    .unwrap_or_default();
                match status {
                    404 => Error::NotFound {
                        what: what.to_string(),
                        endpoint: self.endpoint.clone(),
                        code,
                        hint: message,
                    },
                    401 | 403 => Error::AccessDenied {
                        what: what.to_string(),
                        endpoint: self.endpoint.clone(),
                        status,
                        code,
                        hint: if self.token.is_some() {
                            format!(
                                "HF_TOKEN was sent and refused; check that it is valid and has \
                                 access to the repository{message}"
                            )
                        } else {
                            format!(
                                "the repository may not exist, or be private or gated; set \
                                 HF_TOKEN to a token with access{message}"
                            )
                        },
                    },
                    _ => Error::HttpStatus {
                        url: url.to_string(),
                        status,
                        code,
                    },
                }
            }
            ureq::Error::Transport(t) => Error::Transport {
                url: url.to_string(),
                message: t.to_string(),
            },
        }
    }
}

/// A 64-hex-digit sha256 out of an ETag-like header value (`"…"`, `W/"…"`), lower-cased.
pub(crate) fn parse_sha256(v: &str) -> Option<String> {
    let v = v.trim();
    let v = v.strip_prefix("W/").unwrap_or(v);
    let v = v.trim_matches('"');
    (v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit())).then(|| v.to_ascii_lowercase())
}

/// `bytes START-END/TOTAL` (TOTAL may be `*`) → (START, Some(TOTAL)).
fn parse_content_range(v: &str) -> Option<(u64, Option<u64>)> {
    let rest = v.trim().strip_prefix("bytes")?.trim_start();
    let (range, total) = rest.split_once('/')?;
    let (start, _end) = range.split_once('-')?;
    let start = start.trim().parse().ok()?;
    let total = match total.trim() {
        "*" => None,
        t => Some(t.parse().ok()?),
    };
    Some((start, total))
}

/// Percent-encodes everything but RFC 3986 unreserved characters (so a `/` in a revision such as
/// `refs/pr/1` becomes `%2F`, as the hub expects).
fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Whether the endpoint's host is this machine (no proxy for it).
fn is_loopback_endpoint(endpoint: &str) -> bool {
    let rest = endpoint.split_once("://").map_or(endpoint, |(_, r)| r);
    let authority = rest.split('/').next().unwrap_or("");
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else {
        authority.split(':').next().unwrap_or("")
    };
    host == "localhost" || host == "::1" || host.starts_with("127.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_from_etags() {
        let h = "a".repeat(64);
        assert_eq!(parse_sha256(&format!("\"{h}\"")), Some(h.clone()));
        assert_eq!(parse_sha256(&format!("W/\"{h}\"")), Some(h.clone()));
        assert_eq!(parse_sha256(&h.to_uppercase()), Some(h.clone()));
        // a git blob sha1 (plain files) is no sha256
        assert_eq!(
            parse_sha256("\"0123456789abcdef0123456789abcdef01234567\""),
            None
        );
        assert_eq!(parse_sha256(&format!("\"{}\"", "g".repeat(64))), None);
    }

    #[test]
    fn content_ranges() {
        assert_eq!(
            parse_content_range("bytes 100-199/200"),
            Some((100, Some(200)))
        );
        assert_eq!(parse_content_range("bytes 5-9/*"), Some((5, None)));
        assert_eq!(parse_content_range("items 5-9/10"), None);
        assert_eq!(parse_content_range("bytes x-9/10"), None);
    }

    #[test]
    fn url_segments_and_loopback() {
        assert_eq!(encode_segment("refs/pr/1"), "refs%2Fpr%2F1");
        assert_eq!(encode_segment("a b+c.gguf"), "a%20b%2Bc.gguf");
        assert!(is_loopback_endpoint("http://127.0.0.1:8080"));
        assert!(is_loopback_endpoint("http://localhost/x"));
        assert!(is_loopback_endpoint("http://[::1]:9"));
        assert!(!is_loopback_endpoint("https://huggingface.co"));
    }
}
