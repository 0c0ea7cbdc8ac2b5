//! Human-readable dumps for `inferno inspect`, in the spirit of llama.cpp's `gguf-dump`: header,
//! metadata (long strings and arrays abbreviated), then a tensor table.

use std::fmt::Write;

use serde_json::Value;

use crate::{GgufArray, GgufFile, GgufValue, HfModelDir, ModelConfig, SafetensorsFile};

/// Arrays show this many items, then the count.
const ARRAY_ITEMS_SHOWN: usize = 5;
/// Strings longer than this many characters are cut (the full length is shown).
const STRING_CHARS_SHOWN: usize = 60;

fn short_str(s: &str) -> String {
    let n = s.chars().count();
    if n <= STRING_CHARS_SHOWN {
        format!("{s:?}")
    } else {
        let head: String = s.chars().take(STRING_CHARS_SHOWN).collect();
        format!("{head:?}... ({n} chars)")
    }
}

fn short_value(v: &GgufValue) -> String {
    match v {
        GgufValue::String(s) => short_str(s),
        GgufValue::Array(a) => short_array(a),
        other => other.to_string(),
    }
}

fn short_array(a: &GgufArray) -> String {
    let shown: Vec<String> = (0..a.len().min(ARRAY_ITEMS_SHOWN))
        .filter_map(|i| a.get(i))
        .map(|v| short_value(&v))
        .collect();
    if a.len() > ARRAY_ITEMS_SHOWN {
        format!("[{}, ...] ({} items)", shown.join(", "), a.len())
    } else {
        format!("[{}]", shown.join(", "))
    }
}

fn shape_str(shape: &[usize]) -> String {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    format!("[{}]", dims.join(", "))
}

fn config_line(out: &mut String, cfg: Result<ModelConfig, crate::Error>) {
    match cfg {
        Ok(c) => {
            let _ = writeln!(
                out,
                "* model: {} vocab {} hidden {} ffn {} layers {} heads {}/{} (kv) head_dim {} rope_theta {} rms_eps {} ctx {} tied {} bos {:?} eos {:?}",
                c.arch,
                c.vocab_size,
                c.hidden_size,
                c.intermediate_size,
                c.n_layers,
                c.n_heads,
                c.n_kv_heads,
                c.head_dim,
                c.rope_theta,
                c.rms_norm_eps,
                c.max_position_embeddings,
                c.tie_word_embeddings,
                c.bos_token_id,
                c.eos_token_ids
            );
        }
        Err(e) => {
            let _ = writeln!(out, "* model: not loadable: {e}");
        }
    }
}

/// A table: header row and rows, each column padded to its widest cell (the last one not padded).
fn table(out: &mut String, header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut line = |cells: &[String]| {
        let mut s = String::from("   ");
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            if i + 1 == cells.len() {
                s.push_str(cell);
            } else {
                let _ = write!(s, "{cell:<w$}  ");
            }
        }
        let _ = writeln!(out, "{}", s.trim_end());
    };
    line(&header.iter().map(|h| h.to_string()).collect::<Vec<_>>());
    for row in rows {
        line(row);
    }
}

pub fn render_gguf(g: &GgufFile) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "* file: {}", g.source_name());
    let _ = writeln!(
        out,
        "* GGUF version {}, alignment {}, data offset {}, file size {} bytes",
        g.version,
        g.alignment,
        g.data_offset,
        g.file_size()
    );
    config_line(&mut out, ModelConfig::from_gguf(g));

    let _ = writeln!(out, "* {} key/value pairs:", g.metadata.len());
    let rows: Vec<Vec<String>> = g
        .metadata
        .iter()
        .enumerate()
        .map(|(i, (k, v))| {
            vec![
                (i + 1).to_string(),
                k.clone(),
                v.type_name(),
                short_value(v),
            ]
        })
        .collect();
    table(&mut out, &["#", "key", "type", "value"], &rows);

    let total: usize = g.tensors.iter().map(|t| t.n_bytes).sum();
    let _ = writeln!(out, "* {} tensors ({} bytes):", g.tensors.len(), total);
    let rows: Vec<Vec<String>> = g
        .tensors
        .iter()
        .enumerate()
        .map(|(i, t)| {
            vec![
                (i + 1).to_string(),
                t.name.clone(),
                t.dtype.name().to_string(),
                shape_str(&t.shape),
                t.offset.to_string(),
                t.n_bytes.to_string(),
            ]
        })
        .collect();
    table(
        &mut out,
        &["#", "name", "type", "shape", "offset", "bytes"],
        &rows,
    );
    out
}

fn render_safetensors_tensors(out: &mut String, files: &[&SafetensorsFile]) {
    let mut rows = Vec::new();
    for f in files {
        let file = f
            .path()
            .and_then(|p| p.file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| f.source_name());
        for t in &f.tensors {
            rows.push(vec![
                t.name.clone(),
                t.dtype.name().to_string(),
                shape_str(&t.shape),
                file.clone(),
                t.offset.to_string(),
                t.n_bytes.to_string(),
            ]);
        }
    }
    rows.sort();
    let rows: Vec<Vec<String>> = rows
        .into_iter()
        .enumerate()
        .map(|(i, mut r)| {
            r.insert(0, (i + 1).to_string());
            r
        })
        .collect();
    let _ = writeln!(out, "* {} tensors:", rows.len());
    table(
        out,
        &["#", "name", "dtype", "shape", "file", "offset", "bytes"],
        &rows,
    );
}

pub fn render_safetensors(f: &SafetensorsFile) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "* file: {} ({} bytes, data offset {})",
        f.source_name(),
        f.file_size(),
        f.data_offset
    );
    for (k, v) in &f.metadata {
        let _ = writeln!(out, "* __metadata__ {k} = {}", short_str(v));
    }
    render_safetensors_tensors(&mut out, &[f]);
    out
}

fn short_json(v: &Value) -> String {
    match v {
        Value::String(s) => short_str(s),
        Value::Array(a) if a.len() > ARRAY_ITEMS_SHOWN => {
            let shown: Vec<String> = a.iter().take(ARRAY_ITEMS_SHOWN).map(short_json).collect();
            format!("[{}, ...] ({} items)", shown.join(", "), a.len())
        }
        other => {
            let s = other.to_string();
            if s.chars().count() > STRING_CHARS_SHOWN {
                let head: String = s.chars().take(STRING_CHARS_SHOWN).collect();
                format!("{head}... ({} chars)", s.chars().count())
            } else {
                s
            }
        }
    }
}

pub fn render_hf(d: &HfModelDir) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "* Hugging Face model dir: {}", d.dir().display());
    config_line(&mut out, Ok(d.config().clone()));
    for (label, p) in [
        ("tokenizer.json", d.tokenizer_json_path()),
        ("tokenizer_config.json", d.tokenizer_config_path()),
        ("generation_config.json", d.generation_config_path()),
    ] {
        let _ = writeln!(
            out,
            "* {label}: {}",
            if p.is_some() { "present" } else { "absent" }
        );
    }
    if let Value::Object(map) = d.config_json() {
        let _ = writeln!(out, "* config.json ({} keys):", map.len());
        let rows: Vec<Vec<String>> = map
            .iter()
            .map(|(k, v)| vec![k.clone(), short_json(v)])
            .collect();
        table(&mut out, &["key", "value"], &rows);
    }
    let _ = writeln!(out, "* {} safetensors file(s):", d.files().len());
    for f in d.files() {
        let meta: Vec<String> = f.metadata.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let _ = writeln!(
            out,
            "   {} ({} bytes, {} tensors{}{})",
            f.source_name(),
            f.file_size(),
            f.tensors.len(),
            if meta.is_empty() { "" } else { ", metadata " },
            meta.join(" ")
        );
    }
    let files: Vec<&SafetensorsFile> = d.files().iter().collect();
    render_safetensors_tensors(&mut out, &files);
    out
}
