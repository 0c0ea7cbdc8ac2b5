//! Which type each tensor gets: llama.cpp's rules (`convert_hf_to_gguf.py` for the float types and
//! Q8_0, `llama-quant.cpp`'s `llama_tensor_get_type` for the quantized mixes), for the file types
//! of [`FileType`] and the dense Llama / Qwen3 tensor names.

use quant::GgmlType;

use super::FileType;

/// A tensor as the rules see it: its GGUF name, row-major shape and current type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TensorDesc {
    pub name: String,
    pub shape: Vec<usize>,
    pub dtype: GgmlType,
}

impl TensorDesc {
    /// `ne[0]`, the row length.
    fn ncols(&self) -> usize {
        self.shape.last().copied().unwrap_or(0)
    }
}

/// Tensors that stay in float whatever is asked: 1-D tensors, norms, anything not a `weight`
/// (llama.cpp: "most of the codebase that takes in 1D tensors or norms only handles F32 tensors").
fn stays_float(t: &TensorDesc) -> bool {
    t.shape.len() < 2 || t.name.ends_with("_norm.weight") || !t.name.ends_with("weight")
}

/// llama-quant.cpp's `use_more_bits`: the first and last eighth of the layers and every third in
/// between get more bits in the `_M` mixes.
fn use_more_bits(i_layer: usize, n_layers: usize) -> bool {
    i_layer < n_layers / 8
        || i_layer >= 7 * n_layers / 8
        || (i_layer as i64 - (n_layers / 8) as i64).rem_euclid(3) == 2
}

/// llama-quant.cpp's `tensor_type_fallback`: a row length the chosen block type does not divide
/// demotes it to a 32-value block type, and to F16 when even that does not fit.
pub fn fallback_type(ncols: usize, ty: GgmlType) -> GgmlType {
    if ncols.is_multiple_of(ty.block_size()) {
        return ty;
    }
    let demoted = match ty {
        GgmlType::Q2K | GgmlType::Q3K => GgmlType::Q4_0,
        GgmlType::Q4K => GgmlType::Q5_0,
        GgmlType::Q5K => GgmlType::Q5_1,
        GgmlType::Q6K => GgmlType::Q8_0,
        other => other,
    };
    if ncols.is_multiple_of(demoted.block_size()) {
        demoted
    } else {
        GgmlType::F16
    }
}

/// The layer number of `blk.N.…` names, -1 for the others (llama.cpp's `sscanf("blk.%d.")`).
fn layer_of(name: &str) -> i64 {
    name.strip_prefix("blk.")
        .and_then(|r| r.split_once('.'))
        .and_then(|(n, _)| n.parse().ok())
        .unwrap_or(-1)
}

/// The order llama.cpp's model loader keeps tensors in (`weight_name_comparer`): by layer, the
/// non-layer tensors first, then by name. llama-quantize counts the attn_v / ffn_down tensors and
/// writes its output in this order.
pub fn llama_order(names: &[&str]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..names.len()).collect();
    idx.sort_by(|&a, &b| {
        let (na, nb) = (names[a], names[b]);
        (layer_of(na), na.as_bytes()).cmp(&(layer_of(nb), nb.as_bytes()))
    });
    idx
}

/// The type of every tensor, in order (the per-layer counters run in [`llama_order`]). Float tensors (norms, 1-D) become F32, or keep their type
/// when `keep_float_types` (requantizing a GGUF, as llama-quantize leaves them untouched) and it is
/// already a float type.
pub fn choose_types(ft: FileType, tensors: &[TensorDesc], keep_float_types: bool) -> Vec<GgmlType> {
    let base = ft.base_type();
    let n_attention_wv = tensors
        .iter()
        .filter(|t| t.name.contains("attn_v.weight") || t.name.contains("attn_qkv.weight"))
        .count();
    let n_ffn_down = tensors
        .iter()
        .filter(|t| t.name.contains("ffn_down"))
        .count();
    let has_tied_embeddings = !tensors.iter().any(|t| t.name == "output.weight");
    let mut i_attention_wv = 0usize;
    let mut i_ffn_down = 0usize;

    let names: Vec<&str> = tensors.iter().map(|t| t.name.as_str()).collect();
    let mut types = vec![GgmlType::F32; tensors.len()];
    for i in llama_order(&names) {
        let Some(t) = tensors.get(i) else { continue };
        let ty = (|| {
            if stays_float(t) {
                let is_float = matches!(t.dtype, GgmlType::F32 | GgmlType::F16 | GgmlType::BF16);
                return if keep_float_types && is_float {
                    t.dtype
                } else {
                    GgmlType::F32
                };
            }
            if !ft.is_quantized() {
                return base;
            }
            let is_output = t.name == "output.weight";
            let is_token_embd = t.name == "token_embd.weight";
            let is_attn_v = t.name.contains("attn_v.weight") || t.name.contains("attn_qkv.weight");
            let is_ffn_down = t.name.contains("ffn_down");

            let mut ty = base;
            if is_output || (has_tied_embeddings && is_token_embd) {
                if !t.ncols().is_multiple_of(base.block_size()) {
                    ty = GgmlType::Q8_0;
                } else if ty != GgmlType::Q8_0 {
                    ty = GgmlType::Q6K;
                }
            } else if is_token_embd {
                // No rule for these file types.
            } else if is_attn_v {
                match ft {
                    FileType::Q4KM if use_more_bits(i_attention_wv, n_attention_wv) => {
                        ty = GgmlType::Q6K
                    }
                    FileType::Q4K if i_attention_wv < 4 => ty = GgmlType::Q5K,
                    _ => {}
                }
                i_attention_wv += 1;
            } else if is_ffn_down {
                match ft {
                    FileType::Q4KM if use_more_bits(i_ffn_down, n_ffn_down) => ty = GgmlType::Q6K,
                    FileType::Q4K if i_ffn_down < n_ffn_down / 8 => ty = GgmlType::Q5K,
                    _ => {}
                }
                i_ffn_down += 1;
            }
            fallback_type(t.ncols(), ty)
        })();
        if let Some(slot) = types.get_mut(i) {
            *slot = ty;
        }
    }
    types
}
