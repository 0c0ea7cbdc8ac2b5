//! Byte-level BPE tokenizer, special tokens, incremental detokenizer, chat templates
