//! The 12-byte scale block shared by Q4K and Q5K: eight 6-bit scales and eight 6-bit mins.
//!
//! Bytes 0..4 hold scales 0..4 (low 6 bits), bytes 4..8 mins 0..4 (low 6 bits); scales / mins
//! 4..8 keep their low 4 bits in the nibbles of bytes 8..12 and their top 2 bits in the top 2 bits
//! of bytes 0..4 / 4..8.

/// Scale and min of sub-block `j` (0..8), llama.cpp's `get_scale_min_k4`.
#[inline]
pub(crate) fn scale_min(j: usize, q: &[u8; 12]) -> (u8, u8) {
    if j < 4 {
        (q[j] & 63, q[j + 4] & 63)
    } else {
        (
            (q[j + 4] & 0x0f) | ((q[j - 4] >> 6) << 4),
            (q[j + 4] >> 4) | ((q[j] >> 6) << 4),
        )
    }
}

/// All eight (scales, mins).
#[inline]
pub(crate) fn unpack(q: &[u8; 12]) -> ([u8; 8], [u8; 8]) {
    let mut sc = [0u8; 8];
    let mut m = [0u8; 8];
    for j in 0..8 {
        (sc[j], m[j]) = scale_min(j, q);
    }
    (sc, m)
}

/// Packs eight 6-bit scales and mins (values must be ≤ 63).
pub(crate) fn pack(ls: &[u8; 8], lm: &[u8; 8]) -> [u8; 12] {
    let mut q = [0u8; 12];
    for j in 0..8 {
        let (s, m) = (ls[j] & 63, lm[j] & 63);
        if j < 4 {
            q[j] |= s;
            q[j + 4] |= m;
        } else {
            q[j + 4] = (s & 0x0f) | ((m & 0x0f) << 4);
            q[j - 4] |= (s >> 4) << 6;
            q[j] |= (m >> 4) << 6;
        }
    }
    q
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pack_unpack_round_trip() {
        let ls = [0, 1, 17, 63, 42, 5, 63, 32];
        let lm = [63, 0, 33, 2, 16, 47, 1, 63];
        assert_eq!(unpack(&pack(&ls, &lm)), (ls, lm));
    }

    #[test]
    fn layout_from_spec() {
        // scale 4 = 0b11_0101 → low nibble 0101 in byte 8, top bits 11 in byte 0 bits 6..8.
        let mut ls = [0u8; 8];
        ls[4] = 0b11_0101;
        let q = pack(&ls, &[0; 8]);
        assert_eq!(q[8], 0b0101);
        assert_eq!(q[0], 0b1100_0000);
        assert_eq!(scale_min(0, &q), (0, 0)); // sub-block 0 ignores the borrowed top bits
    }
}
