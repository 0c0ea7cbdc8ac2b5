//! `ExportPlan`: everything a GGUF export writes — the metadata and, per tensor, its GGUF name,
//! where it comes from, its shape, source and target types and row order — decided before any
//! tensor data is read.

use std::path::Path;

use quant::GgmlType;
use serde_json::Value;

use super::hf_metadata::{arch_metadata, general_metadata};
use super::hf_names::{gguf_name, is_skipped};
use super::hf_vocab::{tokenizer_metadata, HfTokenizerFiles};
use super::row_order::RowOrder;
use super::type_choice::{choose_types, llama_order, TensorDesc};
use super::FileType;
use crate::{Architecture, Error, GgufFile, GgufValue, HfModelDir, WeightSource};

/// One tensor of the output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedTensor {
    /// The GGUF name written.
    pub name: String,
    /// The name to ask the source for.
    pub source_name: String,
    /// Row-major, outermost first.
    pub shape: Vec<usize>,
    pub src_dtype: GgmlType,
    pub dtype: GgmlType,
    pub row_order: RowOrder,
}

impl PlannedTensor {
    /// `ne[0]`.
    pub fn row_len(&self) -> usize {
        self.shape.last().copied().unwrap_or(0)
    }

    pub fn n_rows(&self) -> usize {
        self.shape.iter().rev().skip(1).product()
    }

    /// Copied byte for byte: same type, rows in place.
    pub fn is_copy(&self) -> bool {
        self.src_dtype == self.dtype && self.row_order == RowOrder::Identity
    }
}

#[derive(Clone, Debug)]
pub struct ExportPlan {
    pub file_type: FileType,
    pub metadata: Vec<(String, GgufValue)>,
    pub tensors: Vec<PlannedTensor>,
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

fn set_key(md: &mut Vec<(String, GgufValue)>, key: &str, value: GgufValue) {
    match md.iter_mut().find(|(k, _)| k == key) {
        Some((_, v)) => *v = value,
        None => md.push((key.to_string(), value)),
    }
}

impl ExportPlan {
    /// From a Hugging Face directory (Qwen3, Llama), as convert_hf_to_gguf.py converts it for the
    /// float types and Q8_0, then llama-quantize's rules for the other mixes. `tokenizer_pre` is the
    /// `tokenizer.ggml.pre` name (see [`super::pre_tokenizer_for_hash`]).
    pub fn from_hf(
        dir: &HfModelDir,
        file_type: FileType,
        tokenizer_pre: &str,
    ) -> Result<ExportPlan, Error> {
        let cfg = dir.config();
        let mut descs = Vec::new();
        let mut sources = Vec::new();
        let mut total_params = 0u64;
        for hf in dir.tensor_names() {
            if is_skipped(&hf) || (cfg.tie_word_embeddings && hf == "lm_head.weight") {
                continue;
            }
            let name = gguf_name(&hf).ok_or_else(|| {
                Error::Config(format!(
                    "tensor '{hf}' in {} has no GGUF name in this converter ({} layout)",
                    dir.dir().display(),
                    cfg.arch
                ))
            })?;
            let t = dir.tensor(&hf)?;
            if !matches!(t.dtype, GgmlType::F32 | GgmlType::F16 | GgmlType::BF16) {
                return Err(Error::UnsupportedDtype {
                    tensor: hf,
                    dtype: t.dtype.name().to_string(),
                });
            }
            total_params += t.numel() as u64;
            let rows = t.shape.first().copied().unwrap_or(0);
            let row_order = match cfg.arch {
                Architecture::Llama if hf.ends_with("self_attn.q_proj.weight") => {
                    RowOrder::llama_rope(rows, cfg.n_heads)?
                }
                Architecture::Llama if hf.ends_with("self_attn.k_proj.weight") => {
                    RowOrder::llama_rope(rows, cfg.n_kv_heads)?
                }
                _ => RowOrder::Identity,
            };
            descs.push(TensorDesc {
                name,
                shape: t.shape.clone(),
                dtype: t.dtype,
            });
            sources.push((hf, row_order));
        }
        let types = choose_types(file_type, &descs, false);
        let tensors = descs
            .into_iter()
            .zip(sources)
            .zip(types)
            .map(|((d, (source_name, row_order)), dtype)| PlannedTensor {
                name: d.name,
                source_name,
                shape: d.shape,
                src_dtype: d.dtype,
                dtype,
                row_order,
            })
            .collect();

        let mut metadata = general_metadata(dir, total_params)?;
        metadata.extend(arch_metadata(cfg, dir.config_json())?);
        metadata.push((
            "general.file_type".into(),
            GgufValue::U32(file_type.llama_ftype()),
        ));
        metadata.push(("general.quantization_version".into(), GgufValue::U32(2)));

        let tok_path = dir.tokenizer_json_path().ok_or_else(|| {
            Error::Config(format!("{} has no tokenizer.json", dir.dir().display()))
        })?;
        let tokenizer_json = read_json(tok_path)?;
        let tokenizer_config = dir.tokenizer_config_path().map(read_json).transpose()?;
        let jinja_path = dir.dir().join("chat_template.jinja");
        let jinja = if jinja_path.is_file() {
            Some(
                std::fs::read_to_string(&jinja_path).map_err(|source| Error::Io {
                    path: jinja_path.clone(),
                    source,
                })?,
            )
        } else {
            None
        };
        let files = HfTokenizerFiles {
            tokenizer_json: &tokenizer_json,
            tokenizer_config: tokenizer_config.as_ref(),
            config_json: dir.config_json(),
            chat_template_jinja: jinja.as_deref(),
        };
        metadata.extend(
            tokenizer_metadata(&files, cfg.vocab_size, tokenizer_pre)
                .map_err(|e| e.in_file(tok_path))?,
        );
        Ok(ExportPlan {
            file_type,
            metadata,
            tensors,
        })
    }

    /// From a GGUF file, as llama-quantize requantizes it: metadata copied (with the new
    /// `general.file_type`), tensors in llama.cpp's loader order, each dequantized and quantized to
    /// the type the rules give (copied as is when that is its type already).
    pub fn from_gguf(file: &GgufFile, file_type: FileType) -> Result<ExportPlan, Error> {
        // llama-quantize writes the tensors in its loader's order (by layer, then name).
        let names: Vec<&str> = file.tensors.iter().map(|t| t.name.as_str()).collect();
        let descs: Vec<TensorDesc> = llama_order(&names)
            .into_iter()
            .filter_map(|i| file.tensors.get(i))
            .map(|t| TensorDesc {
                name: t.name.clone(),
                shape: t.shape.clone(),
                dtype: t.dtype,
            })
            .collect();
        let types = choose_types(file_type, &descs, true);
        let mut tensors = Vec::with_capacity(descs.len());
        for (d, dtype) in descs.into_iter().zip(types) {
            if d.dtype != dtype && !quant::can_dequantize(d.dtype) {
                return Err(Error::UnsupportedDtype {
                    tensor: d.name,
                    dtype: d.dtype.name().to_string(),
                }
                .in_file(file.source_name()));
            }
            tensors.push(PlannedTensor {
                source_name: d.name.clone(),
                name: d.name,
                shape: d.shape,
                src_dtype: d.dtype,
                dtype,
                row_order: RowOrder::Identity,
            });
        }
        let mut metadata: Vec<(String, GgufValue)> = file
            .metadata
            .iter()
            .filter(|(k, _)| k != "general.alignment")
            .cloned()
            .collect();
        set_key(
            &mut metadata,
            "general.file_type",
            GgufValue::U32(file_type.llama_ftype()),
        );
        set_key(
            &mut metadata,
            "general.quantization_version",
            GgufValue::U32(2),
        );
        Ok(ExportPlan {
            file_type,
            metadata,
            tensors,
        })
    }

    /// Bytes of tensor data the output will hold (without alignment padding).
    pub fn output_bytes(&self) -> u64 {
        self.tensors
            .iter()
            .map(|t| {
                t.dtype
                    .row_bytes(t.row_len())
                    .map_or(0, |b| b as u64 * t.n_rows() as u64)
            })
            .sum()
    }
}
