//! The binary's allocator: mimalloc, and how it keeps memory.
//!
//! Owns: the `#[global_allocator]` of the `envk` binary (the library and
//! its tests use the system's) and the process-wide mimalloc options.
//! What each choice saves is measured in `bench/README.md`.

// A compiler allocates many small strings and maps; mimalloc serves them
// faster than glibc's malloc (measured in bench/README.md).
#[global_allocator]
static ALLOCATOR: Mimalloc = Mimalloc;

/// mimalloc, asked for plain blocks where their alignment is all a layout
/// needs. The `mimalloc` crate asks for an aligned block every time, whose
/// path checks the alignment before reaching the same free list; nearly
/// every allocation here is a string or a small struct, aligned to at most
/// mimalloc's guaranteed 16 bytes.
struct Mimalloc;

/// What every block `mi_malloc` returns is aligned to (`MI_MAX_ALIGN_SIZE`).
const MI_MALLOC_ALIGN: usize = 16;

type Plain = unsafe extern "C" fn(usize) -> *mut std::ffi::c_void;
type Aligned = unsafe extern "C" fn(usize, usize) -> *mut std::ffi::c_void;

impl Mimalloc {
    /// Whether `mi_malloc`'s own alignment serves `size` bytes at `align`.
    fn plain(align: usize, size: usize) -> bool {
        align <= MI_MALLOC_ALIGN && align <= size
    }

    /// A block for `layout` from `plain` where its alignment allows, else
    /// from `aligned`.
    ///
    /// # Safety
    /// As `GlobalAlloc::alloc`; `plain` and `aligned` are a pair of
    /// mimalloc's allocation calls.
    #[inline(always)]
    unsafe fn allocate(layout: std::alloc::Layout, plain: Plain, aligned: Aligned) -> *mut u8 {
        // SAFETY: plain FFI calls with a size and a power-of-two alignment.
        unsafe {
            if Self::plain(layout.align(), layout.size()) {
                plain(layout.size()).cast()
            } else {
                aligned(layout.size(), layout.align()).cast()
            }
        }
    }
}

// SAFETY: every block is allocated and freed by mimalloc, with an alignment
// at least the layout's: `mi_malloc`'s own where that suffices, else the
// aligned calls. `mi_free` frees blocks of either kind.
unsafe impl std::alloc::GlobalAlloc for Mimalloc {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        use libmimalloc_sys::{mi_malloc, mi_malloc_aligned};
        // SAFETY: GlobalAlloc's contract, passed on; a pair of mimalloc's calls.
        unsafe { Self::allocate(layout, mi_malloc, mi_malloc_aligned) }
    }

    unsafe fn alloc_zeroed(&self, layout: std::alloc::Layout) -> *mut u8 {
        use libmimalloc_sys::{mi_zalloc, mi_zalloc_aligned};
        // SAFETY: as in `alloc`.
        unsafe { Self::allocate(layout, mi_zalloc, mi_zalloc_aligned) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, _: std::alloc::Layout) {
        // SAFETY: `ptr` came from this allocator (GlobalAlloc's contract).
        unsafe { libmimalloc_sys::mi_free(ptr.cast()) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, new_size: usize) -> *mut u8 {
        use libmimalloc_sys::{mi_realloc, mi_realloc_aligned};
        // SAFETY: `ptr` came from this allocator with `layout`; the new
        // block keeps the alignment the layout asks for.
        unsafe {
            if Self::plain(layout.align(), new_size) {
                mi_realloc(ptr.cast(), new_size).cast()
            } else {
                mi_realloc_aligned(ptr.cast(), new_size, layout.align()).cast()
            }
        }
    }
}

/// mimalloc's `purge_delay` (`mi_option_purge_delay` in the `mimalloc.h`
/// of the v2 line we build, as of v3; the Rust bindings name no constant
/// for it).
const MI_OPTION_PURGE_DELAY: std::ffi::c_int = 15;

/// Keeps freed memory in the process instead of handing it back to the OS
/// mid-run: envk runs for well under a second and frees little before it
/// exits, and memory returned early is only faulted in and zeroed again by
/// the next phase. Called first thing in `main`, before any other thread.
pub fn keep_freed_memory() {
    // SAFETY: sets a process-wide allocator option; mimalloc allows it at
    // any time and no other thread exists yet.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
}
