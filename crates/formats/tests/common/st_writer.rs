//! A tiny test-only safetensors writer: 8-byte LE header length, JSON header, data.
#![allow(dead_code)]

use serde_json::{json, Map, Value};

pub struct StTensor {
    pub name: String,
    pub dtype: String,
    pub shape: Vec<usize>,
    pub data: Vec<u8>,
}

/// Writes the tensors back to back in the given order, with optional `__metadata__`.
pub fn write(tensors: &[StTensor], metadata: Option<Value>) -> Vec<u8> {
    let mut header = Map::new();
    if let Some(m) = metadata {
        header.insert("__metadata__".into(), m);
    }
    let mut off = 0usize;
    for t in tensors {
        header.insert(
            t.name.clone(),
            json!({"dtype": t.dtype, "shape": t.shape, "data_offsets": [off, off + t.data.len()]}),
        );
        off += t.data.len();
    }
    let data: Vec<u8> = tensors
        .iter()
        .flat_map(|t| t.data.iter().copied())
        .collect();
    with_header(&Value::Object(header).to_string(), &data)
}

/// A file with this exact header text (padded with spaces to 8 bytes, as the format allows).
pub fn with_header(header: &str, data: &[u8]) -> Vec<u8> {
    let mut h = header.as_bytes().to_vec();
    while !h.len().is_multiple_of(8) {
        h.push(b' ');
    }
    let mut out = (h.len() as u64).to_le_bytes().to_vec();
    out.extend(h);
    out.extend(data);
    out
}

pub fn f32_tensor(name: &str, shape: &[usize], values: impl IntoIterator<Item = f32>) -> StTensor {
    StTensor {
        name: name.into(),
        dtype: "F32".into(),
        shape: shape.to_vec(),
        data: values.into_iter().flat_map(f32::to_le_bytes).collect(),
    }
}
