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

/// `b` as text, if it is UTF-8. Leading ASCII is checked eight bytes at a time (core's check
/// steps by `usize`, four bytes in wasm32), the rest by `std::str::from_utf8`.
#[inline]
pub fn utf8(b: &[u8]) -> Option<&str> {
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let ascii = b
        .chunks_exact(8)
        .take_while(|c| <[u8; 8]>::try_from(*c).is_ok_and(|w| u64::from_le_bytes(w) & HIGH == 0))
        .count()
        * 8;
    std::str::from_utf8(b.get(ascii..)?).ok()?;
    // SAFETY: `b[..ascii]` is ASCII (whole code points) and `b[ascii..]` was just validated, so
    // `b` is UTF-8.
    Some(unsafe { std::str::from_utf8_unchecked(b) })
}

/// An owned copy of `s` (through [`to_vec`]).
#[inline]
pub fn to_str_owned(s: &str) -> String {
    // SAFETY: the bytes are copied unchanged from a `str`.
    unsafe { String::from_utf8_unchecked(to_vec(s.as_bytes())) }
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
        assert_eq!(utf8("中文😀".as_bytes()), Some("中文😀"));
        assert_eq!(utf8(&[0xff, 0xfe]), None);
        assert_eq!(to_str_owned("中文😀"), "中文😀");
        for text in [
            "",
            "abc",
            "12345678",
            "1234567890abcdef-",
            "ascii then 中文",
            "中文 then ascii",
        ] {
            assert_eq!(utf8(text.as_bytes()), Some(text));
        }
        let mut bad = b"sixteen ascii by".to_vec();
        bad.extend_from_slice(&[0xe4, 0xb8]);
        assert_eq!(utf8(&bad), None);
    }
}
