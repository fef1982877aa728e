//! Bounds-checked reading and padded writing of big-endian wire structures.
//!
//! Every decoder in this crate reads through [`Reader`], whose accessors return
//! [`DecodeError`] instead of panicking when the input is short. That is what lets
//! the crate promise that decoding arbitrary bytes never panics: no code indexes a
//! slice directly with an offset that came from the network.

use crate::error::{DecodeError, OfError};
use bytes::BufMut;

/// A cursor over a byte slice. `err` is the OpenFlow error reported when the
/// input is too short (it differs by context: a short action is `OFPBAC_BAD_LEN`,
/// a short match is `OFPBMC_BAD_LEN`, and so on).
#[derive(Clone, Debug)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    err: OfError,
}

impl<'a> Reader<'a> {
    #[inline]
    pub fn new(buf: &'a [u8], err: OfError) -> Self {
        Reader { buf, pos: 0, err }
    }

    /// The error a short read reports.
    #[cold]
    pub fn short(&self, what: &'static str) -> DecodeError {
        DecodeError::new(self.err, what)
    }

    #[inline]
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    #[inline]
    pub fn position(&self) -> usize {
        self.pos
    }

    #[inline]
    pub fn rest(&self) -> &'a [u8] {
        &self.buf[self.pos..]
    }

    #[inline]
    pub fn bytes(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], DecodeError> {
        if self.remaining() < n {
            return Err(self.short(what));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    #[inline]
    pub fn skip(&mut self, n: usize, what: &'static str) -> Result<(), DecodeError> {
        self.bytes(n, what).map(|_| ())
    }

    #[inline]
    pub fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], DecodeError> {
        let s = self.bytes(N, what)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    #[inline]
    pub fn u8(&mut self, what: &'static str) -> Result<u8, DecodeError> {
        Ok(self.array::<1>(what)?[0])
    }

    #[inline]
    pub fn u16(&mut self, what: &'static str) -> Result<u16, DecodeError> {
        Ok(u16::from_be_bytes(self.array(what)?))
    }

    #[inline]
    pub fn u32(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.array(what)?))
    }

    #[inline]
    pub fn u64(&mut self, what: &'static str) -> Result<u64, DecodeError> {
        Ok(u64::from_be_bytes(self.array(what)?))
    }

    /// Takes the next `n` bytes as a sub-reader with the same error.
    #[inline]
    pub fn sub(&mut self, n: usize, what: &'static str) -> Result<Reader<'a>, DecodeError> {
        let err = self.err;
        Ok(Reader::new(self.bytes(n, what)?, err))
    }

    /// Takes the next `n` bytes as a sub-reader reporting `err` when short,
    /// both here (a structure whose own length runs past its container, e.g.
    /// a bucket past the GROUP_MOD is OFPGMFC_BAD_BUCKET) and inside it.
    #[inline]
    pub fn sub_with(
        &mut self,
        n: usize,
        err: OfError,
        what: &'static str,
    ) -> Result<Reader<'a>, DecodeError> {
        if self.remaining() < n {
            return Err(DecodeError::new(err, what));
        }
        Ok(Reader::new(self.bytes(n, what)?, err))
    }

    pub fn rest_vec(&mut self) -> Vec<u8> {
        let v = self.rest().to_vec();
        self.pos = self.buf.len();
        v
    }

    /// A fixed-size, NUL-padded string field (port names, descriptions).
    pub fn string(&mut self, n: usize, what: &'static str) -> Result<String, DecodeError> {
        let s = self.bytes(n, what)?;
        // Like Open vSwitch (strlcpy): at most n-1 bytes, up to the first NUL.
        let max = n.saturating_sub(1);
        let end = s.iter().position(|&b| b == 0).unwrap_or(s.len()).min(max);
        let mut text = String::from_utf8_lossy(&s[..end]).into_owned();
        // Replacement characters can make it longer than the field: cut at a
        // char boundary so encoding it again gives the same string back.
        truncate_at_char(&mut text, max);
        Ok(text)
    }
}

/// Shortens `s` to at most `max` bytes without splitting a character.
fn truncate_at_char(s: &mut String, max: usize) {
    if s.len() > max {
        let mut cut = max;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
}

/// Number of zero bytes that pad `len` up to a multiple of 8.
pub const fn pad8(len: usize) -> usize {
    (8 - len % 8) % 8
}

/// Writes `n` zero bytes.
pub fn put_zeros(out: &mut impl BufMut, n: usize) {
    out.put_bytes(0, n);
}

/// Writes `s` into a fixed-size field of `n` bytes, truncating so the field
/// always ends with at least one NUL, as OpenFlow's strings do.
pub fn put_string(out: &mut impl BufMut, s: &str, n: usize) {
    let b = s.as_bytes();
    let mut take = b.len().min(n.saturating_sub(1));
    while !s.is_char_boundary(take) {
        take -= 1;
    }
    out.put_slice(&b[..take]);
    out.put_bytes(0, n - take);
}

/// Overwrites a big-endian u16 length field at `at` in an output buffer.
pub fn patch_u16(out: &mut [u8], at: usize, v: u16) {
    out[at..at + 2].copy_from_slice(&v.to_be_bytes());
}

/// Converts an encoded length to the u16 a header carries; lengths are capped
/// by the 64 KiB message limit, so an overflow is a caller bug reported as the
/// largest value (the framer will reject the message on the other side).
pub fn len16(n: usize) -> u16 {
    u16::try_from(n).unwrap_or(u16::MAX)
}
