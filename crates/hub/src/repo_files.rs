//! Which files of a hub repository make a model directory the loader can open
//! (`formats::HfModelDir`): `config.json`, the tokenizer and generation files, and the safetensors
//! weights — the shards named by `model.safetensors.index.json` when there is one, else
//! `model.safetensors`, else every top-level `*.safetensors`. Only top-level files are taken
//! (subfolders hold other formats: onnx, original checkpoints, ...).

use std::collections::HashSet;
use std::path::Path;

use crate::model_ref::{is_safe_repo_path, RepoId};
use crate::Error;

/// Needed: without it there is no model directory.
pub(crate) const CONFIG: &str = "config.json";
/// Taken when the repository has them.
pub(crate) const OPTIONAL: &[&str] = &[
    "generation_config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "chat_template.jinja",
];
pub(crate) const INDEX: &str = "model.safetensors.index.json";
const SINGLE: &str = "model.safetensors";

/// How the weights are found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Weights {
    /// Download the index, then the shards it names.
    Index,
    /// These files.
    Files(Vec<String>),
}

/// The files to fetch: the small ones (config first), and the weights.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Plan {
    pub small: Vec<String>,
    pub weights: Weights,
}

/// Chooses the files of `listing` to download for a whole-repository model.
pub(crate) fn plan(repo: &RepoId, revision: &str, listing: &[String]) -> Result<Plan, Error> {
    let top: HashSet<&str> = listing
        .iter()
        .map(String::as_str)
        .filter(|f| !f.contains('/'))
        .collect();
    let not_a_model = |missing: &str| {
        let ggufs: Vec<&str> = listing
            .iter()
            .map(String::as_str)
            .filter(|f| f.to_ascii_lowercase().ends_with(".gguf"))
            .take(20)
            .collect();
        let hint = if ggufs.is_empty() {
            String::new()
        } else {
            format!(
                "; it holds GGUF files, name one as {repo}:FILE, e.g. {repo}:{} (files: {})",
                ggufs.first().copied().unwrap_or_default(),
                ggufs.join(", ")
            )
        };
        Error::NotAModelRepo {
            repo: repo.to_string(),
            revision: revision.to_string(),
            missing: missing.to_string(),
            hint,
        }
    };
    if !top.contains(CONFIG) {
        return Err(not_a_model(
            "config.json (not a Hugging Face model repository)",
        ));
    }
    let mut small = vec![CONFIG.to_string()];
    small.extend(
        OPTIONAL
            .iter()
            .filter(|f| top.contains(**f))
            .map(|f| f.to_string()),
    );
    let weights = if top.contains(INDEX) {
        Weights::Index
    } else if top.contains(SINGLE) {
        Weights::Files(vec![SINGLE.to_string()])
    } else {
        let mut all: Vec<String> = top
            .iter()
            .filter(|f| f.ends_with(".safetensors"))
            .map(|f| f.to_string())
            .collect();
        if all.is_empty() {
            return Err(not_a_model("safetensors weights"));
        }
        all.sort();
        Weights::Files(all)
    };
    for f in small.iter().chain(match &weights {
        Weights::Files(v) => v.iter(),
        Weights::Index => [].iter(),
    }) {
        check_name(repo, f)?;
    }
    Ok(Plan { small, weights })
}

/// The shard files named by a downloaded `model.safetensors.index.json` (`weight_map` values),
/// deduplicated in first-seen order; each must be a plain relative path listed in the repository.
pub(crate) fn shards_from_index(
    repo: &RepoId,
    index_path: &Path,
    listing: &[String],
) -> Result<Vec<String>, Error> {
    let bad = |reason: String| Error::BadListing {
        url: index_path.display().to_string(),
        reason,
    };
    let bytes = std::fs::read(index_path).map_err(|e| Error::io(index_path, e))?;
    let json: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| bad(format!("not JSON ({e})")))?;
    let map = json
        .get("weight_map")
        .and_then(|m| m.as_object())
        .ok_or_else(|| bad("no weight_map object".into()))?;
    let listed: HashSet<&str> = listing.iter().map(String::as_str).collect();
    let mut seen = HashSet::new();
    let mut shards = Vec::new();
    for (tensor, file) in map {
        let file = file
            .as_str()
            .ok_or_else(|| bad(format!("weight_map[{tensor}] is not a file name")))?;
        check_name(repo, file)?;
        if !listed.contains(file) {
            return Err(bad(format!(
                "weight_map names {file}, which the repository does not list"
            )));
        }
        if seen.insert(file.to_string()) {
            shards.push(file.to_string());
        }
    }
    if shards.is_empty() {
        return Err(bad("weight_map is empty".into()));
    }
    Ok(shards)
}

fn check_name(repo: &RepoId, name: &str) -> Result<(), Error> {
    if is_safe_repo_path(name) {
        Ok(())
    } else {
        Err(Error::UnsafeFileName {
            repo: repo.to_string(),
            name: name.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo() -> RepoId {
        RepoId {
            owner: "o".into(),
            name: "r".into(),
        }
    }

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn single_file_repo() {
        let l = names(&[
            ".gitattributes",
            "README.md",
            "config.json",
            "model.safetensors",
            "tokenizer.json",
            "onnx/model.safetensors",
        ]);
        let p = plan(&repo(), "main", &l).unwrap();
        assert_eq!(p.small, names(&["config.json", "tokenizer.json"]));
        assert_eq!(p.weights, Weights::Files(names(&["model.safetensors"])));
    }

    #[test]
    fn sharded_and_unnamed() {
        let l = names(&["config.json", INDEX, "a.safetensors"]);
        assert_eq!(plan(&repo(), "main", &l).unwrap().weights, Weights::Index);
        let l = names(&["config.json", "b.safetensors", "a.safetensors"]);
        assert_eq!(
            plan(&repo(), "main", &l).unwrap().weights,
            Weights::Files(names(&["a.safetensors", "b.safetensors"]))
        );
    }

    #[test]
    fn gguf_repo_is_not_a_model_dir_and_says_so() {
        let l = names(&["README.md", "m-Q4_K_M.gguf"]);
        let e = plan(&repo(), "main", &l).unwrap_err().to_string();
        assert!(
            e.contains("config.json") && e.contains("o/r:m-Q4_K_M.gguf"),
            "{e}"
        );
        let l = names(&["config.json", "m.gguf"]);
        let e = plan(&repo(), "main", &l).unwrap_err().to_string();
        assert!(e.contains("safetensors"), "{e}");
    }
}
