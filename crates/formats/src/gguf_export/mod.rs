//! Writing GGUF files from a Hugging Face directory or another GGUF (`inferno quantize`): the
//! metadata and tensor names llama.cpp expects, llama.cpp's per-tensor type rules, and a streaming
//! converter on top of [`crate::gguf::GgufWriter`].

mod convert;
mod file_type;
mod hf_metadata;
mod hf_names;
mod hf_vocab;
mod plan;
mod row_order;
mod tokenizer_pre;
mod type_choice;

pub use convert::{write_plan, ExportProgress};
pub use file_type::FileType;
pub use hf_metadata::size_label;
pub use hf_names::gguf_name;
pub use plan::{ExportPlan, PlannedTensor};
pub use row_order::RowOrder;
pub use tokenizer_pre::{pre_tokenizer_for_hash, python_list_repr, CHKTXT};
pub use type_choice::{choose_types, fallback_type, llama_order, TensorDesc};
