//! Qwen3-style reasoning split: generated text that opens with `<think>` (after optional
//! whitespace) is reasoning up to `</think>`, then content. When the prompt itself ends inside
//! an open think block (templates that write `<think>` into the generation prompt), the output
//! starts as reasoning. Works on streamed text: a tag may arrive as its own delta or split
//! across deltas; text that could still become a tag is held back until it is decided. The
//! tags themselves are never shown.

const OPEN: &str = "<think>";
const CLOSE: &str = "</think>";

/// One step's output: reasoning text and content text (either may be empty).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Split {
    pub reasoning: String,
    pub content: String,
}

impl Split {
    pub fn is_empty(&self) -> bool {
        self.reasoning.is_empty() && self.content.is_empty()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Nothing but whitespace seen: an opening tag may still come.
    Start,
    Reasoning,
    Content,
}

/// The streaming splitter of one choice.
#[derive(Debug, Clone)]
pub struct ReasoningSplitter {
    state: State,
    /// Text not yet attributed (a possible tag prefix, or leading whitespace).
    held: String,
}

impl ReasoningSplitter {
    /// `enabled = false` passes everything through as content (models without think tags).
    pub fn new(enabled: bool) -> ReasoningSplitter {
        ReasoningSplitter {
            state: if enabled {
                State::Start
            } else {
                State::Content
            },
            held: String::new(),
        }
    }

    /// The splitter for a reply to `prompt`: already in reasoning when the prompt's last
    /// `<think>` is not closed.
    pub fn for_prompt(enabled: bool, prompt: &str) -> ReasoningSplitter {
        let open = prompt.rfind(OPEN);
        let in_reasoning = enabled && open.is_some() && prompt.rfind(CLOSE) < open;
        let mut s = ReasoningSplitter::new(enabled);
        if in_reasoning {
            s.state = State::Reasoning;
        }
        s
    }

    /// Adds a delta of generated text.
    pub fn push(&mut self, text: &str) -> Split {
        let mut out = Split::default();
        self.held.push_str(text);
        loop {
            match self.state {
                State::Content => {
                    out.content.push_str(&self.held);
                    self.held.clear();
                    return out;
                }
                State::Start => {
                    let trimmed = self.held.trim_start();
                    if let Some(rest) = trimmed.strip_prefix(OPEN) {
                        self.held = rest.to_string();
                        self.state = State::Reasoning;
                    } else if OPEN.starts_with(trimmed) {
                        // Only whitespace, or a prefix of the tag: wait.
                        return out;
                    } else {
                        self.state = State::Content;
                    }
                }
                State::Reasoning => {
                    if let Some(at) = self.held.find(CLOSE) {
                        out.reasoning.push_str(&self.held[..at]);
                        self.held = self.held[at + CLOSE.len()..].to_string();
                        self.state = State::Content;
                    } else {
                        let keep = partial_suffix(&self.held, CLOSE);
                        let emit = self.held.len() - keep;
                        out.reasoning.push_str(&self.held[..emit]);
                        self.held.drain(..emit);
                        return out;
                    }
                }
            }
        }
    }

    /// The end of generation: whatever is held back goes where it was heading.
    pub fn finish(&mut self) -> Split {
        let held = std::mem::take(&mut self.held);
        match self.state {
            State::Reasoning => Split {
                reasoning: held,
                content: String::new(),
            },
            State::Start | State::Content => Split {
                reasoning: String::new(),
                content: held,
            },
        }
    }

    /// Splits a whole text at once (non-streaming responses), from this splitter's state.
    pub fn split_all(mut self, text: &str) -> Split {
        let s = &mut self;
        let mut a = s.push(text);
        let b = s.finish();
        a.reasoning.push_str(&b.reasoning);
        a.content.push_str(&b.content);
        a
    }
}

/// Length of the longest suffix of `text` that is a proper prefix of `tag` (ends on a char
/// boundary: the tag is ASCII).
fn partial_suffix(text: &str, tag: &str) -> usize {
    (1..tag.len().min(text.len() + 1))
        .rev()
        .find(|&n| {
            text.is_char_boundary(text.len() - n) && tag.starts_with(&text[text.len() - n..])
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `pieces` one by one and joins the outputs.
    fn stream(enabled: bool, pieces: &[&str]) -> Split {
        let mut s = ReasoningSplitter::new(enabled);
        let mut all = Split::default();
        for p in pieces {
            let o = s.push(p);
            all.reasoning.push_str(&o.reasoning);
            all.content.push_str(&o.content);
        }
        let o = s.finish();
        all.reasoning.push_str(&o.reasoning);
        all.content.push_str(&o.content);
        all
    }

    fn split(r: &str, c: &str) -> Split {
        Split {
            reasoning: r.into(),
            content: c.into(),
        }
    }

    #[test]
    fn tags_in_their_own_deltas() {
        let got = stream(
            true,
            &[
                "<think>", "\n", "Let me", " think", "\n", "</think>", "\n\n", "Hi", "!",
            ],
        );
        assert_eq!(got, split("\nLet me think\n", "\n\nHi!"));
    }

    #[test]
    fn every_split_point_gives_the_same_result() {
        let text = "  <think>a<b</thin</think>c</think>d";
        let want = split("a<b</thin", "c</think>d");
        assert_eq!(ReasoningSplitter::new(true).split_all(text), want);
        for i in 0..=text.len() {
            for j in i..=text.len() {
                let got = stream(true, &[&text[..i], &text[i..j], &text[j..]]);
                assert_eq!(got, want, "split at {i}, {j}");
            }
        }
    }

    #[test]
    fn content_only_and_unclosed() {
        assert_eq!(
            ReasoningSplitter::new(true).split_all("Hello"),
            split("", "Hello")
        );
        assert_eq!(
            ReasoningSplitter::new(true).split_all("x<think>y</think>"),
            split("", "x<think>y</think>")
        );
        assert_eq!(stream(true, &["<thi", "nk>abc</th"]), split("abc</th", ""));
        assert_eq!(stream(true, &["<thi"]), split("", "<thi"));
        assert_eq!(stream(true, &["\n", " "]), split("", "\n "));
        assert_eq!(
            ReasoningSplitter::new(false).split_all("<think>a</think>b"),
            split("", "<think>a</think>b")
        );
        // A prompt that ends inside a think block: the reply starts as reasoning.
        let open = ReasoningSplitter::for_prompt(true, "<|im_start|>assistant\n<think>\n");
        assert_eq!(open.split_all("a</think>b"), split("a", "b"));
        let closed = ReasoningSplitter::for_prompt(true, "assistant\n<think>\n\n</think>\n\n");
        assert_eq!(closed.split_all("a</think>b"), split("", "a</think>b"));
        let plain = ReasoningSplitter::for_prompt(true, "user\nhi");
        assert_eq!(plain.split_all("<think>a</think>b"), split("a", "b"));
        let off = ReasoningSplitter::for_prompt(false, "<think>");
        assert_eq!(off.split_all("a</think>b"), split("", "a</think>b"));
        // Text held back is not shown early: a partial close tag waits.
        let mut s = ReasoningSplitter::new(true);
        assert_eq!(s.push("<think>ab</"), split("ab", ""));
        assert_eq!(s.push("think>é"), split("", "é"));
    }
}
