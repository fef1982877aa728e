//! Bounds-checked fixed-size windows into a frame.
//!
//! Every header access in this module tree goes through these: a window
//! either fits and comes back as a `&[u8; N]` (so indexing it with constants
//! is checked at compile time), or is `None`. No offset arithmetic here can
//! overflow: offsets are at most [`MAX_FRAME`](super::MAX_FRAME) plus a
//! header length.

/// The `N` bytes at `at`, if they are all inside `b`.
#[inline(always)]
pub fn arr<const N: usize>(b: &[u8], at: usize) -> Option<&[u8; N]> {
    b.get(at..)?.first_chunk::<N>()
}

/// The `N` bytes at `at`, mutable, if they are all inside `b`.
#[inline(always)]
pub fn arr_mut<const N: usize>(b: &mut [u8], at: usize) -> Option<&mut [u8; N]> {
    b.get_mut(at..)?.first_chunk_mut::<N>()
}

/// The big-endian `u16` at `at`.
#[inline(always)]
pub fn be16(b: &[u8], at: usize) -> Option<u16> {
    arr::<2>(b, at).map(|x| u16::from_be_bytes(*x))
}

/// The big-endian `u32` at `at`.
#[inline(always)]
pub fn be32(b: &[u8], at: usize) -> Option<u32> {
    arr::<4>(b, at).map(|x| u32::from_be_bytes(*x))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_never_panic() {
        let b = [1u8, 2, 3, 4];
        assert_eq!(arr::<2>(&b, 2), Some(&[3, 4]));
        assert_eq!(arr::<2>(&b, 3), None);
        assert_eq!(arr::<0>(&b, 4), Some(&[]));
        assert_eq!(arr::<1>(&b, usize::MAX), None);
        assert_eq!(be16(&b, 1), Some(0x0203));
        assert_eq!(be32(&b, 0), Some(0x0102_0304));
        assert_eq!(be32(&b, 1), None);
        let mut m = b;
        if let Some(w) = arr_mut::<2>(&mut m, 0) {
            *w = [9, 9];
        }
        assert_eq!(m, [9, 9, 3, 4]);
        assert!(arr_mut::<4>(&mut m, 1).is_none());
    }
}
