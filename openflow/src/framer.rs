//! Splitting a byte stream into OpenFlow messages.
//!
//! TCP delivers a stream; OpenFlow messages are delimited by the length in
//! their header. [`Framer`] buffers input and yields one complete message
//! at a time. A length below 8 can never be a message and leaves the stream
//! unrecoverable, so it is reported and the connection should be closed; a
//! length above the configured limit likewise.

use crate::message::{Header, HEADER_LEN, MAX_MESSAGE_LEN};
use bytes::{Buf, BytesMut};

/// Why the stream can no longer be framed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("message length {0} is below the 8-byte header")]
    TooShort(u16),
    #[error("message length {len} is above the limit of {limit} bytes")]
    TooLong { len: usize, limit: usize },
}

/// Accumulates stream bytes and cuts them into messages.
#[derive(Debug)]
pub struct Framer {
    buf: BytesMut,
    limit: usize,
}

impl Default for Framer {
    fn default() -> Self {
        Framer::new()
    }
}

impl Framer {
    /// A framer accepting messages up to the 64 KiB protocol maximum.
    pub fn new() -> Framer {
        Framer::with_limit(MAX_MESSAGE_LEN)
    }

    /// A framer rejecting messages longer than `limit` bytes.
    pub fn with_limit(limit: usize) -> Framer {
        Framer {
            buf: BytesMut::with_capacity(4096),
            limit: limit.clamp(HEADER_LEN, MAX_MESSAGE_LEN),
        }
    }

    /// Appends received bytes.
    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// The internal buffer, for reading into directly.
    pub fn buffer_mut(&mut self) -> &mut BytesMut {
        &mut self.buf
    }

    /// Bytes held that do not yet form a complete message.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }

    /// The next complete message (header included), `Ok(None)` when more
    /// bytes are needed, or an error when the stream is broken.
    pub fn next_message(&mut self) -> Result<Option<BytesMut>, FrameError> {
        let Some(h) = Header::parse(&self.buf) else {
            return Ok(None);
        };
        let len = usize::from(h.length);
        if len < HEADER_LEN {
            return Err(FrameError::TooShort(h.length));
        }
        if len > self.limit {
            return Err(FrameError::TooLong {
                len,
                limit: self.limit,
            });
        }
        if self.buf.len() < len {
            self.buf.reserve(len - self.buf.len());
            return Ok(None);
        }
        Ok(Some(self.buf.split_to(len)))
    }

    /// Drops `n` buffered bytes (after a caller consumed them elsewhere).
    pub fn discard(&mut self, n: usize) {
        let n = n.min(self.buf.len());
        self.buf.advance(n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_and_reassembles() {
        let mut f = Framer::new();
        let msgs = [
            vec![4, 2, 0, 8, 0, 0, 0, 1],
            vec![4, 2, 0, 12, 0, 0, 0, 2, 1, 2, 3, 4],
        ];
        let stream: Vec<u8> = msgs.concat();
        for chunk in stream.chunks(3) {
            f.push(chunk);
        }
        assert_eq!(&f.next_message().unwrap().unwrap()[..], &msgs[0][..]);
        assert_eq!(&f.next_message().unwrap().unwrap()[..], &msgs[1][..]);
        assert_eq!(f.next_message().unwrap(), None);
        f.push(&[4, 2, 0]);
        assert_eq!(f.next_message().unwrap(), None);
        assert_eq!(f.pending(), 3);
    }

    #[test]
    fn rejects_bad_lengths() {
        let mut f = Framer::new();
        f.push(&[4, 0, 0, 7, 0, 0, 0, 0]);
        assert_eq!(f.next_message(), Err(FrameError::TooShort(7)));
        let mut f = Framer::with_limit(100);
        f.push(&[4, 0, 0, 200, 0, 0, 0, 0]);
        assert!(matches!(
            f.next_message(),
            Err(FrameError::TooLong { len: 200, .. })
        ));
        // 65535 is allowed by default
        let mut f = Framer::new();
        f.push(&[4, 0, 0xff, 0xff, 0, 0, 0, 0]);
        assert_eq!(f.next_message(), Ok(None));
    }
}
