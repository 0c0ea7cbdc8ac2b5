//! `resolve`: a `--model` argument → the local path to hand to the loader (a GGUF file or a model
//! directory). Local paths pass through; hub ids are served from the cache when every file is there
//! and verified (no network call at all), else downloaded (unless offline).

use std::path::PathBuf;

use crate::cache::{Cache, Manifest};
use crate::client::HubClient;
use crate::download::download_file;
use crate::model_ref::{HubRef, ModelRef};
use crate::repo_files::{plan, shards_from_index, Weights, INDEX};
use crate::{Error, ResolveOptions};

/// Where the resolved files came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// A local path given as is.
    Local,
    /// Every file was already in the cache; nothing was asked of the network.
    Cache,
    /// The hub was contacted and the missing files were downloaded.
    Download,
}

#[derive(Debug, Clone)]
pub struct ResolvedModel {
    /// What to load: a GGUF file, or a model directory (config.json + safetensors + tokenizer).
    pub path: PathBuf,
    pub model_ref: ModelRef,
    pub origin: Origin,
    /// The files of a hub model in the cache (empty for a local path).
    pub files: Vec<PathBuf>,
    /// Bytes that came over the network in this call.
    pub bytes_downloaded: u64,
}

/// Resolves a `--model` argument: an existing path, `owner/repo` (a Hugging Face model
/// directory) or `owner/repo:file.gguf`, optionally with `@revision`.
pub fn resolve(arg: &str, opts: &ResolveOptions) -> Result<ResolvedModel, Error> {
    let model_ref = ModelRef::parse(arg)?;
    resolve_ref(&model_ref, opts).map_err(|e| not_local_either(e, arg))
}

/// Resolves an already parsed reference.
pub fn resolve_ref(model_ref: &ModelRef, opts: &ResolveOptions) -> Result<ResolvedModel, Error> {
    match model_ref {
        ModelRef::Local(path) => Ok(ResolvedModel {
            path: path.clone(),
            model_ref: model_ref.clone(),
            origin: Origin::Local,
            files: Vec::new(),
            bytes_downloaded: 0,
        }),
        ModelRef::Hub(hub) => {
            let (path, files, bytes, origin) = match &hub.file {
                Some(file) => resolve_file(hub, file, opts)?,
                None => resolve_repo(hub, opts)?,
            };
            tracing::info!(model = %hub, path = %path.display(), ?origin, bytes, "model resolved");
            Ok(ResolvedModel {
                path,
                model_ref: model_ref.clone(),
                origin,
                files,
                bytes_downloaded: bytes,
            })
        }
    }
}

type Resolved = (PathBuf, Vec<PathBuf>, u64, Origin);

fn resolve_file(hub: &HubRef, file: &str, opts: &ResolveOptions) -> Result<Resolved, Error> {
    let cache = Cache::new(&opts.cache_dir);
    let dir = cache.revision_dir(&hub.repo, &hub.revision);
    let dest = Cache::file_path(&dir, file);
    if Cache::verified_sha(&dest, opts.verify_cached).is_some() {
        tracing::debug!(path = %dest.display(), "cached");
        return Ok((dest.clone(), vec![dest], 0, Origin::Cache));
    }
    if opts.offline {
        return Err(Error::OfflineMiss {
            what: format!("{file} of {}@{}", hub.repo, hub.revision),
            dir,
        });
    }
    let client = HubClient::new(opts)?;
    let bytes = download_file(&client, &hub.repo, &hub.revision, file, &dest, opts)
        .map_err(|e| with_gguf_listing(e, &client, hub))?;
    Ok((dest.clone(), vec![dest], bytes, Origin::Download))
}

fn resolve_repo(hub: &HubRef, opts: &ResolveOptions) -> Result<Resolved, Error> {
    let cache = Cache::new(&opts.cache_dir);
    let dir = cache.revision_dir(&hub.repo, &hub.revision);
    if let Some(files) = cached_repo(&dir, opts.verify_cached) {
        tracing::debug!(dir = %dir.display(), "cached");
        return Ok((dir, files, 0, Origin::Cache));
    }
    if opts.offline {
        return Err(Error::OfflineMiss {
            what: format!("repository {}@{}", hub.repo, hub.revision),
            dir,
        });
    }
    let client = HubClient::new(opts)?;
    let listing = client.list_repo(&hub.repo, &hub.revision)?;
    let plan = plan(&hub.repo, &hub.revision, &listing.files)?;

    let mut names = plan.small.clone();
    let mut bytes = 0u64;
    let fetch = |name: &str, bytes: &mut u64| -> Result<PathBuf, Error> {
        let dest = Cache::file_path(&dir, name);
        if Cache::verified_sha(&dest, opts.verify_cached).is_none() {
            *bytes += download_file(&client, &hub.repo, &hub.revision, name, &dest, opts)?;
        }
        Ok(dest)
    };
    for name in &plan.small {
        fetch(name, &mut bytes)?;
    }
    let weights = match plan.weights {
        Weights::Files(v) => v,
        Weights::Index => {
            let index = fetch(INDEX, &mut bytes)?;
            names.push(INDEX.to_string());
            shards_from_index(&hub.repo, &index, &listing.files)?
        }
    };
    for name in &weights {
        fetch(name, &mut bytes)?;
    }
    names.extend(weights);

    Cache::write_manifest(
        &dir,
        &Manifest {
            repo: hub.repo.to_string(),
            revision: hub.revision.clone(),
            commit: listing.commit,
            files: names.clone(),
        },
    )?;
    let files = names.iter().map(|n| Cache::file_path(&dir, n)).collect();
    Ok((dir, files, bytes, Origin::Download))
}

/// The files of a completed whole-repository download, when every one is still there and verified.
fn cached_repo(dir: &std::path::Path, verify: bool) -> Option<Vec<PathBuf>> {
    let manifest = Cache::read_manifest(dir)?;
    let mut files = Vec::with_capacity(manifest.files.len());
    for name in &manifest.files {
        if !crate::model_ref::is_safe_repo_path(name) {
            return None;
        }
        let path = Cache::file_path(dir, name);
        Cache::verified_sha(&path, verify)?;
        files.push(path);
    }
    (!files.is_empty()).then_some(files)
}

/// A 404 for one file: name the GGUF files the repository does have (one more request, only on
/// this error path).
fn with_gguf_listing(e: Error, client: &HubClient, hub: &HubRef) -> Error {
    let Error::NotFound {
        what,
        endpoint,
        code,
        hint,
    } = e
    else {
        return e;
    };
    let mut hint = hint;
    if let Ok(listing) = client.list_repo(&hub.repo, &hub.revision) {
        let ggufs: Vec<&str> = listing
            .files
            .iter()
            .map(String::as_str)
            .filter(|f| f.to_ascii_lowercase().ends_with(".gguf"))
            .take(20)
            .collect();
        if ggufs.is_empty() {
            hint.push_str(&format!("; {} has no .gguf files", hub.repo));
        } else {
            hint.push_str(&format!("; its .gguf files: {}", ggufs.join(", ")));
        }
    }
    Error::NotFound {
        what,
        endpoint,
        code,
        hint,
    }
}

/// A hub 404/401 for an argument that could also have been a mistyped local path says that no
/// such path exists either.
fn not_local_either(e: Error, arg: &str) -> Error {
    match e {
        Error::NotFound {
            what,
            endpoint,
            code,
            hint,
        } => Error::NotFound {
            what,
            endpoint,
            code,
            hint: format!("{hint} (and there is no local path '{arg}')"),
        },
        Error::AccessDenied {
            what,
            endpoint,
            status,
            code,
            hint,
        } => Error::AccessDenied {
            what,
            endpoint,
            status,
            code,
            hint: format!("{hint} (and there is no local path '{arg}')"),
        },
        other => other,
    }
}
