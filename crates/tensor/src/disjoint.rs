//! Shared mutable access to one output slice from parallel tasks that write disjoint parts of it.

use std::marker::PhantomData;

/// A `&mut [T]` split among the tasks of one `ThreadPool::run`: each task takes the sub-slices it
/// owns. The borrow checker cannot see that the parts are disjoint, so taking a part is `unsafe`.
pub(crate) struct DisjointMut<'a, T> {
    ptr: *mut T,
    len: usize,
    _borrow: PhantomData<&'a mut [T]>,
}

// SAFETY: it hands out `&mut` to disjoint parts only (the caller of `part` promises that), so
// sharing it between threads is like sending those `&mut [T]`, which needs `T: Send`.
unsafe impl<T: Send> Send for DisjointMut<'_, T> {}
// SAFETY: as above.
unsafe impl<T: Send> Sync for DisjointMut<'_, T> {}

impl<'a, T> DisjointMut<'a, T> {
    pub(crate) fn new(slice: &'a mut [T]) -> Self {
        DisjointMut {
            ptr: slice.as_mut_ptr(),
            len: slice.len(),
            _borrow: PhantomData,
        }
    }

    /// The base pointer, for kernels that write a strided part (e.g. a column block of a
    /// row-major matrix). Writes through it are bound by the same promise as [`Self::part`]:
    /// in bounds, and never to an element another live part or thread writes.
    pub(crate) fn as_mut_ptr(&self) -> *mut T {
        self.ptr
    }

    /// The part `start..start + len`.
    ///
    /// # Safety
    /// No two live parts (taken by any threads) may overlap.
    ///
    /// # Panics
    /// If the range is out of bounds (a bug in the calling kernel, never input-controlled: kernels
    /// validate shapes before splitting work).
    #[allow(clippy::mut_from_ref)]
    pub(crate) unsafe fn part(&self, start: usize, len: usize) -> &mut [T] {
        let end = start.checked_add(len);
        assert!(
            end.is_some_and(|e| e <= self.len),
            "DisjointMut part {start}+{len} out of {}",
            self.len
        );
        // SAFETY: in bounds (checked above); exclusivity is the caller's promise.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.add(start), len) }
    }
}
