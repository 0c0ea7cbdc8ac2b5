//! Parses a GGUF header (v2/v3, little-endian) from bytes: magic, version, counts, metadata, tensor
//! infos, then validates every tensor's data range against the file. All counts are checked against
//! the bytes left before anything is allocated.

use std::collections::HashSet;

use quant::GgmlType;

use super::cursor::Cursor;
use super::tensor_info::GgufTensorInfo;
use super::value::{GgufArray, GgufValue, GgufValueType};
use crate::Error;

pub(crate) const GGUF_MAGIC: &[u8; 4] = b"GGUF";
pub(crate) const DEFAULT_ALIGNMENT: u64 = 32;
const ALIGNMENT_KEY: &str = "general.alignment";
/// ggml's GGML_MAX_DIMS.
pub(crate) const MAX_DIMS: u32 = 4;
/// Nesting limit for arrays of arrays (real files use at most one level).
const MAX_ARRAY_DEPTH: usize = 8;
/// Smallest possible metadata entry: key length (8) + value type (4) + a 1-byte value.
const MIN_KV_BYTES: u64 = 13;
/// Smallest possible tensor info: name length (8) + n_dims (4) + type (4) + offset (8).
const MIN_TENSOR_INFO_BYTES: u64 = 24;

/// Everything in a GGUF file except the tensor data itself.
pub(crate) struct Header {
    pub version: u32,
    pub alignment: u64,
    pub metadata: Vec<(String, GgufValue)>,
    pub tensors: Vec<GgufTensorInfo>,
    pub data_offset: u64,
}

pub(crate) fn parse(buf: &[u8]) -> Result<Header, Error> {
    let mut cur = Cursor::new(buf);

    let magic = cur.bytes(4, "magic")?;
    if magic != GGUF_MAGIC {
        return Err(Error::BadMagic {
            found: magic.to_vec(),
        });
    }
    let version = cur.u32("version")?;
    if version != 2 && version != 3 {
        if matches!(version.swap_bytes(), 2 | 3) {
            return Err(Error::InvalidGguf {
                offset: 4,
                msg: format!(
                    "version field reads {version} little-endian but {} big-endian: big-endian GGUF files are not supported",
                    version.swap_bytes()
                ),
            });
        }
        return Err(Error::UnsupportedVersion { version });
    }
    let n_tensors = cur.u64("tensor count")?;
    let n_kv = cur.u64("metadata kv count")?;

    let (metadata, alignment) = read_metadata(&mut cur, n_kv)?;
    let mut tensors = read_tensor_infos(&mut cur, n_tensors)?;

    let header_end = cur.pos() as u64;
    let data_offset = align_up(header_end, alignment).ok_or_else(|| Error::InvalidGguf {
        offset: header_end,
        msg: format!("data section start overflows when aligned to {alignment}"),
    })?;
    place_tensors(&mut tensors, data_offset, alignment, buf.len() as u64)?;

    Ok(Header {
        version,
        alignment,
        metadata,
        tensors,
        data_offset,
    })
}

/// Reads the key/value pairs and returns them with the file's alignment (validated where read).
fn read_metadata(
    cur: &mut Cursor<'_>,
    n_kv: u64,
) -> Result<(Vec<(String, GgufValue)>, u64), Error> {
    let n = cur.check_count(n_kv, MIN_KV_BYTES, "metadata kv count")?;
    let mut metadata = Vec::with_capacity(n);
    let mut seen = HashSet::with_capacity(n);
    let mut alignment = DEFAULT_ALIGNMENT;
    for i in 0..n {
        let key = cur
            .string("metadata key")
            .map_err(|e| e.context(format!("metadata entry #{i}")))?;
        let ctx = |e: Error| e.context(format!("metadata key '{key}' (entry #{i})"));
        if !seen.insert(key) {
            return Err(ctx(Error::InvalidGguf {
                offset: cur.pos() as u64,
                msg: "duplicate metadata key".to_string(),
            }));
        }
        let ty = read_value_type(cur, "value type").map_err(ctx)?;
        let value_at = cur.pos() as u64;
        let value = read_value(cur, ty, 0).map_err(ctx)?;
        if key == ALIGNMENT_KEY {
            alignment = check_alignment(&value, value_at).map_err(ctx)?;
        }
        metadata.push((key.to_string(), value));
    }
    Ok((metadata, alignment))
}

fn read_value_type(cur: &mut Cursor<'_>, what: &str) -> Result<GgufValueType, Error> {
    let at = cur.pos() as u64;
    let id = cur.u32(what)?;
    GgufValueType::from_id(id).ok_or_else(|| Error::InvalidGguf {
        offset: at,
        msg: format!("unknown {what} id {id}"),
    })
}

fn read_value(cur: &mut Cursor<'_>, ty: GgufValueType, depth: usize) -> Result<GgufValue, Error> {
    use GgufValueType as T;
    Ok(match ty {
        T::U8 => GgufValue::U8(cur.u8("u8 value")?),
        T::I8 => GgufValue::I8(cur.i8("i8 value")?),
        T::U16 => GgufValue::U16(cur.u16("u16 value")?),
        T::I16 => GgufValue::I16(cur.i16("i16 value")?),
        T::U32 => GgufValue::U32(cur.u32("u32 value")?),
        T::I32 => GgufValue::I32(cur.i32("i32 value")?),
        T::U64 => GgufValue::U64(cur.u64("u64 value")?),
        T::I64 => GgufValue::I64(cur.i64("i64 value")?),
        T::F32 => GgufValue::F32(cur.f32("f32 value")?),
        T::F64 => GgufValue::F64(cur.f64("f64 value")?),
        T::Bool => GgufValue::Bool(cur.bool("bool value")?),
        T::String => GgufValue::String(cur.string("string value")?.to_string()),
        T::Array => GgufValue::Array(read_array(cur, depth)?),
    })
}

/// Reads `n` fixed-size little-endian values of `N` bytes each.
fn read_fixed<T, const N: usize>(
    cur: &mut Cursor<'_>,
    n: usize,
    what: &str,
    decode: fn([u8; N]) -> T,
) -> Result<Vec<T>, Error> {
    let len = n
        .checked_mul(N)
        .ok_or_else(|| cur.truncated(what, u64::MAX))?;
    let bytes = cur.bytes(len, what)?;
    Ok(bytes
        .chunks_exact(N)
        .map(|c| {
            let mut a = [0u8; N];
            a.copy_from_slice(c);
            decode(a)
        })
        .collect())
}

fn read_array(cur: &mut Cursor<'_>, depth: usize) -> Result<GgufArray, Error> {
    use GgufValueType as T;
    let elem = read_value_type(cur, "array element type")?;
    let count = cur.u64("array length")?;
    let n = cur.check_count(count, elem.min_bytes(), "array")?;
    Ok(match elem {
        T::U8 => GgufArray::U8(read_fixed(cur, n, "u8 array", u8::from_le_bytes)?),
        T::I8 => GgufArray::I8(read_fixed(cur, n, "i8 array", i8::from_le_bytes)?),
        T::U16 => GgufArray::U16(read_fixed(cur, n, "u16 array", u16::from_le_bytes)?),
        T::I16 => GgufArray::I16(read_fixed(cur, n, "i16 array", i16::from_le_bytes)?),
        T::U32 => GgufArray::U32(read_fixed(cur, n, "u32 array", u32::from_le_bytes)?),
        T::I32 => GgufArray::I32(read_fixed(cur, n, "i32 array", i32::from_le_bytes)?),
        T::U64 => GgufArray::U64(read_fixed(cur, n, "u64 array", u64::from_le_bytes)?),
        T::I64 => GgufArray::I64(read_fixed(cur, n, "i64 array", i64::from_le_bytes)?),
        T::F32 => GgufArray::F32(read_fixed(cur, n, "f32 array", f32::from_le_bytes)?),
        T::F64 => GgufArray::F64(read_fixed(cur, n, "f64 array", f64::from_le_bytes)?),
        T::Bool => {
            let mut v = Vec::with_capacity(n);
            for i in 0..n {
                v.push(
                    cur.bool("bool array element")
                        .map_err(|e| e.context(format!("element {i}")))?,
                );
            }
            GgufArray::Bool(v)
        }
        T::String => {
            let mut v = Vec::with_capacity(n);
            for i in 0..n {
                let s = cur
                    .string("string array element")
                    .map_err(|e| e.context(format!("element {i}")))?;
                v.push(s.to_string());
            }
            GgufArray::String(v)
        }
        T::Array => {
            if depth + 1 >= MAX_ARRAY_DEPTH {
                return Err(Error::InvalidGguf {
                    offset: cur.pos() as u64,
                    msg: format!("arrays nested more than {MAX_ARRAY_DEPTH} levels deep"),
                });
            }
            let mut v = Vec::with_capacity(n);
            for i in 0..n {
                v.push(read_array(cur, depth + 1).map_err(|e| e.context(format!("element {i}")))?);
            }
            GgufArray::Array(v)
        }
    })
}

/// `general.alignment`: any non-negative integer type holding a nonzero power of two.
fn check_alignment(v: &GgufValue, offset: u64) -> Result<u64, Error> {
    let bad = |msg: String| Error::InvalidGguf { offset, msg };
    let a = v.as_u64().ok_or_else(|| {
        bad(format!(
            "alignment has type {} and value {v}, expected an unsigned integer",
            v.type_name()
        ))
    })?;
    if a == 0 || !a.is_power_of_two() {
        return Err(bad(format!("alignment {a} is not a nonzero power of two")));
    }
    Ok(a)
}

fn read_tensor_infos(cur: &mut Cursor<'_>, n_tensors: u64) -> Result<Vec<GgufTensorInfo>, Error> {
    let n = cur.check_count(n_tensors, MIN_TENSOR_INFO_BYTES, "tensor count")?;
    let mut tensors = Vec::with_capacity(n);
    let mut seen = HashSet::with_capacity(n);
    for i in 0..n {
        let name = cur
            .string("tensor name")
            .map_err(|e| e.context(format!("tensor info #{i}")))?;
        let info = read_tensor_info(cur, name)
            .map_err(|e| e.context(format!("tensor '{name}' (info #{i})")))?;
        if !seen.insert(name) {
            return Err(Error::InvalidGguf {
                offset: cur.pos() as u64,
                msg: format!("duplicate tensor name '{name}' (info #{i})"),
            });
        }
        tensors.push(info);
    }
    Ok(tensors)
}

/// Reads n_dims, ne[], type and the relative offset (stored in `offset` until `place_tensors`).
fn read_tensor_info(cur: &mut Cursor<'_>, name: &str) -> Result<GgufTensorInfo, Error> {
    let at = cur.pos() as u64;
    let n_dims = cur.u32("n_dims")?;
    if n_dims > MAX_DIMS {
        return Err(Error::InvalidGguf {
            offset: at,
            msg: format!("n_dims {n_dims} exceeds the maximum of {MAX_DIMS}"),
        });
    }
    let mut ne = Vec::with_capacity(n_dims as usize);
    for _ in 0..n_dims {
        let at = cur.pos() as u64;
        let d = cur.u64("dimension")?;
        let d = usize::try_from(d)
            .ok()
            .filter(|&d| i64::try_from(d).is_ok())
            .ok_or_else(|| Error::InvalidGguf {
                offset: at,
                msg: format!("dimension {d} is out of range"),
            })?;
        ne.push(d);
    }
    let numel = ne
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(|| Error::InvalidGguf {
            offset: at,
            msg: format!("element count of dims {ne:?} overflows"),
        })?;

    let type_at = cur.pos() as u64;
    let type_id = cur.u32("type id")?;
    let dtype = GgmlType::from_id(type_id).map_err(|_| Error::InvalidGguf {
        offset: type_at,
        msg: format!("unknown ggml type id {type_id}"),
    })?;
    let ne0 = ne.first().copied().unwrap_or(1);
    if ne0 % dtype.block_size() != 0 {
        return Err(Error::InvalidGguf {
            offset: at,
            msg: format!(
                "row length ne[0] = {ne0} is not a multiple of the {dtype} block size {}",
                dtype.block_size()
            ),
        });
    }
    let n_bytes = dtype.row_bytes(numel).ok_or_else(|| Error::InvalidGguf {
        offset: at,
        msg: format!("byte size of {numel} {dtype} values overflows"),
    })?;
    let rel_offset = cur.u64("data offset")?;

    let mut shape = ne;
    shape.reverse();
    Ok(GgufTensorInfo {
        name: name.to_string(),
        dtype,
        shape,
        offset: rel_offset,
        n_bytes,
    })
}

pub(crate) fn align_up(x: u64, alignment: u64) -> Option<u64> {
    let mask = alignment.checked_sub(1)?;
    Some(x.checked_add(mask)? & !mask)
}

/// Turns relative offsets into absolute ones and checks alignment, bounds and overlaps.
fn place_tensors(
    tensors: &mut [GgufTensorInfo],
    data_offset: u64,
    alignment: u64,
    file_len: u64,
) -> Result<(), Error> {
    for t in tensors.iter_mut() {
        let rel = t.offset;
        // Offsets in messages are absolute (data section start + the stored relative offset).
        let abs = data_offset.saturating_add(rel);
        let err = |msg: String| {
            Error::InvalidGguf { offset: abs, msg }.context(format!("tensor '{}'", t.name))
        };
        if rel % alignment != 0 {
            return Err(err(format!(
                "relative data offset {rel} is not a multiple of the alignment {alignment}"
            )));
        }
        let start = data_offset
            .checked_add(rel)
            .ok_or_else(|| err(format!("relative data offset {rel} overflows")))?;
        let end = start
            .checked_add(t.n_bytes as u64)
            .filter(|&end| end <= file_len)
            .ok_or_else(|| {
                err(format!(
                    "data [{start}, {start} + {}) extends past the end of the file ({file_len} bytes)",
                    t.n_bytes
                ))
            })?;
        debug_assert!(end >= start);
        t.offset = start;
    }

    let mut order: Vec<usize> = (0..tensors.len())
        .filter(|&i| tensors.get(i).is_some_and(|t| t.n_bytes > 0))
        .collect();
    order.sort_by_key(|&i| tensors.get(i).map(|t| t.offset));
    for pair in order.windows(2) {
        let (Some(a), Some(b)) = (
            pair.first().and_then(|&i| tensors.get(i)),
            pair.get(1).and_then(|&i| tensors.get(i)),
        ) else {
            continue;
        };
        let a_end = a.offset + a.n_bytes as u64;
        if b.offset < a_end {
            return Err(Error::InvalidGguf {
                offset: b.offset,
                msg: format!(
                    "tensor '{}' data [{}, {}) overlaps tensor '{}' data [{}, {a_end})",
                    b.name,
                    b.offset,
                    b.offset + b.n_bytes as u64,
                    a.name,
                    a.offset
                ),
            });
        }
    }
    Ok(())
}
