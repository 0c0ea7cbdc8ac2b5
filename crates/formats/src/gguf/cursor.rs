//! A bounds-checked little-endian reader over a byte slice. Every read checks the bytes left first,
//! so malformed input yields `Error::Truncated` (naming the field and offset), never a panic.

use crate::Error;

pub(crate) struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Cursor { buf, pos: 0 }
    }

    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    /// Fails unless `count` items of at least `min_item_bytes` each could still fit in the bytes left.
    /// Call this before allocating for a count read from the file.
    pub(crate) fn check_count(
        &self,
        count: u64,
        min_item_bytes: u64,
        what: &str,
    ) -> Result<usize, Error> {
        let have = self.remaining() as u64;
        let need = count.checked_mul(min_item_bytes);
        match need {
            Some(need) if need <= have => {
                usize::try_from(count).map_err(|_| self.truncated(what, u64::MAX))
            }
            _ => Err(Error::Truncated {
                what: format!("{what} (count {count}, at least {min_item_bytes} bytes each)"),
                offset: self.pos as u64,
                need: need.unwrap_or(u64::MAX),
                have,
            }),
        }
    }

    pub(crate) fn truncated(&self, what: &str, need: u64) -> Error {
        Error::Truncated {
            what: what.to_string(),
            offset: self.pos as u64,
            need,
            have: self.remaining() as u64,
        }
    }

    pub(crate) fn bytes(&mut self, n: usize, what: &str) -> Result<&'a [u8], Error> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&end| end <= self.buf.len())
            .ok_or_else(|| self.truncated(what, n as u64))?;
        let s = self
            .buf
            .get(self.pos..end)
            .ok_or_else(|| self.truncated(what, n as u64))?;
        self.pos = end;
        Ok(s)
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], Error> {
        let s = self.bytes(N, what)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    pub(crate) fn u8(&mut self, what: &str) -> Result<u8, Error> {
        Ok(self.array::<1>(what)?[0])
    }
    pub(crate) fn i8(&mut self, what: &str) -> Result<i8, Error> {
        Ok(i8::from_le_bytes(self.array(what)?))
    }
    pub(crate) fn u16(&mut self, what: &str) -> Result<u16, Error> {
        Ok(u16::from_le_bytes(self.array(what)?))
    }
    pub(crate) fn i16(&mut self, what: &str) -> Result<i16, Error> {
        Ok(i16::from_le_bytes(self.array(what)?))
    }
    pub(crate) fn u32(&mut self, what: &str) -> Result<u32, Error> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }
    pub(crate) fn i32(&mut self, what: &str) -> Result<i32, Error> {
        Ok(i32::from_le_bytes(self.array(what)?))
    }
    pub(crate) fn u64(&mut self, what: &str) -> Result<u64, Error> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }
    pub(crate) fn i64(&mut self, what: &str) -> Result<i64, Error> {
        Ok(i64::from_le_bytes(self.array(what)?))
    }
    pub(crate) fn f32(&mut self, what: &str) -> Result<f32, Error> {
        Ok(f32::from_le_bytes(self.array(what)?))
    }
    pub(crate) fn f64(&mut self, what: &str) -> Result<f64, Error> {
        Ok(f64::from_le_bytes(self.array(what)?))
    }

    pub(crate) fn bool(&mut self, what: &str) -> Result<bool, Error> {
        let at = self.pos as u64;
        match self.u8(what)? {
            0 => Ok(false),
            1 => Ok(true),
            b => Err(Error::InvalidGguf {
                offset: at,
                msg: format!("{what}: bool byte is {b}, expected 0 or 1"),
            }),
        }
    }

    /// A GGUF string: u64 length, then that many UTF-8 bytes.
    pub(crate) fn string(&mut self, what: &str) -> Result<&'a str, Error> {
        let len = self.u64(what)?;
        let start = self.pos as u64;
        let n = self.check_count(len, 1, what)?;
        let b = self.bytes(n, what)?;
        std::str::from_utf8(b).map_err(|e| Error::InvalidGguf {
            offset: start,
            msg: format!("{what}: string of {len} bytes is not valid UTF-8 ({e})"),
        })
    }
}
