//! Byte copies for the hot paths of modules. In WebAssembly every slice copy LLVM emits as a
//! `memcpy` becomes a `memory.copy`, which wasmtime runs as a call out of the module: costly for
//! the short runs that JSON writing and batch reading are made of (keys, punctuation, numbers,
//! short strings). Runs of up to 16 bytes are copied here with fixed-size loads and stores.
//!
//! Invariant: the results are exactly `extend_from_slice` / `to_vec` / `from_utf8`'s.

/// Appends `b` to `buf`. The common case (a short run into spare capacity) is small enough to
/// be inlined at every call site; the rest goes out of line.
#[inline(always)]
pub fn extend(buf: &mut Vec<u8>, b: &[u8]) {
    if b.len() <= 16 && buf.capacity() - buf.len() >= b.len() {
        // SAFETY: checked just above: `b.len() <= 16` and that much spare capacity.
        unsafe { copy_short(buf, b) }
    } else {
        extend_slow(buf, b);
    }
}

/// [`extend`] when a run is longer than 16 bytes or the buffer must grow.
#[inline(never)]
fn extend_slow(buf: &mut Vec<u8>, b: &[u8]) {
    if b.len() > 16 {
        buf.extend_from_slice(b);
        return;
    }
    buf.reserve(b.len());
    // SAFETY: `b.len() <= 16`, and `reserve` made room for it.
    unsafe { copy_short(buf, b) }
}

/// Appends up to 16 bytes with fixed-size loads and stores.
///
/// # Safety
///
/// `b.len() <= 16` and `buf` has at least `b.len()` bytes of spare capacity.
#[inline(always)]
unsafe fn copy_short(buf: &mut Vec<u8>, b: &[u8]) {
    let n = b.len();
    let len = buf.len();
    // SAFETY (caller): room for `n` more bytes after `len`; every write below lands in
    // `len..len + n` (the overlapping 8- and 4-byte copies cover it exactly), and reads stay in
    // `b`. The bytes are initialized before `set_len`.
    unsafe {
        let dst = buf.as_mut_ptr().add(len);
        let src = b.as_ptr();
        if n >= 8 {
            let head = (src as *const u64).read_unaligned();
            let tail = (src.add(n - 8) as *const u64).read_unaligned();
            (dst as *mut u64).write_unaligned(head);
            (dst.add(n - 8) as *mut u64).write_unaligned(tail);
        } else if n >= 4 {
            let head = (src as *const u32).read_unaligned();
            let tail = (src.add(n - 4) as *const u32).read_unaligned();
            (dst as *mut u32).write_unaligned(head);
            (dst.add(n - 4) as *mut u32).write_unaligned(tail);
        } else {
            if n >= 1 {
                *dst = *src;
            }
            if n >= 2 {
                *dst.add(1) = *src.add(1);
            }
            if n == 3 {
                *dst.add(2) = *src.add(2);
            }
        }
        buf.set_len(len + n);
    }
}

/// A copy of `b`.
#[inline]
pub fn to_vec(b: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(b.len());
    extend(&mut v, b);
    v
}

/// A copy of `b` as a `String`, if it is UTF-8.
#[inline]
pub fn to_string(b: &[u8]) -> Option<String> {
    String::from_utf8(to_vec(b)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_every_length_exactly() {
        let src: Vec<u8> = (0..40u8).collect();
        for prefix in [0usize, 1, 7] {
            for n in 0..=40 {
                let mut buf = vec![0xaa; prefix];
                extend(&mut buf, &src[..n]);
                let mut want = vec![0xaa; prefix];
                want.extend_from_slice(&src[..n]);
                assert_eq!(buf, want, "prefix {prefix}, {n} bytes");
            }
        }
        assert_eq!(to_string("中文😀".as_bytes()).as_deref(), Some("中文😀"));
        assert_eq!(to_string(&[0xff, 0xfe]), None);
    }
}
