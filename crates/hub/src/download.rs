//! Downloading one hub file into the cache: HEAD for the announced sha256 and size, GET into
//! `{file}.part` (resuming with `Range: bytes=N-` when a partial is there), retries that resume
//! after a cut, then size and sha256 checks, fsync, an atomic rename to `{file}` and the
//! `{file}.sha256` record. A size or sha256 mismatch deletes the partial; a cut keeps it.
//! `{file}.lock` (an OS file lock) keeps two processes from writing the same partial: the second
//! waits, then finds the file finished.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::cache::{rename_durable, Cache};
use crate::client::{Body, FileMeta, HubClient};
use crate::digest::{hash_file_into, hex};
use crate::model_ref::RepoId;
use crate::progress::FileProgress;
use crate::{Error, ResolveOptions};

/// Bytes read from the network per write.
const BUF_SIZE: usize = 256 * 1024;

/// The outcome of one try: worth another try (a cut, a timeout, a 5xx) or not.
enum TryError {
    Retryable(Error),
    Fatal(Error),
}

/// Downloads `file` of `repo@revision` to `dest` (a path inside the cache); returns the bytes that
/// came over the network this time (fewer than the file's size after a resume).
pub(crate) fn download_file(
    client: &HubClient,
    repo: &RepoId,
    revision: &str,
    file: &str,
    dest: &Path,
    opts: &ResolveOptions,
) -> Result<u64, Error> {
    if let Some(dir) = dest.parent() {
        fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    let lock_path = Cache::lock_path(dest);
    let lock = File::create(&lock_path).map_err(|e| Error::io(&lock_path, e))?;
    match lock.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            tracing::info!(
                file,
                "another process is downloading this file; waiting for it"
            );
            lock.lock().map_err(|e| Error::io(&lock_path, e))?;
        }
        Err(std::fs::TryLockError::Error(e)) => {
            tracing::warn!(file, error = %e, "cannot lock the cache file; going on without a lock");
        }
    }
    if Cache::verified_sha(dest, false).is_some() {
        tracing::debug!(file, "finished by another process");
        return Ok(0);
    }
    let meta = client.head_file(repo, revision, file)?;
    tracing::info!(
        repo = %repo, revision, file,
        size = meta.size, sha256 = meta.sha256.as_deref().unwrap_or("-"),
        commit = meta.commit.as_deref().unwrap_or("-"),
        "downloading"
    );
    let part = Cache::part_path(dest);
    let mut transferred = 0u64;
    let mut attempt = 0u32;
    let (hasher, size) = loop {
        match try_once(
            client,
            repo,
            revision,
            file,
            &part,
            &meta,
            opts,
            &mut transferred,
        ) {
            Ok(done) => break done,
            Err(TryError::Retryable(e)) if attempt < opts.retries => {
                attempt += 1;
                tracing::warn!(file, attempt, error = %e, "download failed, retrying (resumes from the partial file)");
                std::thread::sleep(opts.retry_backoff * attempt);
            }
            Err(TryError::Retryable(e) | TryError::Fatal(e)) => return Err(e),
        }
    };

    if let Some(expected) = meta.size {
        if size != expected {
            remove_quietly(&part);
            return Err(Error::SizeMismatch {
                file: file.to_string(),
                expected,
                actual: size,
            });
        }
    }
    let actual = hex(&hasher.finalize());
    match &meta.sha256 {
        Some(expected) if *expected != actual => {
            remove_quietly(&part);
            return Err(Error::ShaMismatch {
                file: file.to_string(),
                expected: expected.clone(),
                actual,
            });
        }
        Some(_) => tracing::debug!(file, "sha256 verified"),
        None => tracing::debug!(
            file,
            "the hub announced no sha256 (not an LFS file); recording the download's own"
        ),
    }
    rename_durable(&part, dest)?;
    Cache::write_sha(dest, &actual)?;
    tracing::info!(file, size, transferred, sha256 = %actual, path = %dest.display(), "downloaded");
    Ok(transferred)
}

/// One GET into the partial file. On success the partial holds the whole body (fsynced) and the
/// hasher has seen every byte of it.
#[allow(clippy::too_many_arguments)]
fn try_once(
    client: &HubClient,
    repo: &RepoId,
    revision: &str,
    file: &str,
    part: &Path,
    meta: &FileMeta,
    opts: &ResolveOptions,
    transferred: &mut u64,
) -> Result<(Sha256, u64), TryError> {
    let fatal = TryError::Fatal;
    let mut start = fs::metadata(part).map(|m| m.len()).unwrap_or(0);
    if meta.size.is_some_and(|size| start > size) {
        tracing::debug!(
            file,
            start,
            "partial file longer than the file; starting over"
        );
        remove_quietly(part);
        start = 0;
    }
    // A partial that is already whole (cut between the last byte and the rename): just hash it.
    if start > 0 && meta.size == Some(start) {
        let mut hasher = Sha256::new();
        let n = hash_file_into(&mut hasher, part).map_err(fatal)?;
        return Ok((hasher, n));
    }

    let mut body = client
        .get_file(repo, revision, file, start)
        .map_err(classify)?;
    if start > 0 && !usable(&body, start) {
        tracing::warn!(
            file,
            start,
            "server answered another range for the partial file; starting over"
        );
        remove_quietly(part);
        start = 0;
        body = client.get_file(repo, revision, file, 0).map_err(classify)?;
    }
    if !usable(&body, start) {
        return Err(fatal(Error::BadListing {
            url: client.file_url(repo, revision, file),
            reason: format!("answered a range that was not asked for (asked from byte {start})"),
        }));
    }

    let mut hasher = Sha256::new();
    let (mut reader, total, mut out) = match body {
        Body::Partial { total, reader, .. } if start > 0 => {
            let n = hash_file_into(&mut hasher, part).map_err(fatal)?;
            if n != start {
                // The partial changed under us (another process?): start again next try.
                remove_quietly(part);
                return Err(TryError::Retryable(interrupted(
                    file,
                    part,
                    n,
                    "the partial file changed while resuming",
                )));
            }
            tracing::info!(file, from = start, "resuming");
            let f = OpenOptions::new()
                .append(true)
                .open(part)
                .map_err(|e| fatal(Error::io(part, e)))?;
            (reader, total, f)
        }
        Body::Partial { total, reader, .. } | Body::Full { total, reader } => {
            if start > 0 {
                tracing::warn!(
                    file,
                    "server ignored the Range request; downloading from the start"
                );
                start = 0;
            }
            let f = File::create(part).map_err(|e| fatal(Error::io(part, e)))?;
            (reader, total, f)
        }
        Body::RangeNotSatisfiable => {
            return Err(fatal(Error::BadListing {
                url: client.file_url(repo, revision, file),
                reason: "416 range not satisfiable".into(),
            }))
        }
    };

    let expected = meta.size.or(total);
    let progress = FileProgress::new(opts.progress, file, expected, start);
    let mut pos = start;
    let mut buf = vec![0u8; BUF_SIZE];
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                progress.abandon();
                let _ = out.sync_all();
                return Err(TryError::Retryable(interrupted(
                    file,
                    part,
                    pos,
                    &e.to_string(),
                )));
            }
        };
        let chunk = buf.get(..n).unwrap_or_default();
        out.write_all(chunk)
            .map_err(|e| fatal(Error::io(part, e)))?;
        hasher.update(chunk);
        pos += n as u64;
        *transferred += n as u64;
        progress.inc(n as u64);
        if let Some(expected) = expected {
            if pos > expected {
                progress.abandon();
                drop(out);
                remove_quietly(part);
                return Err(fatal(Error::SizeMismatch {
                    file: file.to_string(),
                    expected,
                    actual: pos,
                }));
            }
        }
    }
    out.sync_all().map_err(|e| fatal(Error::io(part, e)))?;
    if let Some(expected) = expected {
        if pos < expected {
            progress.abandon();
            return Err(TryError::Retryable(interrupted(
                file,
                part,
                pos,
                &format!("the body ended at {pos} of {expected} bytes"),
            )));
        }
    }
    progress.finish();
    Ok((hasher, pos))
}

/// Whether `body` continues from byte `start`: a 206 from there, or a 200 (the whole file).
fn usable(body: &Body, start: u64) -> bool {
    match body {
        Body::Partial { start: s, .. } => *s == start,
        Body::Full { .. } => true,
        Body::RangeNotSatisfiable => false,
    }
}

fn interrupted(file: &str, part: &Path, bytes: u64, message: &str) -> Error {
    Error::Interrupted {
        file: file.to_string(),
        bytes,
        part: part.to_path_buf(),
        message: message.to_string(),
    }
}

/// Connection failures and server-side (5xx) errors are worth another try; 4xx are not.
fn classify(e: Error) -> TryError {
    match &e {
        Error::Transport { .. } => TryError::Retryable(e),
        Error::HttpStatus { status, .. } if *status >= 500 => TryError::Retryable(e),
        _ => TryError::Fatal(e),
    }
}

fn remove_quietly(path: &Path) {
    if let Err(e) = fs::remove_file(path) {
        if e.kind() != std::io::ErrorKind::NotFound {
            tracing::warn!(path = %path.display(), error = %e, "could not delete partial file");
        }
    }
}
