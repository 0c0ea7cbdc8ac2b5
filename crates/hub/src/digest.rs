//! sha256 helpers: hashing a file on disk (to resume a partial download or re-verify a cached
//! file) and the lower-case hex form the hub announces.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::Error;

/// Read size when hashing a file.
const CHUNK: usize = 1 << 20;

/// Feeds the whole file at `path` into `hasher`; returns the number of bytes read.
pub(crate) fn hash_file_into(hasher: &mut Sha256, path: &Path) -> Result<u64, Error> {
    let mut f = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut buf = vec![0u8; CHUNK];
    let mut total = 0u64;
    loop {
        let n = f.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            return Ok(total);
        }
        hasher.update(buf.get(..n).unwrap_or_default());
        total += n as u64;
    }
}

/// The sha256 of the file at `path`, lower-case hex.
pub(crate) fn sha256_file(path: &Path) -> Result<String, Error> {
    let mut hasher = Sha256::new();
    hash_file_into(&mut hasher, path)?;
    Ok(hex(&hasher.finalize()))
}

/// Lower-case hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_of_abc_is_the_fips_180_vector() {
        // FIPS 180-2, appendix B.1
        assert_eq!(
            hex(&Sha256::digest(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
