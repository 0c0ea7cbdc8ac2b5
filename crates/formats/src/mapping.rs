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
