//! OpenAI `logit_bias`: a value added to a token's logit. Ids outside the row are ignored
//! (`SamplerConfig::validate_for_vocab` rejects them up front).

pub fn apply_logit_bias(logits: &mut [f32], bias: &[(u32, f32)]) {
    for &(t, b) in bias {
        if let Some(l) = logits.get_mut(t as usize) {
            *l += b;
        }
    }
}
