//! Added (special and user-defined) tokens, matched in text before pre-tokenization.
//!
//! HF semantics (`AddedVocabulary::find_matches`): leftmost-longest, non-overlapping matches;
//! `single_word` drops a match touching a word char on either side (the scan then goes on after
//! it); `lstrip` / `rstrip` widen a match over the whitespace before / after it.

/// One added token and its matching flags.
#[derive(Debug, Clone)]
pub(crate) struct AddedToken {
    pub id: u32,
    pub content: String,
    pub single_word: bool,
    pub lstrip: bool,
    pub rstrip: bool,
}

/// A piece of text after added-token matching.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Segment {
    /// Plain text: byte range into the input.
    Text(usize, usize),
    /// A matched added token.
    Token(u32),
}

#[derive(Default)]
struct Node {
    /// (byte, child node index), sorted by byte.
    children: Vec<(u8, u32)>,
    /// Index into `tokens` of the token ending here.
    token: Option<u32>,
}

/// A byte trie over the contents of the added tokens.
pub(crate) struct AddedMatcher {
    tokens: Vec<AddedToken>,
    nodes: Vec<Node>,
    /// Bytes that start some token: positions whose byte is not here are skipped quickly.
    first_byte: [bool; 256],
}

impl AddedMatcher {
    pub(crate) fn new(tokens: Vec<AddedToken>) -> AddedMatcher {
        let mut nodes = vec![Node::default()];
        let mut first_byte = [false; 256];
        for (t, tok) in tokens.iter().enumerate() {
            let Some(&b0) = tok.content.as_bytes().first() else {
                continue;
            };
            first_byte[usize::from(b0)] = true;
            let mut node = 0usize;
            for &b in tok.content.as_bytes() {
                node = match nodes[node].children.binary_search_by_key(&b, |&(k, _)| k) {
                    Ok(i) => nodes[node].children[i].1 as usize,
                    Err(i) => {
                        let child = nodes.len();
                        nodes.push(Node::default());
                        nodes[node].children.insert(i, (b, child as u32));
                        child
                    }
                };
            }
            // The first token with a given content wins (HF keeps one entry per content).
            nodes[node].token.get_or_insert(t as u32);
        }
        AddedMatcher {
            tokens,
            nodes,
            first_byte,
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// The longest token starting at byte `start` of `text`: (token index, end).
    fn longest_at(&self, text: &[u8], start: usize) -> Option<(usize, usize)> {
        let mut node = 0usize;
        let mut best = None;
        for (i, &b) in text.iter().enumerate().skip(start) {
            let children = &self.nodes[node].children;
            match children.binary_search_by_key(&b, |&(k, _)| k) {
                Ok(c) => node = children[c].1 as usize,
                Err(_) => break,
            }
            if let Some(t) = self.nodes[node].token {
                best = Some((t as usize, i + 1));
            }
        }
        best
    }

    /// Cuts `text` into plain-text segments and added tokens, calling `seg` for each in order.
    /// Empty text segments are not reported.
    pub(crate) fn split(&self, text: &str, mut seg: impl FnMut(Segment)) {
        let bytes = text.as_bytes();
        let mut text_start = 0usize; // start of the pending plain-text segment
        let mut i = 0usize;
        while i < bytes.len() {
            if !self.first_byte[usize::from(bytes[i])] {
                i += 1;
                continue;
            }
            let Some((t, end)) = self.longest_at(bytes, i) else {
                i += 1;
                continue;
            };
            let tok = &self.tokens[t];
            let (mut start, mut stop) = (i, end);
            if tok.single_word {
                let before = text[..start].chars().next_back().is_some_and(is_word_char);
                let after = text[stop..].chars().next().is_some_and(is_word_char);
                if before || after {
                    i = end;
                    continue;
                }
            }
            if tok.lstrip {
                let trimmed = text[text_start..start].trim_end_matches(char::is_whitespace);
                start = text_start + trimmed.len();
            }
            if tok.rstrip {
                let rest = &text[stop..];
                stop += rest.len() - rest.trim_start_matches(char::is_whitespace).len();
            }
            if text_start < start {
                seg(Segment::Text(text_start, start));
            }
            seg(Segment::Token(tok.id));
            text_start = stop;
            i = stop;
        }
        if text_start < bytes.len() {
            seg(Segment::Text(text_start, bytes.len()));
        }
    }
}

/// A char that makes a `single_word` token part of a word.
fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tok(id: u32, content: &str) -> AddedToken {
        AddedToken {
            id,
            content: content.into(),
            single_word: false,
            lstrip: false,
            rstrip: false,
        }
    }

    fn run(m: &AddedMatcher, text: &str) -> Vec<String> {
        let mut out = Vec::new();
        m.split(text, |s| match s {
            Segment::Text(a, b) => out.push(text[a..b].to_string()),
            Segment::Token(id) => out.push(format!("#{id}")),
        });
        out
    }

    #[test]
    fn leftmost_longest() {
        let m = AddedMatcher::new(vec![tok(1, "<a>"), tok(2, "<a><b>"), tok(3, "b>")]);
        assert_eq!(run(&m, "x<a><b>y<a>"), ["x", "#2", "y", "#1"]);
        assert_eq!(run(&m, "<a"), ["<a"]);
        assert_eq!(run(&m, "<<a>b>"), ["<", "#1", "#3"]);
        assert_eq!(run(&m, ""), Vec::<String>::new());
        assert_eq!(run(&m, "é<a>é"), ["é", "#1", "é"]);
    }

    #[test]
    fn strip_and_single_word() {
        let mut t = tok(1, "<m>");
        t.lstrip = true;
        t.rstrip = true;
        let m = AddedMatcher::new(vec![t]);
        assert_eq!(run(&m, "a  <m>  b"), ["a", "#1", "b"]);
        let mut t = tok(2, "ab");
        t.single_word = true;
        let m = AddedMatcher::new(vec![t]);
        assert_eq!(run(&m, "ab xab ab."), ["#2", " xab ", "#2", "."]);
    }
}
