//! `FileType`: what `inferno quantize --type` asks for, as llama.cpp's `llama_ftype` (the value of
//! `general.file_type`) and the tensor type most weights get.

use quant::GgmlType;

use crate::Error;

/// An output file type. The quantized ones follow llama-quantize's mixes: `Q4KM` is `Q4_K_M`,
/// `Q4K` is `Q4_K_S` (llama-quantize's plain "Q4_K" means Q4_K_M; ask for that by its name).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FileType {
    F32,
    F16,
    BF16,
    Q8_0,
    Q4_0,
    Q4K,
    Q4KM,
    Q6K,
}

impl FileType {
    pub const ALL: [FileType; 8] = [
        FileType::F32,
        FileType::F16,
        FileType::BF16,
        FileType::Q8_0,
        FileType::Q4_0,
        FileType::Q4K,
        FileType::Q4KM,
        FileType::Q6K,
    ];

    /// `q8_0`, `q4_k_m`, ... (case-insensitive; `q4_k_s` is accepted for `q4_k`).
    pub fn parse(name: &str) -> Result<FileType, Error> {
        let lower = name.to_ascii_lowercase();
        if lower == "q4_k_s" {
            return Ok(FileType::Q4K);
        }
        FileType::ALL
            .into_iter()
            .find(|t| t.name() == lower)
            .ok_or_else(|| {
                let known: Vec<&str> = FileType::ALL.iter().map(|t| t.name()).collect();
                Error::Config(format!(
                    "unknown quantization type '{name}' (known: {})",
                    known.join(", ")
                ))
            })
    }

    pub fn name(self) -> &'static str {
        match self {
            FileType::F32 => "f32",
            FileType::F16 => "f16",
            FileType::BF16 => "bf16",
            FileType::Q8_0 => "q8_0",
            FileType::Q4_0 => "q4_0",
            FileType::Q4K => "q4_k",
            FileType::Q4KM => "q4_k_m",
            FileType::Q6K => "q6_k",
        }
    }

    /// `general.file_type` (llama.cpp's `enum llama_ftype`).
    pub fn llama_ftype(self) -> u32 {
        match self {
            FileType::F32 => 0,
            FileType::F16 => 1,
            FileType::Q4_0 => 2,
            FileType::Q8_0 => 7,
            FileType::Q4K => 14,
            FileType::Q4KM => 15,
            FileType::Q6K => 18,
            FileType::BF16 => 32,
        }
    }

    /// The type of an ordinary weight matrix before the per-tensor rules.
    pub fn base_type(self) -> GgmlType {
        match self {
            FileType::F32 => GgmlType::F32,
            FileType::F16 => GgmlType::F16,
            FileType::BF16 => GgmlType::BF16,
            FileType::Q8_0 => GgmlType::Q8_0,
            FileType::Q4_0 => GgmlType::Q4_0,
            FileType::Q4K | FileType::Q4KM => GgmlType::Q4K,
            FileType::Q6K => GgmlType::Q6K,
        }
    }

    pub fn is_quantized(self) -> bool {
        self.base_type().is_quantized()
    }
}

impl std::fmt::Display for FileType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
