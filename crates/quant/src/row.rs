//! Checking that a row of `n` values of a type has the right number of bytes.

use crate::{Error, GgmlType};

/// Bytes of `n` values of `ty`, or an error when `n` is not a whole number of blocks.
pub(crate) fn row_bytes(what: &'static str, ty: GgmlType, n: usize) -> Result<usize, Error> {
    ty.row_bytes(n).ok_or(Error::NotBlockMultiple {
        what,
        ty,
        n,
        block: ty.block_size(),
    })
}

/// Errors unless `got` bytes are exactly `n` values of `ty`.
pub(crate) fn expect_row(
    what: &'static str,
    ty: GgmlType,
    n: usize,
    got: usize,
) -> Result<(), Error> {
    let expected = row_bytes(what, ty, n)?;
    if expected != got {
        return Err(Error::Length {
            what,
            ty,
            expected,
            got,
        });
    }
    Ok(())
}
