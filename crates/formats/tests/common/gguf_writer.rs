//! A tiny test-only GGUF writer, so tests can build valid files and then break them on purpose.
//! It writes exactly what the GGUF spec describes (little-endian, u64 counts/lengths) and records
//! where each section starts so mutations can target them.
#![allow(dead_code)]

/// A metadata value to write. `Arr` holds its element type id and elements of that type.
#[derive(Clone, Debug)]
pub enum V {
    U8(u8),
    I8(i8),
    U16(u16),
    I16(i16),
    U32(u32),
    I32(i32),
    F32(f32),
    Bool(bool),
    Str(String),
    Arr(u32, Vec<V>),
    U64(u64),
    I64(i64),
    F64(f64),
}

impl V {
    pub fn type_id(&self) -> u32 {
        match self {
            V::U8(_) => 0,
            V::I8(_) => 1,
            V::U16(_) => 2,
            V::I16(_) => 3,
            V::U32(_) => 4,
            V::I32(_) => 5,
            V::F32(_) => 6,
            V::Bool(_) => 7,
            V::Str(_) => 8,
            V::Arr(..) => 9,
            V::U64(_) => 10,
            V::I64(_) => 11,
            V::F64(_) => 12,
        }
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            V::U8(v) => out.extend(v.to_le_bytes()),
            V::I8(v) => out.extend(v.to_le_bytes()),
            V::U16(v) => out.extend(v.to_le_bytes()),
            V::I16(v) => out.extend(v.to_le_bytes()),
            V::U32(v) => out.extend(v.to_le_bytes()),
            V::I32(v) => out.extend(v.to_le_bytes()),
            V::F32(v) => out.extend(v.to_le_bytes()),
            V::Bool(v) => out.push(u8::from(*v)),
            V::Str(s) => put_str(out, s),
            V::Arr(ty, items) => {
                out.extend(ty.to_le_bytes());
                out.extend((items.len() as u64).to_le_bytes());
                for it in items {
                    it.encode(out);
                }
            }
            V::U64(v) => out.extend(v.to_le_bytes()),
            V::I64(v) => out.extend(v.to_le_bytes()),
            V::F64(v) => out.extend(v.to_le_bytes()),
        }
    }

    pub fn strs(items: &[&str]) -> V {
        V::Arr(8, items.iter().map(|s| V::Str(s.to_string())).collect())
    }
}

pub fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend((s.len() as u64).to_le_bytes());
    out.extend(s.as_bytes());
}

#[derive(Clone, Debug)]
pub struct TensorSpec {
    pub name: String,
    /// GGUF order: innermost first.
    pub ne: Vec<u64>,
    pub type_id: u32,
    pub data: Vec<u8>,
    /// Relative offset to write; `None` packs tensors one after another (aligned).
    pub offset: Option<u64>,
}

#[derive(Clone, Debug)]
pub struct Gguf {
    pub magic: [u8; 4],
    pub version: u32,
    pub kvs: Vec<(String, V)>,
    pub tensors: Vec<TensorSpec>,
    /// Alignment the writer pads to (write `general.alignment` yourself to change the file's).
    pub alignment: usize,
}

/// Where the sections of a built file start.
#[derive(Clone, Debug)]
pub struct Layout {
    pub tensor_count_at: usize,
    pub kv_count_at: usize,
    pub kv_at: Vec<usize>,
    pub tensor_info_at: Vec<usize>,
    pub data_at: usize,
}

fn f32_bytes(v: impl IntoIterator<Item = f32>) -> Vec<u8> {
    v.into_iter().flat_map(f32::to_le_bytes).collect()
}

impl Gguf {
    pub fn new() -> Gguf {
        Gguf {
            magic: *b"GGUF",
            version: 3,
            kvs: Vec::new(),
            tensors: Vec::new(),
            alignment: 32,
        }
    }

    /// A small valid file with every value type, a nested array, and F32 / BF16 / Q8_0 tensors.
    pub fn sample() -> Gguf {
        let mut g = Gguf::new();
        let kv = |k: &str, v: V| (k.to_string(), v);
        g.kvs = vec![
            kv("general.architecture", V::Str("qwen3".into())),
            kv("general.name", V::Str("sample".into())),
            kv("t.u8", V::U8(200)),
            kv("t.i8", V::I8(-100)),
            kv("t.u16", V::U16(60000)),
            kv("t.i16", V::I16(-30000)),
            kv("t.u32", V::U32(4_000_000_000)),
            kv("t.i32", V::I32(-2_000_000_000)),
            kv("t.f32", V::F32(1.5)),
            kv("t.bool", V::Bool(true)),
            kv("t.u64", V::U64(u64::MAX)),
            kv("t.i64", V::I64(i64::MIN)),
            kv("t.f64", V::F64(-2.25)),
            kv(
                "t.nested",
                V::Arr(
                    9,
                    vec![V::Arr(5, vec![V::I32(1), V::I32(-2)]), V::Arr(5, vec![])],
                ),
            ),
            kv("t.bools", V::Arr(7, vec![V::Bool(false), V::Bool(true)])),
            kv("qwen3.block_count", V::U32(1)),
            kv("qwen3.context_length", V::U32(128)),
            kv("qwen3.embedding_length", V::U32(32)),
            kv("qwen3.feed_forward_length", V::U32(64)),
            kv("qwen3.attention.head_count", V::U32(4)),
            kv("qwen3.attention.head_count_kv", V::U32(2)),
            kv("qwen3.rope.freq_base", V::F32(1e6)),
            kv("qwen3.attention.layer_norm_rms_epsilon", V::F32(1e-6)),
            kv("tokenizer.ggml.tokens", V::strs(&["a", "b", "ab", "<s>"])),
            kv(
                "tokenizer.ggml.scores",
                V::Arr(
                    6,
                    vec![V::F32(0.0), V::F32(-1.0), V::F32(-2.0), V::F32(0.5)],
                ),
            ),
            kv(
                "tokenizer.ggml.token_type",
                V::Arr(5, vec![V::I32(1), V::I32(1), V::I32(1), V::I32(3)]),
            ),
            kv("tokenizer.ggml.bos_token_id", V::U32(3)),
            kv("tokenizer.ggml.eos_token_id", V::U32(3)),
        ];
        let q8_block = |d: u16, base: i8| {
            let mut b = d.to_le_bytes().to_vec();
            b.extend((0..32).map(|i| (base.wrapping_add(i as i8)) as u8));
            b
        };
        g.tensors = vec![
            TensorSpec {
                name: "token_embd.weight".into(),
                ne: vec![8, 4],
                type_id: 0,
                data: f32_bytes((0..32).map(|i| i as f32 * 0.25)),
                offset: None,
            },
            TensorSpec {
                name: "blk.0.attn_q.weight".into(),
                ne: vec![32, 2],
                type_id: 8,
                data: [q8_block(0x3c00, -16), q8_block(0x3800, 5)].concat(),
                offset: None,
            },
            TensorSpec {
                name: "output_norm.weight".into(),
                ne: vec![8],
                type_id: 30,
                data: (0..8u16)
                    .flat_map(|i| (0x3f80u16 + i).to_le_bytes())
                    .collect(),
                offset: None,
            },
        ];
        g
    }

    pub fn build(&self) -> (Vec<u8>, Layout) {
        let mut out = Vec::new();
        out.extend(self.magic);
        out.extend(self.version.to_le_bytes());
        let tensor_count_at = out.len();
        out.extend((self.tensors.len() as u64).to_le_bytes());
        let kv_count_at = out.len();
        out.extend((self.kvs.len() as u64).to_le_bytes());
        let mut kv_at = Vec::new();
        for (k, v) in &self.kvs {
            kv_at.push(out.len());
            put_str(&mut out, k);
            out.extend(v.type_id().to_le_bytes());
            v.encode(&mut out);
        }
        let a = self.alignment;
        let pad = |n: usize| n.div_ceil(a) * a;
        let mut rel = 0usize;
        let mut tensor_info_at = Vec::new();
        let mut placed = Vec::new();
        for t in &self.tensors {
            tensor_info_at.push(out.len());
            put_str(&mut out, &t.name);
            out.extend((t.ne.len() as u32).to_le_bytes());
            for d in &t.ne {
                out.extend(d.to_le_bytes());
            }
            out.extend(t.type_id.to_le_bytes());
            let off = t.offset.unwrap_or(rel as u64);
            out.extend(off.to_le_bytes());
            placed.push(off as usize);
            rel = pad(rel.max(off as usize + t.data.len()));
        }
        let data_at = pad(out.len());
        out.resize(data_at, 0);
        for (t, off) in self.tensors.iter().zip(placed) {
            let start = data_at + off;
            if out.len() < start + t.data.len() {
                out.resize(start + t.data.len(), 0);
            }
            out[start..start + t.data.len()].copy_from_slice(&t.data);
        }
        out.resize(pad(out.len()), 0);
        (
            out,
            Layout {
                tensor_count_at,
                kv_count_at,
                kv_at,
                tensor_info_at,
                data_at,
            },
        )
    }

    pub fn bytes(&self) -> Vec<u8> {
        self.build().0
    }

    pub fn set_kv(&mut self, key: &str, v: V) {
        match self.kvs.iter_mut().find(|(k, _)| k == key) {
            Some(e) => e.1 = v,
            None => self.kvs.push((key.to_string(), v)),
        }
    }
}
