//! What the sampler needs to know about the sequence so far.

/// Token history of one sequence, split the way the penalties need it.
///
/// The repetition penalty (HF / llama.cpp) covers `prompt` and `generated`; the presence and
/// frequency penalties (OpenAI) count `generated` only.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SamplingContext<'a> {
    /// Prompt token ids.
    pub prompt: &'a [u32],
    /// Token ids generated so far for this sequence.
    pub generated: &'a [u32],
}
