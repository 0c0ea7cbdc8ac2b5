//! Software prefetch of weight groups ahead of the one being computed. With several activation
//! tiles per group (batched decode, prefill) the integer units outrun the weight stream from L3 or
//! DRAM, and the hardware prefetchers alone leave them waiting at each new group.

/// How many groups ahead of the current one are requested.
pub(super) const GROUPS_AHEAD: usize = 4;

/// Asks for the `part`-th of `parts` equal cache-line slices of `bytes` to be brought into L2,
/// without waiting for it (spreading one group's requests over its tiles).
#[inline]
pub(super) fn prefetch_part(bytes: &[u8], part: usize, parts: usize) {
    let per = bytes.len().div_ceil(parts.max(1)).div_ceil(64) * 64;
    let start = (part * per).min(bytes.len());
    let end = (start + per).min(bytes.len());
    #[cfg(target_arch = "x86_64")]
    for line in bytes[start..end].chunks(64) {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T1};
        // SAFETY: a prefetch never faults and has no architectural effect; the pointer is
        // inside `bytes`.
        unsafe { _mm_prefetch::<_MM_HINT_T1>(line.as_ptr().cast()) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (start, end);
}
