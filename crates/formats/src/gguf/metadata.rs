//! Typed metadata getters of `GgufFile`, three flavours:
//! - `get_*`: `Option`, `None` when the key is missing or has another type (for optional extras);
//! - `require_*`: `Result`, `MissingKey` / `WrongType` naming the key;
//! - `opt_*`: `Result<Option>`, `Ok(None)` when missing but an error on a wrong type (for keys with
//!   defaults, so a malformed value is never silently replaced by the default).
//!
//! Integer getters accept any integer type whose value fits; float getters accept f32 and f64.

use super::file::GgufFile;
use super::value::{GgufArray, GgufValue};
use crate::Error;

fn wrong(key: &str, expected: &'static str, v: &GgufValue) -> Error {
    Error::WrongType {
        key: key.to_string(),
        expected,
        found: v.type_name(),
    }
}

fn as_u32(v: &GgufValue) -> Option<u32> {
    v.as_u64().and_then(|x| u32::try_from(x).ok())
}

impl GgufFile {
    pub fn get(&self, key: &str) -> Option<&GgufValue> {
        self.metadata.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    fn req(&self, key: &str) -> Result<&GgufValue, Error> {
        self.get(key).ok_or_else(|| Error::MissingKey {
            key: key.to_string(),
        })
    }

    /// Applies `conv` to the value of `key`; a wrong type is an error naming `expected`.
    fn typed<'a, T>(
        &'a self,
        key: &str,
        expected: &'static str,
        conv: impl FnOnce(&'a GgufValue) -> Option<T>,
    ) -> Result<T, Error> {
        let v = self.req(key)?;
        conv(v).ok_or_else(|| wrong(key, expected, v))
    }

    pub fn get_str(&self, key: &str) -> Option<&str> {
        self.get(key)?.as_str()
    }
    pub fn get_u64(&self, key: &str) -> Option<u64> {
        self.get(key)?.as_u64()
    }
    pub fn get_u32(&self, key: &str) -> Option<u32> {
        as_u32(self.get(key)?)
    }
    pub fn get_f32(&self, key: &str) -> Option<f32> {
        self.get(key)?.as_f32()
    }
    pub fn get_bool(&self, key: &str) -> Option<bool> {
        self.get(key)?.as_bool()
    }
    pub fn get_array(&self, key: &str) -> Option<&GgufArray> {
        self.get(key)?.as_array()
    }

    pub fn require_str(&self, key: &str) -> Result<&str, Error> {
        self.typed(key, "string", GgufValue::as_str)
    }
    pub fn require_u64(&self, key: &str) -> Result<u64, Error> {
        self.typed(key, "non-negative integer", GgufValue::as_u64)
    }
    pub fn require_u32(&self, key: &str) -> Result<u32, Error> {
        self.typed(key, "integer in u32 range", as_u32)
    }
    pub fn require_f32(&self, key: &str) -> Result<f32, Error> {
        self.typed(key, "float", GgufValue::as_f32)
    }
    pub fn require_bool(&self, key: &str) -> Result<bool, Error> {
        self.typed(key, "bool", GgufValue::as_bool)
    }
    pub fn require_array(&self, key: &str) -> Result<&GgufArray, Error> {
        self.typed(key, "array", GgufValue::as_array)
    }

    pub fn opt_str(&self, key: &str) -> Result<Option<&str>, Error> {
        self.get(key).map(|_| self.require_str(key)).transpose()
    }
    pub fn opt_u64(&self, key: &str) -> Result<Option<u64>, Error> {
        self.get(key).map(|_| self.require_u64(key)).transpose()
    }
    pub fn opt_u32(&self, key: &str) -> Result<Option<u32>, Error> {
        self.get(key).map(|_| self.require_u32(key)).transpose()
    }
    pub fn opt_f32(&self, key: &str) -> Result<Option<f32>, Error> {
        self.get(key).map(|_| self.require_f32(key)).transpose()
    }
    pub fn opt_bool(&self, key: &str) -> Result<Option<bool>, Error> {
        self.get(key).map(|_| self.require_bool(key)).transpose()
    }

    /// An array of strings (e.g. `tokenizer.ggml.tokens`).
    pub fn get_str_array(&self, key: &str) -> Result<Vec<&str>, Error> {
        self.typed(key, "array[string]", |v| match v {
            GgufValue::Array(GgufArray::String(items)) => {
                Some(items.iter().map(String::as_str).collect())
            }
            _ => None,
        })
    }

    /// An array of any integer type whose values all fit in i32 (e.g. `tokenizer.ggml.token_type`).
    pub fn get_i32_array(&self, key: &str) -> Result<Vec<i32>, Error> {
        self.typed(key, "array of integers in i32 range", |v| {
            let a = v.as_array()?;
            (0..a.len())
                .map(|i| a.get(i)?.as_i64().and_then(|x| i32::try_from(x).ok()))
                .collect()
        })
    }

    /// An array of f32 or f64 (e.g. `tokenizer.ggml.scores`).
    pub fn get_f32_array(&self, key: &str) -> Result<Vec<f32>, Error> {
        self.typed(key, "array[f32]", |v| match v {
            GgufValue::Array(GgufArray::F32(x)) => Some(x.clone()),
            GgufValue::Array(GgufArray::F64(x)) => Some(x.iter().map(|&f| f as f32).collect()),
            _ => None,
        })
    }

    /// Length of an array value.
    pub fn array_len(&self, key: &str) -> Result<usize, Error> {
        Ok(self.require_array(key)?.len())
    }
}
