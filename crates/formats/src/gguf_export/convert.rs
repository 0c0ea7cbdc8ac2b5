//! `write_plan`: streams an [`ExportPlan`] to a GGUF file. Each tensor is converted in slabs of
//! rows (so memory stays a few tens of MB whatever the model size): each row is dequantized to f32
//! and quantized to the target type with quant's llama.cpp-exact reference quantizers, the slab's
//! rows split over threads, then written. Tensors already in their target type are copied.

use std::path::{Path, PathBuf};

use quant::{AlignedBytes, GgmlType};

use super::plan::{ExportPlan, PlannedTensor};
use crate::gguf::{GgufTensorSpec, GgufWriter};
use crate::{Error, WeightSource};

/// Output bytes converted per slab (split across the threads).
const SLAB_BYTES: usize = 16 << 20;

/// What [`write_plan`] reports after each slab.
#[derive(Clone, Copy, Debug)]
pub struct ExportProgress<'a> {
    /// Index of the tensor being written and how many there are.
    pub tensor: usize,
    pub n_tensors: usize,
    pub name: &'a str,
    pub dtype: GgmlType,
    /// Whether this slab completed the tensor.
    pub tensor_done: bool,
    /// Output bytes written so far and in all.
    pub bytes_done: u64,
    pub bytes_total: u64,
}

fn quant_err(t: &PlannedTensor, e: quant::Error) -> Error {
    Error::Tensor(tensor::Error::Quant(e)).context(format!(
        "tensor '{}' ({} → {})",
        t.name, t.src_dtype, t.dtype
    ))
}

/// Converts rows `first..first + out.len() / dst_row` of `t` from `src` into `out`.
fn convert_rows(
    t: &PlannedTensor,
    src: &[u8],
    src_row: usize,
    dst_row: usize,
    first: usize,
    out: &mut [u8],
) -> Result<(), Error> {
    let n = t.row_len();
    let mut row = vec![0f32; n];
    for (k, dst) in out.chunks_exact_mut(dst_row).enumerate() {
        let r = t.row_order.source_row(first + k);
        let start = r * src_row;
        let bytes = src.get(start..start + src_row).ok_or_else(|| {
            Error::Config(format!(
                "tensor '{}': source row {r} lies outside its {} bytes",
                t.source_name,
                src.len()
            ))
        })?;
        quant::dequantize_row(t.src_dtype, bytes, &mut row).map_err(|e| quant_err(t, e))?;
        quant::quantize_row_into(t.dtype, &row, dst).map_err(|e| quant_err(t, e))?;
    }
    Ok(())
}

/// Writes `plan` to `path` (through `<path>.tmp`, renamed at the end) with `threads` threads.
/// `progress` is called after every slab.
pub fn write_plan(
    source: &dyn WeightSource,
    plan: &ExportPlan,
    path: &Path,
    threads: usize,
    progress: &mut dyn FnMut(&ExportProgress<'_>),
) -> Result<PathBuf, Error> {
    let specs: Vec<GgufTensorSpec> = plan
        .tensors
        .iter()
        .map(|t| GgufTensorSpec {
            name: t.name.clone(),
            dtype: t.dtype,
            shape: t.shape.clone(),
        })
        .collect();
    let mut writer = GgufWriter::create(path, &plan.metadata, &specs)?;
    let bytes_total = plan.output_bytes();
    let mut bytes_done = 0u64;
    let threads = threads.max(1);
    let mut slab = AlignedBytes::new();

    for (i, t) in plan.tensors.iter().enumerate() {
        let src_tensor = source.tensor(&t.source_name)?;
        if src_tensor.dtype != t.src_dtype || src_tensor.shape != t.shape {
            return Err(Error::Config(format!(
                "tensor '{}' is {} {:?} in the source, the plan expected {} {:?}",
                t.source_name, src_tensor.dtype, src_tensor.shape, t.src_dtype, t.shape
            )));
        }
        let src = src_tensor.bytes();
        let n = t.row_len();
        let rows = t.n_rows();
        let bad_row = |ty: GgmlType| {
            Error::Config(format!(
                "tensor '{}': row length {n} is not a whole number of {ty} blocks",
                t.name
            ))
        };
        let src_row = t
            .src_dtype
            .row_bytes(n)
            .ok_or_else(|| bad_row(t.src_dtype))?;
        let dst_row = t.dtype.row_bytes(n).ok_or_else(|| bad_row(t.dtype))?;
        if src.len() != src_row * rows {
            return Err(Error::Config(format!(
                "tensor '{}' has {} bytes, {rows} rows of {n} {} need {}",
                t.source_name,
                src.len(),
                t.src_dtype,
                src_row * rows
            )));
        }

        let slab_rows = (SLAB_BYTES / dst_row.max(1)).clamp(1, rows.max(1));
        let mut first = 0usize;
        while first < rows {
            let count = slab_rows.min(rows - first);
            let out_len = count * dst_row;
            if t.is_copy() {
                let start = first * src_row;
                writer.write_tensor_part(&t.name, &src[start..start + out_len])?;
            } else {
                slab.resize(out_len);
                let out = slab.as_bytes_mut();
                let per_thread = count.div_ceil(threads);
                let results: Vec<Result<(), Error>> = std::thread::scope(|s| {
                    let handles: Vec<_> = out
                        .chunks_mut(per_thread * dst_row)
                        .enumerate()
                        .map(|(k, chunk)| {
                            let start_row = first + k * per_thread;
                            s.spawn(move || {
                                convert_rows(t, src, src_row, dst_row, start_row, chunk)
                            })
                        })
                        .collect();
                    handles
                        .into_iter()
                        .map(|h| {
                            h.join().unwrap_or_else(|_| {
                                Err(Error::Config(format!(
                                    "a worker panicked converting tensor '{}'",
                                    t.name
                                )))
                            })
                        })
                        .collect()
                });
                results.into_iter().collect::<Result<(), Error>>()?;
                writer.write_tensor_part(&t.name, slab.as_bytes())?;
            }
            first += count;
            bytes_done += out_len as u64;
            progress(&ExportProgress {
                tensor: i,
                n_tensors: plan.tensors.len(),
                name: &t.name,
                dtype: t.dtype,
                tensor_done: first >= rows,
                bytes_done,
                bytes_total,
            });
        }
    }
    writer.finish()
}
