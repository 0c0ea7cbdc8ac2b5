//! Interleaving quantized weights for the packed kernels at load time, in one pass and in
//! parallel: threads take chunks of 16-row groups, pack each straight into its place in the
//! packed copy and then release the chunk's mapped file pages, so resident memory grows by the
//! packed copy only, not by the packed copy plus every page of the file.

use std::ops::Range;
use std::sync::{Arc, Mutex, PoisonError};

use quant::packed::{self, ROWS};
use quant::AlignedBytes;
use tensor::ops::PackedWeight;
use tensor::{Error, Tensor};

/// What `formats::WeightSource::page_releaser` hands out: drops the resident pages of bytes
/// `range` of a tensor; returns the bytes released.
pub(crate) type PageReleaser = Arc<dyn Fn(&Tensor, Range<usize>) -> usize + Send + Sync>;

/// Rows per chunk (a multiple of the 16-row group): small enough that the source pages read but
/// not yet released stay a sliver of any weight, large enough that taking a chunk costs nothing.
const CHUNK_ROWS: usize = 16 * ROWS;

/// How a loader packs: on how many threads, and whether the source pages are released after.
#[derive(Clone, Default)]
pub(crate) struct Packer {
    threads: usize,
    releaser: Option<PageReleaser>,
}

impl Packer {
    /// Packs on `threads` threads (the ones the model computes with); with a `releaser`, every
    /// packed tensor's mapped pages are released, so its original bytes must not be read again.
    pub(crate) fn new(threads: usize, releaser: Option<PageReleaser>) -> Self {
        Packer { threads, releaser }
    }

    /// `w [m, k]` (row-major quantized blocks) interleaved into 16-row groups: the same bytes as
    /// `PackedWeight::new(w)`.
    pub(crate) fn pack(&self, w: &Tensor, m: usize, k: usize) -> Result<PackedWeight, Error> {
        let ty = w.dtype;
        let row = ty.row_bytes(k).ok_or_else(|| {
            Error::Shape(format!(
                "pack: {k} columns are not whole {} blocks",
                ty.name()
            ))
        })?;
        let src = w.bytes(); // [m, row] bytes
        if Some(src.len()) != row.checked_mul(m) {
            return Err(Error::Shape(format!(
                "pack: [{m}, {k}] {} needs {m} rows of {row} bytes, the tensor has {} bytes",
                ty.name(),
                src.len()
            )));
        }
        let group = packed::group_bytes(ty, k)?;
        let mut out = AlignedBytes::new(); // [ceil(m / 16), group] bytes
        out.resize(m.div_ceil(ROWS) * group);
        if m > 0 && group > 0 {
            self.pack_chunks(w, src, row, k, group, out.as_bytes_mut())?;
        }
        if let Some(release) = &self.releaser {
            // The pages that straddle two chunks, now that both are packed.
            release(w, 0..src.len());
        }
        PackedWeight::from_groups(ty, m, k, out)
    }

    /// Fills `dst` chunk by chunk on up to `self.threads` threads.
    fn pack_chunks(
        &self,
        w: &Tensor,
        src: &[u8], // [m, row] bytes
        row: usize,
        k: usize,
        group: usize,
        dst: &mut [u8], // [ceil(m / 16), group] bytes
    ) -> Result<(), Error> {
        let m = src.len() / row;
        let chunks = Mutex::new(dst.chunks_mut(CHUNK_ROWS / ROWS * group).enumerate());
        let n_chunks = m.div_ceil(CHUNK_ROWS);
        let first_err: Mutex<Option<Error>> = Mutex::new(None);
        let work = || loop {
            let next = chunks.lock().unwrap_or_else(PoisonError::into_inner).next();
            let Some((c, dst)) = next else { break };
            let rows = c * CHUNK_ROWS..((c + 1) * CHUNK_ROWS).min(m);
            let bytes = rows.start * row..rows.end * row;
            let res = packed::pack_rows(w.dtype, &src[bytes.clone()], rows.len(), k)
                .map_err(Error::from)
                .and_then(|p| {
                    if p.len() != dst.len() {
                        return Err(Error::Shape(format!(
                            "pack: rows {rows:?} packed into {} bytes, expected {}",
                            p.len(),
                            dst.len()
                        )));
                    }
                    dst.copy_from_slice(p.as_bytes());
                    Ok(())
                });
            match res {
                Ok(()) => {
                    if let Some(release) = &self.releaser {
                        release(w, bytes);
                    }
                }
                Err(e) => {
                    first_err
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .get_or_insert(e);
                    break;
                }
            }
        };
        let threads = self.threads.clamp(1, n_chunks.max(1));
        std::thread::scope(|s| {
            for _ in 1..threads {
                s.spawn(work);
            }
            work();
        });
        match first_err
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner)
        {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

impl std::fmt::Debug for Packer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Packer")
            .field("threads", &self.threads)
            .field("releases_pages", &self.releaser.is_some())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quant::GgmlType;
    use tensor::Storage;

    /// Row `j` of a Q8_0 weight: scale 1/(j+1) as f16, quants a function of (j, i).
    fn q8_0_weight(m: usize, k: usize) -> Tensor {
        let mut bytes = Vec::new();
        for j in 0..m {
            for b in 0..k / 32 {
                let d = half::f16::from_f32(1.0 / (j + 1) as f32);
                bytes.extend_from_slice(&d.to_bits().to_le_bytes());
                bytes.extend((0..32).map(|i| ((j * 7 + b * 3 + i) % 255) as u8));
            }
        }
        Tensor::new(GgmlType::Q8_0, vec![m, k], Storage::Bytes(Arc::new(bytes))).unwrap()
    }

    #[test]
    fn chunked_parallel_packing_equals_whole_tensor_packing() {
        // Shapes around the chunk and group boundaries: one partial group, exactly one chunk,
        // several chunks with a partial last group.
        for m in [5, CHUNK_ROWS, 3 * CHUNK_ROWS + 21] {
            let w = q8_0_weight(m, 64);
            let reference = PackedWeight::new(&w).unwrap();
            for threads in [1, 3] {
                let p = Packer::new(threads, None).pack(&w, m, 64).unwrap();
                assert_eq!(p.shape(), [m, 64]);
                let (mut a, mut b) = (vec![0.0; 64], vec![0.0; 64]);
                for j in 0..m {
                    p.dequantize_row(j, &mut a).unwrap();
                    reference.dequantize_row(j, &mut b).unwrap();
                    assert_eq!(a, b, "m {m}, threads {threads}, row {j}");
                }
            }
        }
    }

    #[test]
    fn releaser_sees_every_chunk_then_the_whole_tensor() {
        let m = 2 * CHUNK_ROWS + 3;
        let w = q8_0_weight(m, 32);
        let seen: Arc<Mutex<Vec<Range<usize>>>> = Arc::default();
        let log = Arc::clone(&seen);
        let releaser: PageReleaser = Arc::new(move |_, r| {
            log.lock().unwrap().push(r);
            0
        });
        Packer::new(2, Some(releaser)).pack(&w, m, 32).unwrap();
        let mut seen = seen.lock().unwrap().clone();
        assert_eq!(seen.pop(), Some(0..m * 34), "last: the whole tensor");
        seen.sort_by_key(|r| r.start);
        let row = 34;
        let expected = vec![
            0..CHUNK_ROWS * row,
            CHUNK_ROWS * row..2 * CHUNK_ROWS * row,
            2 * CHUNK_ROWS * row..m * row,
        ];
        assert_eq!(seen, expected);
    }

    #[test]
    fn malformed_weights_are_errors() {
        let w = q8_0_weight(4, 64);
        let e = Packer::new(2, None).pack(&w, 5, 64).unwrap_err();
        assert!(e.to_string().contains("5 rows"), "{e}");
    }
}
