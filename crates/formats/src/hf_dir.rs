//! `HfModelDir`: a Hugging Face model directory — `config.json`, the weights (`model.safetensors`,
//! shards listed by `model.safetensors.index.json`, or every `*.safetensors`), and the paths of the
//! tokenizer / generation files when present.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};

use serde_json::Value;
use tensor::Tensor;

use crate::{Error, ModelConfig, SafetensorsFile};

/// An opened model directory. `open` reads `config.json` into a `ModelConfig`, so a directory of an
/// unsupported architecture (or with a malformed config) fails to open, naming `config.json`.
#[derive(Debug)]
pub struct HfModelDir {
    dir: PathBuf,
    config_json: Value,
    config: ModelConfig,
    /// The weight files, in the order they were opened.
    files: Vec<SafetensorsFile>,
    tokenizer_json: Option<PathBuf>,
    tokenizer_config_json: Option<PathBuf>,
    generation_config_json: Option<PathBuf>,
    /// Tensor name → index into `files`.
    index: HashMap<String, usize>,
}

fn read_json(path: &Path) -> Result<Value, Error> {
    let bytes = std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    serde_json::from_slice(&bytes).map_err(|source| Error::Json {
        path: path.to_path_buf(),
        source,
    })
}

fn existing(path: PathBuf) -> Option<PathBuf> {
    path.is_file().then_some(path)
}

/// A shard name from the index must be a plain relative path that stays inside the directory.
fn shard_path(dir: &Path, index_path: &Path, name: &str) -> Result<PathBuf, Error> {
    let rel = Path::new(name);
    if name.is_empty() || !rel.components().all(|c| matches!(c, Component::Normal(_))) {
        return Err(Error::InvalidSafetensors(format!(
            "weight_map names file '{name}', which is not a plain file name"
        ))
        .in_file(index_path));
    }
    Ok(dir.join(rel))
}

impl HfModelDir {
    pub fn open(dir: impl AsRef<Path>) -> Result<HfModelDir, Error> {
        let dir = dir.as_ref().to_path_buf();
        let config_path = dir.join("config.json");
        let config_json = read_json(&config_path)?;
        let config =
            ModelConfig::from_hf_json(&config_json).map_err(|e| e.in_file(&config_path))?;

        let index_path = dir.join("model.safetensors.index.json");
        let single_path = dir.join("model.safetensors");
        let (files, index) = if index_path.is_file() {
            open_sharded(&dir, &index_path)?
        } else if single_path.is_file() {
            open_all(vec![single_path])?
        } else {
            let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
                .map_err(|source| Error::Io {
                    path: dir.clone(),
                    source,
                })?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "safetensors") && p.is_file())
                .collect();
            if paths.is_empty() {
                return Err(Error::InvalidSafetensors(format!(
                    "no model.safetensors, model.safetensors.index.json or *.safetensors in {}",
                    dir.display()
                )));
            }
            paths.sort();
            open_all(paths)?
        };

        Ok(HfModelDir {
            tokenizer_json: existing(dir.join("tokenizer.json")),
            tokenizer_config_json: existing(dir.join("tokenizer_config.json")),
            generation_config_json: existing(dir.join("generation_config.json")),
            dir,
            config_json,
            config,
            files,
            index,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The model's hyper-parameters, from `config.json`.
    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    /// `config.json` as parsed JSON (for keys `ModelConfig` does not carry).
    pub fn config_json(&self) -> &Value {
        &self.config_json
    }

    /// The weight files, in the order they were opened.
    pub fn files(&self) -> &[SafetensorsFile] {
        &self.files
    }

    pub fn tokenizer_json_path(&self) -> Option<&Path> {
        self.tokenizer_json.as_deref()
    }

    pub fn tokenizer_config_path(&self) -> Option<&Path> {
        self.tokenizer_config_json.as_deref()
    }

    pub fn generation_config_path(&self) -> Option<&Path> {
        self.generation_config_json.as_deref()
    }

    /// The parsed `generation_config.json`, if present.
    pub fn generation_config(&self) -> Result<Option<Value>, Error> {
        self.generation_config_json
            .as_deref()
            .map(read_json)
            .transpose()
    }

    /// Which file holds `name`.
    pub fn file_of(&self, name: &str) -> Option<&SafetensorsFile> {
        self.index.get(name).and_then(|&i| self.files.get(i))
    }

    pub(crate) fn tensor_impl(&self, name: &str) -> Result<Tensor, Error> {
        let file = self.file_of(name).ok_or_else(|| Error::TensorNotFound {
            name: name.to_string(),
            source_name: self.dir.display().to_string(),
        })?;
        file.tensor(name)
    }

    /// All tensor names, sorted.
    pub(crate) fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.index.keys().cloned().collect();
        names.sort();
        names
    }

    pub(crate) fn contains(&self, name: &str) -> bool {
        self.index.contains_key(name)
    }
}

type Opened = (Vec<SafetensorsFile>, HashMap<String, usize>);

/// Opens every file; a tensor name appearing in two files is an error.
fn open_all(paths: Vec<PathBuf>) -> Result<Opened, Error> {
    let mut files = Vec::with_capacity(paths.len());
    let mut index = HashMap::new();
    for (i, path) in paths.iter().enumerate() {
        let f = SafetensorsFile::open(path)?;
        for t in &f.tensors {
            if let Some(&j) = index.get(&t.name) {
                let other = paths
                    .get(j)
                    .map(|p: &PathBuf| p.display().to_string())
                    .unwrap_or_default();
                return Err(Error::InvalidSafetensors(format!(
                    "tensor '{}' is in both {other} and {}",
                    t.name,
                    path.display()
                )));
            }
            index.insert(t.name.clone(), i);
        }
        files.push(f);
    }
    Ok((files, index))
}

/// Opens the shards named by the index's `weight_map` and checks each listed tensor is in its shard.
fn open_sharded(dir: &Path, index_path: &Path) -> Result<Opened, Error> {
    let idx = read_json(index_path)?;
    let weight_map = idx
        .get("weight_map")
        .and_then(Value::as_object)
        .ok_or_else(|| {
            Error::InvalidSafetensors("no 'weight_map' object".to_string()).in_file(index_path)
        })?;

    let mut shard_names: Vec<&str> = Vec::new();
    let mut index = HashMap::with_capacity(weight_map.len());
    for (tensor, file) in weight_map {
        let file = file.as_str().ok_or_else(|| {
            Error::InvalidSafetensors(format!(
                "weight_map entry of '{tensor}' is {file}, expected a file name"
            ))
            .in_file(index_path)
        })?;
        let i = match shard_names.iter().position(|&s| s == file) {
            Some(i) => i,
            None => {
                shard_names.push(file);
                shard_names.len() - 1
            }
        };
        index.insert(tensor.clone(), i);
    }

    let mut files = Vec::with_capacity(shard_names.len());
    for name in &shard_names {
        files.push(SafetensorsFile::open(shard_path(dir, index_path, name)?)?);
    }
    for (tensor, &i) in &index {
        let Some(f) = files.get(i) else { continue };
        if f.tensor_info(tensor).is_none() {
            return Err(Error::InvalidSafetensors(format!(
                "weight_map puts tensor '{tensor}' in {}, which does not contain it",
                f.source_name()
            ))
            .in_file(index_path));
        }
    }
    Ok((files, index))
}
