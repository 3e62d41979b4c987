//! An opt-in per-call arena allocator for stateless modules: allocation is a pointer bump, `free`
//! is (nearly) free, and the whole heap is reset when the host allocates the next input buffer.
//!
//! Decoding a batch allocates one string or vector per column value and the format allocates
//! its JSON; with the default allocator (dlmalloc) that bookkeeping costs as much as the format
//! itself. A module opts in with [`crate::per_call_arena!`]. The built-in formats do.
//!
//! Invariants (the price of the speed, checked by nobody, so read them):
//! - Nothing allocated during one batch call may be used after the host's next `obsync_alloc`
//!   (the start of the next batch): no heap data in statics, no caches across calls.
//! - The arena only grows (to the largest batch's need, within the module's memory limit); it is
//!   the only user of `memory.grow`, so its pages are contiguous.
//! - wasm32 guests are single-threaded, so the state needs no locking.
//!
//! Natively this module is empty: a module crate's unit tests use the system allocator.

#[cfg(target_arch = "wasm32")]
mod imp {
    use std::alloc::{GlobalAlloc, Layout};
    use std::cell::UnsafeCell;

    const PAGE: usize = 65_536;

    struct State {
        /// Start of the arena (0 until the first allocation).
        start: usize,
        /// Next free byte.
        next: usize,
        /// End of the memory the arena owns.
        end: usize,
        /// Start of the most recent allocation (it can grow or shrink in place).
        last: usize,
        /// True once this allocator is in use (it is the global allocator).
        active: bool,
    }

    struct Cell(UnsafeCell<State>);

    // SAFETY: wasm32 modules run single-threaded; nothing here is shared across threads.
    unsafe impl Sync for Cell {}

    static STATE: Cell = Cell(UnsafeCell::new(State {
        start: 0,
        next: 0,
        end: 0,
        last: usize::MAX,
        active: false,
    }));

    fn state() -> &'static mut State {
        // SAFETY: single-threaded; every borrow ends before the next call into this module.
        unsafe { &mut *STATE.0.get() }
    }

    /// Grows the arena so that it ends at or after `need_end`; false when memory is exhausted.
    fn grow_to(s: &mut State, need_end: usize) -> bool {
        if s.start != 0 && need_end <= s.end {
            return true;
        }
        let missing = if s.start == 0 {
            need_end
        } else {
            need_end - s.end
        };
        let pages = missing.div_ceil(PAGE).max(16);
        let old = core::arch::wasm32::memory_grow(0, pages);
        if old == usize::MAX {
            return false;
        }
        let base = old * PAGE;
        if s.start == 0 || base != s.end {
            // First use, or someone else grew memory: carry on in the new pages only.
            if s.start == 0 {
                s.start = base;
            }
            s.next = base;
            s.last = usize::MAX;
        }
        s.end = base + pages * PAGE;
        true
    }

    /// The per-call arena as a global allocator.
    pub struct Arena;

    impl Arena {
        /// The allocator; install it with `#[global_allocator]` (see `per_call_arena!`).
        pub const fn new() -> Self {
            Arena
        }
    }

    impl Default for Arena {
        fn default() -> Self {
            Arena::new()
        }
    }

    // SAFETY: returns aligned, non-overlapping blocks of at least the requested size, or null.
    unsafe impl GlobalAlloc for Arena {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            let s = state();
            s.active = true;
            let align = layout.align();
            let aligned = |next: usize| (next + align - 1) & !(align - 1);
            if s.start == 0 || aligned(s.next) + layout.size() > s.end {
                let need = if s.start == 0 { 0 } else { s.next };
                if !grow_to(s, need + layout.size() + align) {
                    return std::ptr::null_mut();
                }
            }
            let p = aligned(s.next);
            s.last = p;
            s.next = p + layout.size();
            p as *mut u8
        }

        unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
            let s = state();
            if ptr as usize == s.last {
                s.next = s.last;
                s.last = usize::MAX;
            }
        }

        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            let s = state();
            let p = ptr as usize;
            // The newest block grows or shrinks where it is.
            if p == s.last {
                let fits = p + new_size <= s.end || grow_to(s, p + new_size);
                // `grow_to` forgets `last` when it had to continue in non-contiguous pages.
                if fits && s.last == p {
                    s.next = p + new_size;
                    return ptr;
                }
            }
            // SAFETY: `new_size` with the old alignment is a valid layout (GlobalAlloc contract).
            let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
            // SAFETY: forwarded to our own alloc.
            let new = unsafe { self.alloc(new_layout) };
            if !new.is_null() {
                // SAFETY: both blocks are valid for the smaller size and do not overlap.
                unsafe { std::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size)) };
            }
            new
        }
    }

    /// Forgets every allocation: the start of a new batch. No-op unless the arena is in use.
    pub fn reset() {
        let s = state();
        if s.active {
            s.next = s.start;
            s.last = usize::MAX;
        }
    }
}

#[cfg(target_arch = "wasm32")]
pub use imp::{Arena, reset};

/// Does nothing natively (no arena outside wasm32).
#[cfg(not(target_arch = "wasm32"))]
pub fn reset() {}

/// Installs the per-call arena as the module's global allocator (wasm32 only; natively the
/// system allocator stays). Only for modules that keep no heap data between calls.
#[macro_export]
macro_rules! per_call_arena {
    () => {
        #[cfg(target_arch = "wasm32")]
        #[global_allocator]
        static __OBSYNC_PER_CALL_ARENA: $crate::arena::Arena = $crate::arena::Arena::new();
    };
}
