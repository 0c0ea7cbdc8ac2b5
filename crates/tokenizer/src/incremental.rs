//! Streaming detokenization: text comes out as soon as it is complete UTF-8.

use crate::tokenizer::Tokenizer;

/// The state of a streaming decode without a borrow of the tokenizer (for a request that lives
/// longer than any one borrow, e.g. in an engine that holds the tokenizer in an `Arc`): pass the
/// tokenizer to each [`DecodeStream::push`]. [`IncrementalDecoder`] is the borrowing wrapper.
#[derive(Debug, Clone, Default)]
pub struct DecodeStream {
    skip_special: bool,
    /// Bytes not yet returned: at most an incomplete UTF-8 sequence (< 4 bytes) between calls.
    pending: Vec<u8>,
}

impl DecodeStream {
    /// A stream that leaves special tokens out when `skip_special` (like `decode(ids, true)`).
    pub fn new(skip_special: bool) -> DecodeStream {
        DecodeStream {
            skip_special,
            pending: Vec::new(),
        }
    }

    /// Adds one id; returns the text it completes, if any.
    pub fn push(&mut self, tok: &Tokenizer, id: u32) -> Option<String> {
        if let Some(bytes) = tok.decode_bytes(id, self.skip_special) {
            self.pending.extend_from_slice(bytes);
        }
        let mut out = String::new();
        let mut pos = 0;
        while pos < self.pending.len() {
            let rest = &self.pending[pos..];
            match std::str::from_utf8(rest) {
                Ok(s) => {
                    out.push_str(s);
                    pos = self.pending.len();
                }
                Err(e) => {
                    let valid = e.valid_up_to();
                    out.push_str(std::str::from_utf8(&rest[..valid]).unwrap_or_default());
                    match e.error_len() {
                        // Bytes that no continuation can make valid: one U+FFFD, as from_utf8_lossy.
                        Some(bad) => {
                            out.push(char::REPLACEMENT_CHARACTER);
                            pos += valid + bad;
                        }
                        // An incomplete sequence at the end: wait for more bytes.
                        None => {
                            pos += valid;
                            break;
                        }
                    }
                }
            }
        }
        self.pending.drain(..pos);
        (!out.is_empty()).then_some(out)
    }

    /// Returns what is still held back (an incomplete sequence becomes U+FFFD) and resets.
    pub fn finish(&mut self) -> Option<String> {
        let out = String::from_utf8_lossy(&self.pending).into_owned();
        self.pending.clear();
        (!out.is_empty()).then_some(out)
    }
}

/// Turns ids into text one at a time. Bytes of an incomplete UTF-8 sequence are held back until
/// the next ids complete it; bytes that can never become valid are replaced by U+FFFD exactly as
/// `String::from_utf8_lossy` (and so [`Tokenizer::decode`]) does. The concatenation of everything
/// `push` and `finish` return equals `decode` of all the ids.
pub struct IncrementalDecoder<'a> {
    tok: &'a Tokenizer,
    stream: DecodeStream,
}

impl<'a> IncrementalDecoder<'a> {
    /// A decoder that keeps special tokens (like `decode(ids, false)`).
    pub fn new(tok: &'a Tokenizer) -> IncrementalDecoder<'a> {
        IncrementalDecoder::with_skip_special(tok, false)
    }

    /// A decoder that leaves special tokens out when `skip_special` (like `decode(ids, true)`).
    pub fn with_skip_special(tok: &'a Tokenizer, skip_special: bool) -> IncrementalDecoder<'a> {
        IncrementalDecoder {
            tok,
            stream: DecodeStream::new(skip_special),
        }
    }

    /// Adds one id; returns the text it completes, if any.
    pub fn push(&mut self, id: u32) -> Option<String> {
        self.stream.push(self.tok, id)
    }

    /// Returns what is still held back (an incomplete sequence becomes U+FFFD) and resets.
    pub fn finish(&mut self) -> Option<String> {
        self.stream.finish()
    }
}
