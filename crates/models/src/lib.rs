//! trait Model, ForwardBatch, KvSpec and one file per architecture
