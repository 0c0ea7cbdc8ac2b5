//! `Cache`: where hub files live on disk and how a finished, verified file is recognised.
//!
//! Layout under the cache root:
//!
//! ```text
//! hub/{owner}--{repo}/{revision}/{file}            the file, only ever renamed into place whole
//! hub/{owner}--{repo}/{revision}/{file}.sha256     "{sha256}  {name}\n" (sha256sum -c format),
//!                                                  written after the file: its presence means verified
//! hub/{owner}--{repo}/{revision}/{file}.part       a download in progress (resumed from its length)
//! hub/{owner}--{repo}/{revision}/{file}.lock       locked by the process downloading the file
//! hub/{owner}--{repo}/{revision}/.inferno-repo.json  for a whole-repo download, the files it holds
//! ```
//!
//! A `/` in a revision (`refs/pr/1`) is stored as `%2F`, so each revision is one folder.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::digest::sha256_file;
use crate::model_ref::RepoId;
use crate::Error;

/// Name of the whole-repository manifest inside a revision folder.
pub const MANIFEST_NAME: &str = ".inferno-repo.json";

/// The list of files a whole-repository download completed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Manifest {
    pub repo: String,
    pub revision: String,
    /// The commit the revision pointed at when downloaded, when the hub said.
    pub commit: Option<String>,
    pub files: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Cache {
    root: PathBuf,
}

impl Cache {
    pub fn new(root: impl Into<PathBuf>) -> Cache {
        Cache { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `{root}/hub/{owner}--{repo}/{revision}`.
    pub fn revision_dir(&self, repo: &RepoId, revision: &str) -> PathBuf {
        self.root
            .join("hub")
            .join(format!("{}--{}", repo.owner, repo.name))
            .join(revision.replace('/', "%2F"))
    }

    /// Where `file` (a `/`-separated path inside the repository) lives in `dir`.
    pub fn file_path(dir: &Path, file: &str) -> PathBuf {
        file.split('/')
            .fold(dir.to_path_buf(), |p, seg| p.join(seg))
    }

    /// `{path}.part`.
    pub fn part_path(path: &Path) -> PathBuf {
        with_suffix(path, ".part")
    }

    /// `{path}.lock`: held (an OS file lock) while a process downloads `path`.
    pub fn lock_path(path: &Path) -> PathBuf {
        with_suffix(path, ".lock")
    }

    /// `{path}.sha256`.
    pub fn sha_path(path: &Path) -> PathBuf {
        with_suffix(path, ".sha256")
    }

    /// The recorded sha256 of a finished file, or `None` when the file or its record is missing or
    /// unreadable (then it is downloaded again). With `verify`, the file is re-hashed and a
    /// mismatch is `None` too.
    pub fn verified_sha(path: &Path, verify: bool) -> Option<String> {
        if !path.is_file() {
            return None;
        }
        let text = fs::read_to_string(Cache::sha_path(path)).ok()?;
        let sha = text.split_whitespace().next()?;
        if sha.len() != 64 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        if verify {
            let actual = sha256_file(path).ok()?;
            if !actual.eq_ignore_ascii_case(sha) {
                tracing::warn!(path = %path.display(), "cached file no longer matches its sha256");
                return None;
            }
        }
        Some(sha.to_ascii_lowercase())
    }

    /// Records `sha` as the verified sha256 of `path` (atomically).
    pub fn write_sha(path: &Path, sha: &str) -> Result<(), Error> {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        write_atomic(
            &Cache::sha_path(path),
            format!("{sha}  {name}\n").as_bytes(),
        )
    }

    /// The whole-repository manifest of `dir`, when present and readable.
    pub fn read_manifest(dir: &Path) -> Option<Manifest> {
        let bytes = fs::read(dir.join(MANIFEST_NAME)).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    pub fn write_manifest(dir: &Path, manifest: &Manifest) -> Result<(), Error> {
        let path = dir.join(MANIFEST_NAME);
        let bytes = serde_json::to_vec_pretty(manifest).map_err(|e| {
            Error::io(
                &path,
                std::io::Error::new(std::io::ErrorKind::InvalidData, e),
            )
        })?;
        write_atomic(&path, &bytes)
    }
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_os_string();
    s.push(suffix);
    PathBuf::from(s)
}

/// Writes `bytes` to `{path}.tmp`, fsyncs, renames over `path` and fsyncs the folder.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let tmp = with_suffix(path, ".tmp");
    let mut f = File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
    f.write_all(bytes).map_err(|e| Error::io(&tmp, e))?;
    f.sync_all().map_err(|e| Error::io(&tmp, e))?;
    drop(f);
    rename_durable(&tmp, path)
}

/// Renames `from` over `to` and fsyncs the folder so the rename survives a crash.
pub(crate) fn rename_durable(from: &Path, to: &Path) -> Result<(), Error> {
    fs::rename(from, to).map_err(|e| Error::io(to, e))?;
    if let Some(dir) = to.parent() {
        // Directory fsync is a Unix notion; where a folder cannot be opened this is best effort.
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout() {
        let c = Cache::new("/c");
        let repo = RepoId {
            owner: "Qwen".into(),
            name: "Qwen3-0.6B".into(),
        };
        assert_eq!(
            c.revision_dir(&repo, "main"),
            PathBuf::from("/c/hub/Qwen--Qwen3-0.6B/main")
        );
        assert_eq!(
            c.revision_dir(&repo, "refs/pr/1"),
            PathBuf::from("/c/hub/Qwen--Qwen3-0.6B/refs%2Fpr%2F1")
        );
        let f = Cache::file_path(Path::new("/d"), "sub/x.gguf");
        assert_eq!(f, PathBuf::from("/d/sub/x.gguf"));
        assert_eq!(Cache::part_path(&f), PathBuf::from("/d/sub/x.gguf.part"));
        assert_eq!(Cache::sha_path(&f), PathBuf::from("/d/sub/x.gguf.sha256"));
    }
}
