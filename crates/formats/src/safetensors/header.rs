//! The safetensors header: 8-byte little-endian length, then a JSON object mapping tensor names to
//! `{dtype, shape, data_offsets}` (offsets relative to the data section), plus an optional
//! `__metadata__` string map. Every entry is validated against the data section.

use std::collections::{BTreeMap, HashSet};
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

use super::dtype::SafetensorsDtype;
use crate::Error;

/// Header lengths above this are rejected before reading the JSON (real headers are < 1 MB).
pub const MAX_HEADER_BYTES: u64 = 100_000_000;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SafetensorsTensorInfo {
    pub name: String,
    pub dtype: SafetensorsDtype,
    /// Row-major, as stored.
    pub shape: Vec<usize>,
    /// Absolute offset in the file.
    pub offset: u64,
    pub n_bytes: usize,
}

pub(crate) struct Header {
    pub metadata: Vec<(String, String)>,
    /// Sorted by offset.
    pub tensors: Vec<SafetensorsTensorInfo>,
    pub data_offset: u64,
}

/// Dimensions allowed in a shape (real checkpoints use at most 5); bounds memory per entry.
pub const MAX_SHAPE_DIMS: usize = 64;

/// A tensor entry as written: validated against the data section in `parse_entry`.
struct RawTensor {
    dtype: String,
    shape: Vec<usize>,
    data_offsets: [u64; 2],
}

/// A header entry: the `__metadata__` string map or a tensor.
enum RawEntry {
    Metadata(Vec<(String, String)>),
    Tensor(RawTensor),
}

/// The header object as an ordered list of entries, so duplicate keys are seen instead of merged.
/// Entries are deserialized into typed values directly (no `serde_json::Value` tree), which keeps
/// memory within a small factor of the header size.
struct Entries(Vec<(String, RawEntry)>);

fn prefixed<E: de::Error>(what: &str) -> impl FnOnce(E) -> E + '_ {
    move |e| E::custom(format!("{what}: {e}"))
}

impl<'de> Deserialize<'de> for Entries {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Entries;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entries, A::Error> {
                let mut v = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    let entry = if key == "__metadata__" {
                        let m = map
                            .next_value::<BTreeMap<String, String>>()
                            .map_err(prefixed("__metadata__ must map strings to strings"))?;
                        RawEntry::Metadata(m.into_iter().collect())
                    } else {
                        let what = format!("tensor '{key}'");
                        RawEntry::Tensor(map.next_value::<RawTensor>().map_err(prefixed(&what))?)
                    };
                    v.push((key, entry));
                }
                Ok(Entries(v))
            }
        }
        d.deserialize_map(V)
    }
}

impl<'de> Deserialize<'de> for RawTensor {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawTensor;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object with dtype, shape and data_offsets")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawTensor, A::Error> {
                let (mut dtype, mut shape, mut offsets) = (None, None, None);
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "dtype" => {
                            dtype = Some(map.next_value::<String>().map_err(prefixed("dtype"))?)
                        }
                        "shape" => {
                            shape = Some(map.next_value::<Shape>().map_err(prefixed("shape"))?.0)
                        }
                        "data_offsets" => {
                            offsets = Some(
                                map.next_value::<[u64; 2]>()
                                    .map_err(prefixed("data_offsets"))?,
                            )
                        }
                        _ => {
                            map.next_value::<de::IgnoredAny>()?;
                        }
                    }
                }
                Ok(RawTensor {
                    dtype: dtype.ok_or_else(|| de::Error::missing_field("dtype"))?,
                    shape: shape.ok_or_else(|| de::Error::missing_field("shape"))?,
                    data_offsets: offsets
                        .ok_or_else(|| de::Error::missing_field("data_offsets"))?,
                })
            }
        }
        d.deserialize_map(V)
    }
}

/// A shape array of at most `MAX_SHAPE_DIMS` non-negative integers.
struct Shape(Vec<usize>);

impl<'de> Deserialize<'de> for Shape {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Shape;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                write!(
                    f,
                    "an array of at most {MAX_SHAPE_DIMS} non-negative integers"
                )
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Shape, A::Error> {
                let mut dims = Vec::new();
                while let Some(d) = seq.next_element::<usize>()? {
                    if dims.len() == MAX_SHAPE_DIMS {
                        return Err(de::Error::custom(format!(
                            "more than {MAX_SHAPE_DIMS} dimensions"
                        )));
                    }
                    dims.push(d);
                }
                Ok(Shape(dims))
            }
        }
        d.deserialize_seq(V)
    }
}

fn invalid(msg: String) -> Error {
    Error::InvalidSafetensors(msg)
}

pub(crate) fn parse(buf: &[u8]) -> Result<Header, Error> {
    let len_bytes: [u8; 8] = buf
        .get(..8)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| {
            invalid(format!(
                "file has {} bytes, fewer than the 8-byte header length",
                buf.len()
            ))
        })?;
    let header_len = u64::from_le_bytes(len_bytes);
    if header_len > MAX_HEADER_BYTES {
        return Err(invalid(format!(
            "header length {header_len} exceeds the limit of {MAX_HEADER_BYTES} bytes"
        )));
    }
    let file_len = buf.len() as u64;
    let data_offset = 8 + header_len;
    if data_offset > file_len {
        return Err(invalid(format!(
            "header length {header_len} runs past the end of the {file_len}-byte file"
        )));
    }
    let json = buf
        .get(8..data_offset as usize)
        .ok_or_else(|| invalid("header out of range".to_string()))?;
    let Entries(entries) =
        serde_json::from_slice(json).map_err(|e| invalid(format!("invalid header JSON: {e}")))?;

    let data_len = file_len - data_offset;
    let mut metadata = Vec::new();
    let mut tensors = Vec::with_capacity(entries.len());
    let mut seen = HashSet::with_capacity(entries.len());
    for (name, entry) in entries {
        if !seen.insert(name.clone()) {
            return Err(invalid(format!("duplicate header key '{name}'")));
        }
        match entry {
            RawEntry::Metadata(m) => metadata = m,
            RawEntry::Tensor(raw) => {
                let t = parse_entry(&name, raw, data_offset, data_len)
                    .map_err(|e| e.context(format!("tensor '{name}'")))?;
                tensors.push(t);
            }
        }
    }
    tensors.sort_by_key(|t| t.offset);
    for pair in tensors.windows(2) {
        if let [a, b] = pair {
            let a_end = a.offset + a.n_bytes as u64;
            if b.n_bytes > 0 && a.n_bytes > 0 && b.offset < a_end {
                return Err(invalid(format!(
                    "tensor '{}' data overlaps tensor '{}' (relative offsets {} < {})",
                    b.name,
                    a.name,
                    b.offset - data_offset,
                    a_end - data_offset
                )));
            }
        }
    }
    Ok(Header {
        metadata,
        tensors,
        data_offset,
    })
}

fn parse_entry(
    name: &str,
    raw: RawTensor,
    data_offset: u64,
    data_len: u64,
) -> Result<SafetensorsTensorInfo, Error> {
    let RawTensor {
        dtype,
        shape,
        data_offsets: [begin, end],
    } = raw;
    let dtype = SafetensorsDtype::parse(&dtype).ok_or_else(|| Error::UnsupportedDtype {
        tensor: name.to_string(),
        dtype,
    })?;
    if begin > end || end > data_len {
        return Err(invalid(format!(
            "data_offsets [{begin}, {end}] are not inside the {data_len}-byte data section"
        )));
    }
    let numel = shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(|| invalid(format!("element count of shape {shape:?} overflows")))?;
    let n_bytes = dtype.n_bytes(numel).ok_or_else(|| {
        invalid(format!(
            "{numel} {dtype} elements are not a whole number of bytes"
        ))
    })?;
    if n_bytes as u64 != end - begin {
        return Err(invalid(format!(
            "shape {shape:?} of {dtype} needs {n_bytes} bytes but data_offsets [{begin}, {end}] hold {}",
            end - begin
        )));
    }
    Ok(SafetensorsTensorInfo {
        name: name.to_string(),
        dtype,
        shape,
        offset: data_offset + begin,
        n_bytes,
    })
}
