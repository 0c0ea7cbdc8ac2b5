//! A request body as an ordered JSON object, read field by field so that every bad value is a
//! 400 naming its field, unknown fields are ignored, and object key order survives up to the
//! chat template (`messages`, `tools`, `chat_template_kwargs`).

use serde::de::DeserializeOwned;
use tokenizer::JsonValue;

use crate::error::ApiError;

/// The top-level fields of a JSON request body, in document order.
#[derive(Debug, Clone)]
pub struct Fields {
    entries: Vec<(String, JsonValue)>,
}

impl Fields {
    /// Parses a body; anything but a JSON object is a 400.
    pub fn parse(body: &[u8]) -> Result<Fields, ApiError> {
        let text = std::str::from_utf8(body)
            .map_err(|e| ApiError::invalid(format!("the request body is not UTF-8: {e}")))?;
        if text.trim().is_empty() {
            return Err(ApiError::invalid(
                "the request body is empty; expected a JSON object",
            ));
        }
        let value: JsonValue = serde_json::from_str(text)
            .map_err(|e| ApiError::invalid(format!("malformed JSON in the request body: {e}")))?;
        match value {
            JsonValue::Object(entries) => Ok(Fields { entries }),
            _ => Err(ApiError::invalid("the request body must be a JSON object")),
        }
    }

    /// The field's value; `None` when absent or `null` (OpenAI clients send explicit nulls).
    pub fn get(&self, name: &str) -> Option<&JsonValue> {
        self.entries
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
            .filter(|v| !v.is_null())
    }

    /// The field deserialized as `T`; a value of the wrong type is a 400 naming the field.
    pub fn take<T: DeserializeOwned>(&self, name: &str) -> Result<Option<T>, ApiError> {
        let Some(v) = self.get(name) else {
            return Ok(None);
        };
        convert(v)
            .map(Some)
            .map_err(|e| ApiError::invalid_field(name, format!("invalid '{name}': {e}")))
    }

    /// A field that must be present.
    pub fn require<T: DeserializeOwned>(&self, name: &str) -> Result<T, ApiError> {
        self.take(name)?.ok_or_else(|| {
            ApiError::invalid_field(name, format!("missing required field '{name}'"))
        })
    }

    /// The field's raw value (kept ordered) when it must stay JSON.
    pub fn raw(&self, name: &str) -> Option<&JsonValue> {
        self.get(name)
    }
}

/// Deserializes an ordered value into `T` (through `serde_json::Value`; order does not matter
/// to typed fields).
pub fn convert<T: DeserializeOwned>(v: &JsonValue) -> Result<T, serde_json::Error> {
    serde_json::to_value(v).and_then(serde_json::from_value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_by_name() {
        let f = Fields::parse(br#"{"a": 1, "b": null, "c": "x", "d": {"z": 1, "y": 2}}"#).unwrap();
        assert_eq!(f.take::<u32>("a").unwrap(), Some(1));
        assert_eq!(f.take::<u32>("b").unwrap(), None);
        assert_eq!(f.take::<u32>("nope").unwrap(), None);
        let e = f.take::<u32>("c").unwrap_err();
        assert_eq!(e.param.as_deref(), Some("c"));
        let e = f.require::<u32>("b").unwrap_err();
        assert!(e.message.contains("missing"), "{}", e.message);
        let JsonValue::Object(d) = f.raw("d").unwrap() else {
            panic!("object")
        };
        assert_eq!(d[0].0, "z");
        for bad in [
            &b""[..],
            b"   ",
            b"[1]",
            b"{",
            b"\xff",
            b"{\"a\":1}x",
            b"null",
        ] {
            assert!(Fields::parse(bad).is_err(), "{bad:?}");
        }
    }
}
