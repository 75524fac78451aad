//! A global allocator that remembers, per thread, the largest single block
//! asked for since the last reset: a parser that trusts a length field shows
//! up as one huge request even when the machine could grant it.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

thread_local! {
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

/// Install in a test binary: `#[global_allocator] static A: CountingAlloc = CountingAlloc;`
pub struct CountingAlloc;

fn note(bytes: usize) {
    // `try_with`: allocations during thread teardown must not panic.
    let _ = LARGEST.try_with(|l| {
        if bytes > l.get() {
            l.set(bytes);
        }
    });
}

// SAFETY: every call is forwarded unchanged to the system allocator; the
// bookkeeping touches only a const-initialised thread-local and never allocates.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: same contract as ours.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// The largest block this thread asked for since the last reset (0 when the
/// binary did not install [`CountingAlloc`]).
pub fn largest_allocation() -> usize {
    LARGEST.with(Cell::get)
}

pub fn reset_largest_allocation() {
    LARGEST.with(|l| l.set(0));
}
