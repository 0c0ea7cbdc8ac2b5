//! Read-only memory maps: of a file (zero copy), or of bytes copied into an anonymous map so that
//! in-memory inputs (tests, fuzzing) take the same path and hand out the same `Storage::Mapped`.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use memmap2::{Mmap, MmapMut};

use crate::Error;

/// Maps `path` read-only. The file must not be truncated while mapped (the OS would fault on access).
pub(crate) fn map_file(path: &Path) -> Result<Arc<Mmap>, Error> {
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(io)?;
    // SAFETY: the map is read-only and private to this process; like every mmap-based model loader we
    // rely on model files not being modified while they are in use.
    let map = unsafe { Mmap::map(&file) }.map_err(io)?;
    Ok(Arc::new(map))
}

/// Copies `bytes` into an anonymous read-only map.
pub(crate) fn map_bytes(bytes: &[u8]) -> Result<Arc<Mmap>, Error> {
    let io = |source| Error::Io {
        path: "<anonymous map>".into(),
        source,
    };
    let mut m = MmapMut::map_anon(bytes.len()).map_err(io)?;
    m.copy_from_slice(bytes);
    Ok(Arc::new(m.make_read_only().map_err(io)?))
}

/// Pages the kernel is asked to drop are counted in 4 KiB units: the smallest page size of the
/// platforms we run on. On a kernel with larger pages `madvise` widens the range to whole pages,
/// which for a file map only means a neighbouring page may be read back from the file once more.
const PAGE: usize = 4096;

/// Drops this process's copies of the whole pages inside `range` (byte offsets into `map`) of a
/// read-only map **of a file**: resident set shrinks at once, and a page touched again is read
/// back from the file (usually still in the page cache). Returns the bytes advised (0 when the
/// range holds no whole page). Never call it on an anonymous map: its pages would read back as
/// zeros.
pub(crate) fn release_file_pages(
    map: &Mmap,
    range: std::ops::Range<usize>,
) -> std::io::Result<usize> {
    // The map itself starts on a page boundary, so offsets rounded to pages are page addresses.
    let start = range.start.div_ceil(PAGE).saturating_mul(PAGE);
    let end = range.end.min(map.len()) / PAGE * PAGE;
    if end <= start {
        return Ok(0);
    }
    // SAFETY: `map` is a private read-only mapping of a file, never written, so MADV_DONTNEED only
    // discards this process's page-table entries: a later read of the range faults the very same
    // bytes back in from the file, and no reference into the map ever sees different contents.
    unsafe {
        map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, start, end - start)?;
    }
    Ok(end - start)
}
