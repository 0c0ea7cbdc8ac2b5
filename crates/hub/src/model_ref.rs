//! `ModelRef`: what a `--model` argument names — a local path, a whole hub repository
//! (`owner/repo`, Hugging Face layout) or one file of a repository (`owner/repo:file.gguf`), each
//! optionally at a revision (`owner/repo@v1`, `owner/repo@v1:file.gguf` or `owner/repo:file.gguf@v1`).
//!
//! A mistyped local path is never silently taken for a hub id: an argument that exists is local, one
//! that looks like a path (starts with `.`, `/` or `~`, holds a backslash, or names a `.gguf` /
//! `.safetensors` / `.json` file without a `:`) but does not exist is a "no such path" error, and
//! anything else must be a well-formed id or the error names both readings.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::Error;

/// The revision used when the argument names none.
pub const DEFAULT_REVISION: &str = "main";

/// Longest owner or repository name the hub accepts.
const MAX_NAME_LEN: usize = 96;
/// Longest revision (branch, tag or commit) accepted.
const MAX_REVISION_LEN: usize = 255;
/// Longest file path inside a repository accepted.
const MAX_FILE_LEN: usize = 1024;

/// A repository id, `owner/name`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RepoId {
    pub owner: String,
    pub name: String,
}

impl fmt::Display for RepoId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.owner, self.name)
    }
}

/// A reference to something on the hub.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubRef {
    pub repo: RepoId,
    /// `Some(path inside the repo)` for one file (a GGUF), `None` for the whole model repository.
    pub file: Option<String>,
    /// Branch, tag or commit; `main` when the argument names none.
    pub revision: String,
}

impl fmt::Display for HubRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.repo, self.revision)?;
        if let Some(file) = &self.file {
            write!(f, ":{file}")?;
        }
        Ok(())
    }
}

/// What a `--model` argument names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelRef {
    /// An existing file or directory on this machine, handed to the loader as is.
    Local(PathBuf),
    Hub(HubRef),
}

impl ModelRef {
    /// Parses a `--model` argument, asking the file system whether it exists.
    pub fn parse(arg: &str) -> Result<ModelRef, Error> {
        ModelRef::parse_with(arg, |p| p.exists())
    }

    /// Parses with `exists` standing in for the file system (tests).
    pub fn parse_with(arg: &str, exists: impl Fn(&Path) -> bool) -> Result<ModelRef, Error> {
        if arg.is_empty() {
            return Err(invalid(arg, "the argument is empty"));
        }
        if exists(Path::new(arg)) {
            return Ok(ModelRef::Local(PathBuf::from(arg)));
        }
        if looks_like_path(arg) {
            let hint = if arg.contains(':') {
                String::new()
            } else {
                " (a file inside a hub repository is written owner/repo:file.gguf)".to_string()
            };
            return Err(Error::LocalPathMissing {
                path: PathBuf::from(arg),
                hint,
            });
        }
        parse_hub(arg).map(ModelRef::Hub)
    }
}

fn invalid(arg: &str, reason: impl Into<String>) -> Error {
    Error::InvalidModelRef {
        arg: arg.to_string(),
        reason: reason.into(),
    }
}

/// Whether a (non-existent) argument can only have been meant as a local path.
fn looks_like_path(arg: &str) -> bool {
    if arg.starts_with('.') || arg.starts_with('/') || arg.starts_with('~') || arg.contains('\\') {
        return true;
    }
    if arg.contains(':') {
        return false;
    }
    let lower = arg.to_ascii_lowercase();
    [".gguf", ".safetensors", ".json"]
        .iter()
        .any(|ext| lower.ends_with(ext))
}

fn parse_hub(arg: &str) -> Result<HubRef, Error> {
    let (repo_part, file_part) = match arg.split_once(':') {
        Some((r, f)) => (r, Some(f)),
        None => (arg, None),
    };
    let (repo_str, rev_a) = match repo_part.split_once('@') {
        Some((r, v)) => (r, Some(v)),
        None => (repo_part, None),
    };
    let (file, rev_b) = match file_part {
        Some(f) => match f.rsplit_once('@') {
            Some((file, v)) => (Some(file), Some(v)),
            None => (Some(f), None),
        },
        None => (None, None),
    };
    let revision = match (rev_a, rev_b) {
        (Some(_), Some(_)) => return Err(invalid(arg, "the revision is given twice")),
        (Some(v), None) | (None, Some(v)) => v,
        (None, None) => DEFAULT_REVISION,
    };

    let repo = parse_repo(arg, repo_str)?;
    check_revision(arg, revision)?;
    let file = match file {
        Some(f) => {
            check_file(arg, f)?;
            if !f.to_ascii_lowercase().ends_with(".gguf") {
                return Err(invalid(
                    arg,
                    format!(
                        "'{f}' is not a .gguf file; a single hub file must be a GGUF, a safetensors \
                         model is named by its repository alone (owner/repo)"
                    ),
                ));
            }
            Some(f.to_string())
        }
        None => None,
    };
    Ok(HubRef {
        repo,
        file,
        revision: revision.to_string(),
    })
}

fn parse_repo(arg: &str, s: &str) -> Result<RepoId, Error> {
    let mut parts = s.split('/');
    let (Some(owner), Some(name), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err(invalid(arg, format!("'{s}' is not of the form owner/repo")));
    };
    check_name(arg, "owner", owner)?;
    check_name(arg, "repository name", name)?;
    Ok(RepoId {
        owner: owner.to_string(),
        name: name.to_string(),
    })
}

/// The hub's rules for owner and repository names: `[A-Za-z0-9._-]`, at most 96 characters, no
/// leading or trailing `-`/`.`, no `--` or `..`.
fn check_name(arg: &str, what: &str, s: &str) -> Result<(), Error> {
    let reason = if s.is_empty() {
        Some(format!("the {what} is empty"))
    } else if s.len() > MAX_NAME_LEN {
        Some(format!(
            "the {what} is longer than {MAX_NAME_LEN} characters"
        ))
    } else if let Some(c) = s
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        Some(format!("the {what} '{s}' holds '{c}'"))
    } else if s.starts_with(['-', '.']) || s.ends_with(['-', '.']) {
        Some(format!("the {what} '{s}' starts or ends with '-' or '.'"))
    } else if s.contains("--") || s.contains("..") {
        Some(format!("the {what} '{s}' holds '--' or '..'"))
    } else {
        None
    };
    match reason {
        Some(r) => Err(invalid(arg, r)),
        None => Ok(()),
    }
}

/// A branch, tag or commit: `[A-Za-z0-9._/-]`, no `..`, no empty `/` segment.
fn check_revision(arg: &str, rev: &str) -> Result<(), Error> {
    let bad = rev.is_empty()
        || rev.len() > MAX_REVISION_LEN
        || rev.contains("..")
        || rev.split('/').any(|seg| seg.is_empty() || seg == ".")
        || !rev
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/'));
    if bad {
        return Err(invalid(
            arg,
            format!("'{rev}' is not a valid revision (a branch, tag or commit)"),
        ));
    }
    Ok(())
}

/// A file path inside a repository: relative, `/`-separated, no empty, `.` or `..` segment, no
/// control characters or backslashes.
fn check_file(arg: &str, file: &str) -> Result<(), Error> {
    if !is_safe_repo_path(file) {
        return Err(invalid(
            arg,
            format!("'{file}' is not a valid file path inside a repository"),
        ));
    }
    Ok(())
}

/// Whether `name` is a plain relative path that stays inside the folder it is joined to (used for
/// the user's file argument and for every name the hub's listing or index hands back).
pub(crate) fn is_safe_repo_path(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_FILE_LEN
        && !name.contains('\\')
        && !name.chars().any(|c| c.is_control())
        && name
            .split('/')
            .all(|seg| !seg.is_empty() && seg != "." && seg != "..")
}
