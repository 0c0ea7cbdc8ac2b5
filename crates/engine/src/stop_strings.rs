//! Stop strings over streamed text, with hold-back: text that could still become the start of a
//! stop string is not released until the next text decides it. A match ends the sequence; the
//! text before it is released, the stop string and anything after it never are.
//!
//! Invariant: released text never contains the first character of a stop-string occurrence, so
//! every match lies inside the held text and is found by scanning it alone.

/// What `StopStrings::push` decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopScan {
    /// Text now safe to release (possibly empty while a partial match is held back).
    Emit(String),
    /// A stop string occurred: `text` is what precedes it (not yet released), `stop` which one.
    Matched { text: String, stop: String },
}

#[derive(Debug, Clone, Default)]
pub struct StopStrings {
    stops: Vec<String>,
    /// Decoded text not yet released: a suffix that is a proper prefix of some stop string.
    held: String,
    /// Bytes of the longest stop string.
    max_len: usize,
}

impl StopStrings {
    /// Empty stop strings are ignored (the engine rejects them before).
    pub fn new(stops: &[String]) -> Self {
        let stops: Vec<String> = stops.iter().filter(|s| !s.is_empty()).cloned().collect();
        let max_len = stops.iter().map(String::len).max().unwrap_or(0);
        Self {
            stops,
            held: String::new(),
            max_len,
        }
    }

    /// Adds newly decoded text. On several occurrences the earliest wins (ties: the first in
    /// the request's list).
    pub fn push(&mut self, text: &str) -> StopScan {
        if self.stops.is_empty() {
            return StopScan::Emit(text.to_string());
        }
        self.held.push_str(text);
        let found = self
            .stops
            .iter()
            .filter_map(|s| self.held.find(s.as_str()).map(|at| (at, s)))
            .min_by_key(|&(at, _)| at);
        if let Some((at, stop)) = found {
            let stop = stop.clone();
            let mut text = std::mem::take(&mut self.held);
            text.truncate(at);
            return StopScan::Matched { text, stop };
        }
        let keep_from = self.hold_back_start();
        let rest = self.held.split_off(keep_from);
        StopScan::Emit(std::mem::replace(&mut self.held, rest))
    }

    /// Releases everything held (the sequence ends for another reason).
    pub fn flush(&mut self) -> String {
        std::mem::take(&mut self.held)
    }

    /// The start of the longest suffix of `held` that is a proper prefix of some stop string
    /// (`held.len()` when none).
    fn hold_back_start(&self) -> usize {
        let len = self.held.len();
        let lowest = len.saturating_sub(self.max_len.saturating_sub(1));
        (lowest..len)
            .filter(|&i| self.held.is_char_boundary(i))
            .find(|&i| {
                let tail = &self.held[i..];
                self.stops
                    .iter()
                    .any(|s| s.len() > tail.len() && s.starts_with(tail))
            })
            .unwrap_or(len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stops(list: &[&str]) -> StopStrings {
        StopStrings::new(&list.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    fn emit(s: &str) -> StopScan {
        StopScan::Emit(s.to_string())
    }

    #[test]
    fn holds_back_partial_matches_until_decided() {
        let mut s = stops(&["###", "STOP"]);
        assert_eq!(s.push("abc#"), emit("abc"));
        assert_eq!(s.push("#"), emit(""));
        assert_eq!(s.push("x"), emit("##x"));
        assert_eq!(s.push("ST"), emit(""));
        assert_eq!(
            s.push("OP and more"),
            StopScan::Matched {
                text: String::new(),
                stop: "STOP".into()
            }
        );
    }

    #[test]
    fn match_inside_one_piece_and_earliest_wins() {
        let mut s = stops(&["b", "a"]);
        assert_eq!(
            s.push("xxab"),
            StopScan::Matched {
                text: "xx".into(),
                stop: "a".into()
            }
        );
    }

    #[test]
    fn multibyte_stop_strings_and_boundaries() {
        let mut s = stops(&["你好"]);
        assert_eq!(s.push("é你"), emit("é"));
        assert_eq!(s.push("x"), emit("你x"));
        assert_eq!(s.push("你"), emit(""));
        assert_eq!(
            s.push("好"),
            StopScan::Matched {
                text: String::new(),
                stop: "你好".into()
            }
        );
    }

    #[test]
    fn flush_releases_held_text_and_no_stops_pass_through() {
        let mut s = stops(&["END"]);
        assert_eq!(s.push("the EN"), emit("the "));
        assert_eq!(s.flush(), "EN");
        let mut none = stops(&[]);
        assert_eq!(none.push("anything"), emit("anything"));
    }

    /// Whatever the split of a text into pieces, the released text is the text before the
    /// first stop occurrence (or all of it), and never more.
    #[test]
    fn any_split_releases_exactly_the_prefix() {
        let text = "one #tw#o ##t#ree ### four";
        let list = ["###", "#t#r"];
        let first = list.iter().filter_map(|s| text.find(s)).min().unwrap();
        for cut_a in 0..text.len() {
            for cut_b in cut_a..text.len() {
                let mut s = stops(&list);
                let mut out = String::new();
                let mut matched = false;
                for piece in [&text[..cut_a], &text[cut_a..cut_b], &text[cut_b..]] {
                    match s.push(piece) {
                        StopScan::Emit(t) => out.push_str(&t),
                        StopScan::Matched { text, .. } => {
                            out.push_str(&text);
                            matched = true;
                            break;
                        }
                    }
                    assert!(text[..first].starts_with(&out), "leaked {out:?}");
                }
                assert!(matched);
                assert_eq!(out, &text[..first]);
            }
        }
    }
}
