//! Internet checksum (RFC 1071) incremental updates (RFC 1624) and CRC32c
//! (SCTP, RFC 9260 appendix A).

use super::bytes::arr_mut;

/// Sum of the big-endian 16-bit words of `data` (an odd last byte is the
/// high half of a word), not folded: a value below 2^35 that [`fold`]s to
/// the same checksum (it may differ from the plain word sum by multiples
/// of 0xffff).
///
/// Eight bytes at a time: a big-endian u64 is four words each shifted by
/// a multiple of 16 bits, and 2^16 ≡ 1 (mod 0xffff), so summing them as
/// u64s and folding the 128-bit total gives the same one's-complement
/// sum, four times fewer steps (this runs over every byte of every TCP
/// segment a tunnel cuts or joins).
#[inline]
pub(crate) fn sum(data: &[u8]) -> u64 {
    let mut wide: u128 = 0;
    let mut eights = data.chunks_exact(8);
    for c in &mut eights {
        let mut b = [0u8; 8];
        b.copy_from_slice(c);
        wide += u128::from(u64::from_be_bytes(b));
    }
    let mut s = 0u64;
    let mut it = eights.remainder().chunks_exact(2);
    for w in &mut it {
        if let [a, b] = *w {
            s += u64::from(u16::from_be_bytes([a, b]));
        }
    }
    if let [last] = *it.remainder() {
        s += u64::from(last) << 8;
    }
    // 2^64 ≡ 2^32 ≡ 1 (mod 0xffff): fold the wide sum down to 35 bits.
    let w64 = (wide as u64 as u128) + (wide >> 64); // < 2^65
    let w33 = (w64 & 0xffff_ffff) + (w64 >> 32); // < 2^34
    s + w33 as u64
}

/// Folds a sum into 16 bits with end-around carry.
#[inline]
pub(crate) fn fold(mut s: u64) -> u16 {
    while s >> 16 != 0 {
        s = (s & 0xffff) + (s >> 16);
    }
    s as u16
}

/// RFC 1624 eqn. 3: the checksum after the words `old` became `new`
/// (`old` and `new` the same length, starting on a word boundary of the
/// checksummed data).
#[inline]
pub(crate) fn update(csum: u16, old: &[u8], new: &[u8]) -> u16 {
    let m = fold(sum(old));
    let m2 = fold(sum(new));
    !fold(u64::from(!csum) + u64::from(!m) + u64::from(m2))
}

/// Updates the checksum stored at `at` in `frame` (no-op when out of range).
#[inline]
pub(crate) fn patch(frame: &mut [u8], at: usize, old: &[u8], new: &[u8]) {
    if let Some(c) = arr_mut::<2>(frame, at) {
        *c = update(u16::from_be_bytes(*c), old, new).to_be_bytes();
    }
}

/// Like [`patch`] for UDP: zero means "no checksum" and stays zero; a
/// computed zero is sent as `0xffff` (RFC 768).
#[inline]
pub(crate) fn patch_udp(frame: &mut [u8], at: usize, old: &[u8], new: &[u8]) {
    if let Some(c) = arr_mut::<2>(frame, at) {
        let v = u16::from_be_bytes(*c);
        if v != 0 {
            let n = update(v, old, new);
            *c = if n == 0 { 0xffff } else { n }.to_be_bytes();
        }
    }
}

const fn crc32c_table() -> [u32; 256] {
    let mut t = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ 0x82f6_3b78
            } else {
                c >> 1
            };
            k += 1;
        }
        t[i] = c;
        i += 1;
    }
    t
}

static CRC32C: [u32; 256] = crc32c_table();

/// CRC32c (Castagnoli) of `data`; SCTP stores it little-endian.
pub(crate) fn crc32c(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc = CRC32C[usize::from((crc as u8) ^ b)] ^ (crc >> 8);
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sum_matches_the_word_by_word_sum() {
        let naive = |d: &[u8]| -> u16 {
            let mut s = 0u64;
            for (i, b) in d.iter().enumerate() {
                s += u64::from(*b) << if i % 2 == 0 { 8 } else { 0 };
            }
            fold(s)
        };
        let mut x = 0x1234_5678u32;
        for len in 0..300 {
            let d: Vec<u8> = (0..len)
                .map(|_| {
                    x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                    (x >> 24) as u8
                })
                .collect();
            assert_eq!(fold(sum(&d)), naive(&d), "length {len}");
            assert_eq!(fold(sum(&vec![0xff; len])), naive(&vec![0xff; len]));
        }
        let big = vec![0xffu8; 65_536];
        assert_eq!(fold(sum(&big)), naive(&big));
    }

    fn full(data: &[u8]) -> u16 {
        !fold(sum(data))
    }

    #[test]
    fn incremental_matches_full() {
        // The RFC 1071 example words, then a change of the third word.
        let mut d = [0x00u8, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7, 0, 0];
        let c = full(&d);
        d[8..10].copy_from_slice(&c.to_be_bytes());
        assert_eq!(fold(sum(&d)), 0xffff);
        let old = [d[4], d[5]];
        d[4] = 0x12;
        d[5] = 0x34;
        let c2 = update(c, &old, &d[4..6]);
        d[8..10].copy_from_slice(&c2.to_be_bytes());
        assert_eq!(fold(sum(&d)), 0xffff);
    }

    #[test]
    fn odd_length_sum() {
        assert_eq!(sum(&[1, 2, 3]), 0x0102 + 0x0300);
    }

    #[test]
    fn crc32c_check_value() {
        // The CRC-32C check value (RFC 3720 B.4 / the catalogue's "123456789").
        assert_eq!(crc32c(b"123456789"), 0xe306_9283);
        assert_eq!(crc32c(&[0u8; 32]), 0x8a91_36aa);
    }
}
