//! safetensors dtype names. All known ones parse (so a file with e.g. an I64 buffer still opens);
//! only F32/F16/BF16 map to a `GgmlType` that weights can use.

use quant::GgmlType;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SafetensorsDtype {
    Bool,
    U8,
    I8,
    F8E5M2,
    F8E4M3,
    F8E8M0,
    I16,
    U16,
    F16,
    BF16,
    I32,
    U32,
    F32,
    F64,
    I64,
    U64,
    C64,
    F4,
    F6E2M3,
    F6E3M2,
}

impl SafetensorsDtype {
    pub fn parse(s: &str) -> Option<Self> {
        use SafetensorsDtype::*;
        Some(match s {
            "BOOL" => Bool,
            "U8" => U8,
            "I8" => I8,
            "F8_E5M2" => F8E5M2,
            "F8_E4M3" => F8E4M3,
            "F8_E8M0" => F8E8M0,
            "I16" => I16,
            "U16" => U16,
            "F16" => F16,
            "BF16" => BF16,
            "I32" => I32,
            "U32" => U32,
            "F32" => F32,
            "F64" => F64,
            "I64" => I64,
            "U64" => U64,
            "C64" => C64,
            "F4" => F4,
            "F6_E2M3" => F6E2M3,
            "F6_E3M2" => F6E3M2,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        use SafetensorsDtype::*;
        match self {
            Bool => "BOOL",
            U8 => "U8",
            I8 => "I8",
            F8E5M2 => "F8_E5M2",
            F8E4M3 => "F8_E4M3",
            F8E8M0 => "F8_E8M0",
            I16 => "I16",
            U16 => "U16",
            F16 => "F16",
            BF16 => "BF16",
            I32 => "I32",
            U32 => "U32",
            F32 => "F32",
            F64 => "F64",
            I64 => "I64",
            U64 => "U64",
            C64 => "C64",
            F4 => "F4",
            F6E2M3 => "F6_E2M3",
            F6E3M2 => "F6_E3M2",
        }
    }

    /// Bits per element.
    pub fn bits(self) -> usize {
        use SafetensorsDtype::*;
        match self {
            F4 => 4,
            F6E2M3 | F6E3M2 => 6,
            Bool | U8 | I8 | F8E5M2 | F8E4M3 | F8E8M0 => 8,
            I16 | U16 | F16 | BF16 => 16,
            I32 | U32 | F32 => 32,
            F64 | I64 | U64 | C64 => 64,
        }
    }

    /// Bytes for `numel` elements, `None` on overflow or a partial byte.
    pub fn n_bytes(self, numel: usize) -> Option<usize> {
        let bits = numel.checked_mul(self.bits())?;
        (bits % 8 == 0).then_some(bits / 8)
    }

    /// The tensor dtype weights of this type load as, if supported.
    pub fn ggml_type(self) -> Option<GgmlType> {
        match self {
            SafetensorsDtype::F32 => Some(GgmlType::F32),
            SafetensorsDtype::F16 => Some(GgmlType::F16),
            SafetensorsDtype::BF16 => Some(GgmlType::BF16),
            _ => None,
        }
    }
}

impl std::fmt::Display for SafetensorsDtype {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
