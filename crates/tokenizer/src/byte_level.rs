//! GPT-2's byte ↔ unicode mapping: every byte gets a printable character so that byte-level BPE
//! vocabularies can be stored as strings (`Ġ` is byte 0x20, `Ċ` is 0x0A, ...).

/// The character standing for each byte.
pub(crate) fn byte_to_char_table() -> [char; 256] {
    let mut table = ['\0'; 256];
    let mut next_extra = 256u32;
    for b in 0..=255u8 {
        let printable = matches!(b, 0x21..=0x7E | 0xA1..=0xAC | 0xAE..=0xFF);
        let cp = if printable {
            u32::from(b)
        } else {
            let cp = next_extra;
            next_extra += 1;
            cp
        };
        // All code points used are below 0x144: valid chars.
        table[usize::from(b)] = char::from_u32(cp).unwrap_or('\0');
    }
    table
}

/// The inverse mapping, as a lookup from char to byte (`None` for chars that stand for no byte).
#[derive(Clone)]
pub(crate) struct ByteDecoder {
    /// Indexed by code point; every mapped char is below 0x144.
    bytes: Vec<Option<u8>>,
}

impl ByteDecoder {
    pub(crate) fn new() -> ByteDecoder {
        let table = byte_to_char_table();
        let mut bytes = vec![None; 0x144];
        for (b, &c) in table.iter().enumerate() {
            if let Some(slot) = bytes.get_mut(c as usize) {
                *slot = u8::try_from(b).ok();
            }
        }
        ByteDecoder { bytes }
    }

    pub(crate) fn byte_of(&self, c: char) -> Option<u8> {
        self.bytes.get(c as usize).copied().flatten()
    }

    /// The bytes a byte-level token string stands for; `None` if some char maps to no byte.
    pub(crate) fn decode_token(&self, token: &str) -> Option<Vec<u8>> {
        token.chars().map(|c| self.byte_of(c)).collect()
    }
}

/// The byte-level form of raw bytes (what a BPE vocabulary entry looks like).
pub(crate) fn encode_bytes(table: &[char; 256], bytes: &[u8]) -> String {
    bytes.iter().map(|&b| table[usize::from(b)]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gpt2_mapping() {
        let t = byte_to_char_table();
        assert_eq!(t[usize::from(b' ')], 'Ġ');
        assert_eq!(t[usize::from(b'\n')], 'Ċ');
        assert_eq!(t[usize::from(b'\t')], 'ĉ');
        assert_eq!(t[usize::from(b'a')], 'a');
        assert_eq!(t[0], 'Ā');
        assert_eq!(t[0xAD], 'Ń');
        let d = ByteDecoder::new();
        for b in 0..=255u8 {
            assert_eq!(d.byte_of(t[usize::from(b)]), Some(b));
        }
        let distinct: std::collections::HashSet<char> = t.iter().copied().collect();
        assert_eq!(distinct.len(), 256);
        assert_eq!(d.decode_token("ĠhelloĊ"), Some(b" hello\n".to_vec()));
        assert_eq!(d.decode_token("<|x|>"), Some(b"<|x|>".to_vec()));
        assert_eq!(
            d.decode_token("a b"),
            None,
            "a plain space is no byte-level char"
        );
    }
}
