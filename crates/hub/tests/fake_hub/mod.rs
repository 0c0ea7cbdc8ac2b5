//! A stand-in for the Hugging Face hub on 127.0.0.1 (an ephemeral port, never any other address):
//! hand-rolled HTTP/1.1, one connection at a time, `Connection: close` on every answer.
//!
//! Routes, as the real hub answers them:
//! - `GET /api/models/{owner}/{repo}/revision/{rev}` → `{"id", "sha", "siblings": [{"rfilename"}]}`
//! - `HEAD /{owner}/{repo}/resolve/{rev}/{file}` → LFS file: 302 to `/lfs/…` with `X-Linked-Etag`
//!   (the sha256) and `X-Linked-Size`; plain file: 200 with a 40-hex `ETag` (like a git blob sha1)
//!   and `Content-Length`
//! - `GET /{owner}/{repo}/resolve/{rev}/{file}` → LFS: 302 to `/lfs/…`; plain: the bytes
//! - `GET /lfs/{owner}/{repo}/{file}` → the bytes, honouring `Range: bytes=N-` with 206 (416 past
//!   the end)
//! - unknown repository / revision / file → 404 with `X-Error-Code` as the hub sends it.
//!
//! Faults to inject: cut the next body after N bytes (headers announce the whole length), announce
//! a wrong sha256, ignore Range (answer 200 with the whole file), require a bearer token.
//! Every request is logged (method, path, Range, Authorization).

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;

use sha2::{Digest, Sha256};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logged {
    pub method: String,
    pub path: String,
    pub range: Option<String>,
    pub authorization: Option<String>,
}

pub struct HubFile {
    pub bytes: Arc<Vec<u8>>,
    pub sha256: String,
    /// Served the LFS way (302 to a CDN path, sha256 in X-Linked-Etag).
    pub lfs: bool,
}

pub struct Repo {
    pub commit: String,
    pub revisions: Vec<String>,
    pub files: BTreeMap<String, HubFile>,
}

#[derive(Default)]
pub struct State {
    pub repos: BTreeMap<String, Repo>,
    pub log: Vec<Logged>,
    /// One-shot: the next file body is cut after this many bytes.
    pub cut_after: Option<usize>,
    /// Announce a sha256 that is not the file's.
    pub wrong_sha: bool,
    /// Answer Range requests with 200 and the whole file.
    pub ignore_range: bool,
    /// Demand `Authorization: Bearer {token}`, else 401.
    pub require_token: Option<String>,
}

pub struct FakeHub {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl FakeHub {
    pub fn start() -> FakeHub {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let state = Arc::new(Mutex::new(State::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (st, sp) = (state.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if sp.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(stream) = conn {
                    let _ = handle(stream, &st);
                }
            }
        });
        FakeHub {
            addr,
            state,
            stop,
            thread: Some(thread),
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds `repo` ("owner/name") at revision `main` with `files` (name, bytes, lfs).
    pub fn add_repo(&self, repo: &str, files: Vec<(&str, Vec<u8>, bool)>) {
        let files = files
            .into_iter()
            .map(|(name, bytes, lfs)| {
                let sha256 = sha256_hex(&bytes);
                (
                    name.to_string(),
                    HubFile {
                        bytes: Arc::new(bytes),
                        sha256,
                        lfs,
                    },
                )
            })
            .collect();
        self.state().repos.insert(
            repo.to_string(),
            Repo {
                commit: "0123456789abcdef0123456789abcdef01234567".into(),
                revisions: vec!["main".into()],
                files,
            },
        );
    }

    pub fn log(&self) -> Vec<Logged> {
        self.state().log.clone()
    }

    pub fn request_count(&self) -> usize {
        self.state().log.len()
    }

    /// GETs of file bodies (resolve of plain files, and /lfs/ paths), in order.
    pub fn body_gets(&self) -> Vec<Logged> {
        self.log()
            .into_iter()
            .filter(|l| {
                l.method == "GET"
                    && (l.path.starts_with("/lfs/")
                        || (l.path.contains("/resolve/") && !self.is_lfs_path(&l.path)))
            })
            .collect()
    }

    fn is_lfs_path(&self, path: &str) -> bool {
        match parse_resolve(path) {
            Some((repo, _rev, file)) => self
                .state()
                .repos
                .get(&repo)
                .and_then(|r| r.files.get(&file))
                .is_some_and(|f| f.lfs),
            None => false,
        }
    }
}

impl Drop for FakeHub {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop.
        let _ = TcpStream::connect(self.addr);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

struct Request {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn read_request(stream: &TcpStream) -> std::io::Result<Option<Request>> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    let mut parts = line.split_whitespace();
    let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
        return Ok(None);
    };
    let (method, path) = (method.to_string(), target.to_string());
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 {
            break;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    Ok(Some(Request {
        method,
        path,
        headers,
    }))
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(hi), Some(lo)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push(hi * 16 + lo);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `/{owner}/{repo}/resolve/{rev}/{file…}` → ("owner/repo", rev, file), decoded.
fn parse_resolve(path: &str) -> Option<(String, String, String)> {
    let segs: Vec<&str> = path.trim_start_matches('/').splitn(5, '/').collect();
    if segs.len() == 5 && segs[2] == "resolve" {
        let file: Vec<String> = segs[4].split('/').map(percent_decode).collect();
        Some((
            format!("{}/{}", segs[0], segs[1]),
            percent_decode(segs[3]),
            file.join("/"),
        ))
    } else {
        None
    }
}

struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Arc<Vec<u8>>,
    /// Bytes of the body range to send: body[from..]
    from: usize,
    /// Send only this many body bytes, then close (an injected cut).
    cut: Option<usize>,
}

impl Answer {
    fn status(status: u16, headers: Vec<(String, String)>) -> Answer {
        Answer {
            status,
            headers,
            body: Arc::new(Vec::new()),
            from: 0,
            cut: None,
        }
    }
}

fn h(k: &str, v: impl Into<String>) -> (String, String) {
    (k.to_string(), v.into())
}

fn not_found(code: &str) -> Answer {
    Answer::status(404, vec![h("X-Error-Code", code)])
}

fn handle(mut stream: TcpStream, state: &Mutex<State>) -> std::io::Result<()> {
    let Some(req) = read_request(&stream)? else {
        return Ok(());
    };
    let mut st = state.lock().unwrap_or_else(|p| p.into_inner());
    st.log.push(Logged {
        method: req.method.clone(),
        path: req.path.clone(),
        range: req.header("Range").map(str::to_string),
        authorization: req.header("Authorization").map(str::to_string),
    });
    let answer = route(&req, &mut st);
    drop(st);
    write_answer(&mut stream, &req, answer)
}

fn route(req: &Request, st: &mut State) -> Answer {
    if let Some(token) = &st.require_token {
        if req.header("Authorization") != Some(&format!("Bearer {token}")) {
            return Answer::status(401, vec![h("X-Error-Code", "GatedRepo")]);
        }
    }
    let path = req.path.split('?').next().unwrap_or("");
    if let Some(rest) = path.strip_prefix("/api/models/") {
        // {owner}/{repo}/revision/{rev}
        let segs: Vec<&str> = rest.splitn(4, '/').collect();
        if req.method != "GET" || segs.len() != 4 || segs[2] != "revision" {
            return not_found("EntryNotFound");
        }
        let name = format!("{}/{}", segs[0], segs[1]);
        let rev = percent_decode(segs[3]);
        let Some(repo) = st.repos.get(&name) else {
            return not_found("RepoNotFound");
        };
        if !repo.revisions.contains(&rev) {
            return not_found("RevisionNotFound");
        }
        let siblings: Vec<serde_json::Value> = repo
            .files
            .keys()
            .map(|f| serde_json::json!({ "rfilename": f }))
            .collect();
        let body = serde_json::json!({ "id": name, "sha": repo.commit, "siblings": siblings });
        let bytes = serde_json::to_vec(&body).unwrap_or_default();
        return Answer {
            status: 200,
            headers: vec![h("Content-Type", "application/json")],
            body: Arc::new(bytes),
            from: 0,
            cut: None,
        };
    }
    if let Some(rest) = path.strip_prefix("/lfs/") {
        let segs: Vec<&str> = rest.splitn(3, '/').collect();
        if segs.len() != 3 {
            return not_found("EntryNotFound");
        }
        let name = format!("{}/{}", segs[0], segs[1]);
        let file = percent_decode(segs[2]);
        let Some(f) = st.repos.get(&name).and_then(|r| r.files.get(&file)) else {
            return not_found("EntryNotFound");
        };
        let bytes = f.bytes.clone();
        return serve_bytes(req, st, bytes);
    }
    let Some((name, rev, file)) = parse_resolve(path) else {
        return not_found("EntryNotFound");
    };
    let Some(repo) = st.repos.get(&name) else {
        return not_found("RepoNotFound");
    };
    if !repo.revisions.contains(&rev) {
        return not_found("RevisionNotFound");
    }
    let Some(f) = repo.files.get(&file) else {
        return not_found("EntryNotFound");
    };
    let commit = repo.commit.clone();
    let sha = if st.wrong_sha {
        sha256_hex(b"not the file")
    } else {
        f.sha256.clone()
    };
    let (lfs, bytes) = (f.lfs, f.bytes.clone());
    let encoded_file: Vec<String> = file.split('/').map(str::to_string).collect();
    let location = format!("/lfs/{name}/{}", encoded_file.join("/"));
    match (req.method.as_str(), lfs) {
        ("HEAD", true) => Answer::status(
            302,
            vec![
                h("Location", location),
                h("X-Linked-Etag", format!("\"{sha}\"")),
                h("X-Linked-Size", bytes.len().to_string()),
                h("X-Repo-Commit", commit),
                h("ETag", "\"0000000000000000000000000000000000000000\""),
            ],
        ),
        ("HEAD", false) => {
            // A plain (non-LFS) file's ETag is its git blob sha1: 40 hex digits, no sha256.
            let mut a = Answer::status(
                200,
                vec![
                    h("ETag", format!("\"{}\"", &f.sha256[..40])),
                    h("X-Repo-Commit", commit),
                ],
            );
            a.body = bytes; // only its length is sent for HEAD
            a
        }
        ("GET", true) => Answer::status(302, vec![h("Location", location)]),
        ("GET", false) => serve_bytes(req, st, bytes),
        _ => Answer::status(405, vec![]),
    }
}

fn serve_bytes(req: &Request, st: &mut State, bytes: Arc<Vec<u8>>) -> Answer {
    let len = bytes.len();
    let cut = if req.method == "GET" {
        st.cut_after.take()
    } else {
        None
    };
    let range_start = req
        .header("Range")
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|r| r.strip_suffix('-'))
        .and_then(|n| n.parse::<usize>().ok());
    match range_start {
        Some(start) if !st.ignore_range => {
            if start >= len {
                return Answer::status(416, vec![h("Content-Range", format!("bytes */{len}"))]);
            }
            Answer {
                status: 206,
                headers: vec![h(
                    "Content-Range",
                    format!("bytes {start}-{}/{len}", len - 1),
                )],
                body: bytes,
                from: start,
                cut,
            }
        }
        _ => Answer {
            status: 200,
            headers: vec![],
            body: bytes,
            from: 0,
            cut,
        },
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        206 => "Partial Content",
        302 => "Found",
        401 => "Unauthorized",
        404 => "Not Found",
        405 => "Method Not Allowed",
        416 => "Range Not Satisfiable",
        _ => "Other",
    }
}

fn write_answer(stream: &mut TcpStream, req: &Request, a: Answer) -> std::io::Result<()> {
    let body = a.body.get(a.from..).unwrap_or_default();
    let mut head = format!("HTTP/1.1 {} {}\r\n", a.status, reason(a.status));
    for (k, v) in &a.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    ));
    stream.write_all(head.as_bytes())?;
    if req.method != "HEAD" {
        let send = match a.cut {
            Some(n) => body.get(..n).unwrap_or(body),
            None => body,
        };
        stream.write_all(send)?;
    }
    stream.flush()?;
    let _ = stream.shutdown(std::net::Shutdown::Write);
    Ok(())
}
