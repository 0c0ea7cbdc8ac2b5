//! Typed metadata getters of `GgufFile`. `get_*` fail with `MissingKey` / `WrongType` naming the key;
//! `opt_*` return `Ok(None)` for a missing key but still fail on a wrong type.

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

fn missing(key: &str) -> Error {
    Error::MissingKey {
        key: key.to_string(),
    }
}

impl GgufFile {
    pub fn get(&self, key: &str) -> Option<&GgufValue> {
        self.metadata.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    fn req(&self, key: &str) -> Result<&GgufValue, Error> {
        self.get(key).ok_or_else(|| missing(key))
    }

    pub fn get_str(&self, key: &str) -> Result<&str, Error> {
        let v = self.req(key)?;
        v.as_str().ok_or_else(|| wrong(key, "string", v))
    }

    /// Any integer type that holds a non-negative value.
    pub fn get_u64(&self, key: &str) -> Result<u64, Error> {
        let v = self.req(key)?;
        v.as_u64()
            .ok_or_else(|| wrong(key, "non-negative integer", v))
    }

    /// Any integer type whose value fits in u32.
    pub fn get_u32(&self, key: &str) -> Result<u32, Error> {
        let v = self.req(key)?;
        v.as_u64()
            .and_then(|x| u32::try_from(x).ok())
            .ok_or_else(|| wrong(key, "integer in u32 range", v))
    }

    /// F32 or F64.
    pub fn get_f32(&self, key: &str) -> Result<f32, Error> {
        let v = self.req(key)?;
        v.as_f32().ok_or_else(|| wrong(key, "float", v))
    }

    pub fn get_bool(&self, key: &str) -> Result<bool, Error> {
        let v = self.req(key)?;
        v.as_bool().ok_or_else(|| wrong(key, "bool", v))
    }

    pub fn get_array(&self, key: &str) -> Result<&GgufArray, Error> {
        let v = self.req(key)?;
        v.as_array().ok_or_else(|| wrong(key, "array", v))
    }

    pub fn get_str_array(&self, key: &str) -> Result<Vec<&str>, Error> {
        let v = self.req(key)?;
        match v {
            GgufValue::Array(GgufArray::String(items)) => {
                Ok(items.iter().map(String::as_str).collect())
            }
            _ => Err(wrong(key, "array[string]", v)),
        }
    }

    /// An array of any integer type whose values all fit in i32.
    pub fn get_i32_array(&self, key: &str) -> Result<Vec<i32>, Error> {
        let v = self.req(key)?;
        let a = v
            .as_array()
            .ok_or_else(|| wrong(key, "array of integers", v))?;
        let mut out = Vec::with_capacity(a.len());
        for i in 0..a.len() {
            let x = a
                .get(i)
                .and_then(|e| e.as_i64())
                .and_then(|x| i32::try_from(x).ok())
                .ok_or_else(|| wrong(key, "array of integers in i32 range", v))?;
            out.push(x);
        }
        Ok(out)
    }

    /// An array of f32 or f64.
    pub fn get_f32_array(&self, key: &str) -> Result<Vec<f32>, Error> {
        let v = self.req(key)?;
        match v {
            GgufValue::Array(GgufArray::F32(x)) => Ok(x.clone()),
            GgufValue::Array(GgufArray::F64(x)) => Ok(x.iter().map(|&f| f as f32).collect()),
            _ => Err(wrong(key, "array[f32]", v)),
        }
    }

    /// Length of an array value.
    pub fn array_len(&self, key: &str) -> Result<usize, Error> {
        Ok(self.get_array(key)?.len())
    }

    pub fn opt_str(&self, key: &str) -> Result<Option<&str>, Error> {
        self.get(key).map(|_| self.get_str(key)).transpose()
    }

    pub fn opt_u64(&self, key: &str) -> Result<Option<u64>, Error> {
        self.get(key).map(|_| self.get_u64(key)).transpose()
    }

    pub fn opt_u32(&self, key: &str) -> Result<Option<u32>, Error> {
        self.get(key).map(|_| self.get_u32(key)).transpose()
    }

    pub fn opt_f32(&self, key: &str) -> Result<Option<f32>, Error> {
        self.get(key).map(|_| self.get_f32(key)).transpose()
    }

    pub fn opt_bool(&self, key: &str) -> Result<Option<bool>, Error> {
        self.get(key).map(|_| self.get_bool(key)).transpose()
    }
}
