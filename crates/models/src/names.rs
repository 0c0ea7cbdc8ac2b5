//! Checkpoint tensor names, kept at the load boundary: Hugging Face safetensors
//! (`model.layers.3.self_attn.q_proj.weight`) and GGUF (`blk.3.attn_q.weight`).

use formats::SourceKind;

/// A per-layer weight, named by role.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LayerWeight {
    AttnNorm,
    Q,
    K,
    V,
    O,
    QNorm,
    KNorm,
    MlpNorm,
    Gate,
    Up,
    Down,
}

/// A weight of a decoder-only transformer, named by role.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WeightName {
    Embed,
    FinalNorm,
    LmHead,
    Layer(usize, LayerWeight),
}

impl WeightName {
    /// The tensor's name in a checkpoint of this kind.
    pub(crate) fn path(self, kind: SourceKind) -> String {
        match kind {
            SourceKind::HuggingFace => self.hf(),
            SourceKind::Gguf => self.gguf(),
        }
    }

    fn hf(self) -> String {
        use LayerWeight::*;
        match self {
            WeightName::Embed => "model.embed_tokens.weight".into(),
            WeightName::FinalNorm => "model.norm.weight".into(),
            WeightName::LmHead => "lm_head.weight".into(),
            WeightName::Layer(i, w) => {
                let leaf = match w {
                    AttnNorm => "input_layernorm",
                    Q => "self_attn.q_proj",
                    K => "self_attn.k_proj",
                    V => "self_attn.v_proj",
                    O => "self_attn.o_proj",
                    QNorm => "self_attn.q_norm",
                    KNorm => "self_attn.k_norm",
                    MlpNorm => "post_attention_layernorm",
                    Gate => "mlp.gate_proj",
                    Up => "mlp.up_proj",
                    Down => "mlp.down_proj",
                };
                format!("model.layers.{i}.{leaf}.weight")
            }
        }
    }

    fn gguf(self) -> String {
        use LayerWeight::*;
        match self {
            WeightName::Embed => "token_embd.weight".into(),
            WeightName::FinalNorm => "output_norm.weight".into(),
            WeightName::LmHead => "output.weight".into(),
            WeightName::Layer(i, w) => {
                let leaf = match w {
                    AttnNorm => "attn_norm",
                    Q => "attn_q",
                    K => "attn_k",
                    V => "attn_v",
                    O => "attn_output",
                    QNorm => "attn_q_norm",
                    KNorm => "attn_k_norm",
                    MlpNorm => "ffn_norm",
                    Gate => "ffn_gate",
                    Up => "ffn_up",
                    Down => "ffn_down",
                };
                format!("blk.{i}.{leaf}.weight")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_conventions() {
        let hf = SourceKind::HuggingFace;
        let gg = SourceKind::Gguf;
        assert_eq!(
            WeightName::Layer(3, LayerWeight::Q).path(hf),
            "model.layers.3.self_attn.q_proj.weight"
        );
        assert_eq!(
            WeightName::Layer(3, LayerWeight::Q).path(gg),
            "blk.3.attn_q.weight"
        );
        assert_eq!(
            WeightName::Layer(0, LayerWeight::KNorm).path(hf),
            "model.layers.0.self_attn.k_norm.weight"
        );
        assert_eq!(
            WeightName::Layer(0, LayerWeight::KNorm).path(gg),
            "blk.0.attn_k_norm.weight"
        );
        assert_eq!(
            WeightName::Layer(1, LayerWeight::MlpNorm).path(hf),
            "model.layers.1.post_attention_layernorm.weight"
        );
        assert_eq!(
            WeightName::Layer(1, LayerWeight::MlpNorm).path(gg),
            "blk.1.ffn_norm.weight"
        );
        assert_eq!(
            WeightName::Layer(2, LayerWeight::Down).path(hf),
            "model.layers.2.mlp.down_proj.weight"
        );
        assert_eq!(
            WeightName::Layer(2, LayerWeight::Down).path(gg),
            "blk.2.ffn_down.weight"
        );
        assert_eq!(
            WeightName::Layer(2, LayerWeight::O).path(gg),
            "blk.2.attn_output.weight"
        );
        assert_eq!(WeightName::Embed.path(gg), "token_embd.weight");
        assert_eq!(WeightName::LmHead.path(hf), "lm_head.weight");
        assert_eq!(WeightName::LmHead.path(gg), "output.weight");
        assert_eq!(WeightName::FinalNorm.path(gg), "output_norm.weight");
        assert_eq!(WeightName::FinalNorm.path(hf), "model.norm.weight");
    }
}
