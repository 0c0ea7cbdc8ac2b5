//! JSON values as template values: objects become an ordered map object, so that iteration,
//! `items()` and `tojson` see the keys in document order (minijinja's own maps sort them).

use std::sync::Arc;

use minijinja::value::{Enumerator, Object, ObjectRepr, Value};

use crate::json_value::JsonValue;

/// A JSON object inside a template: string keys in document order.
#[derive(Debug)]
pub(crate) struct OrderedMap {
    entries: Vec<(Value, Value)>,
}

impl Object for OrderedMap {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        self.entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(self.entries.iter().map(|(k, _)| k.clone()).collect())
    }

    fn enumerator_len(self: &Arc<Self>) -> Option<usize> {
        Some(self.entries.len())
    }

    fn is_true(self: &Arc<Self>) -> bool {
        !self.entries.is_empty()
    }
}

/// The template value of a JSON value.
pub(crate) fn to_template_value(v: &JsonValue) -> Value {
    match v {
        JsonValue::Null => Value::from(()),
        JsonValue::Bool(b) => Value::from(*b),
        JsonValue::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                Value::from(n.as_f64().unwrap_or(f64::NAN))
            }
        }
        JsonValue::String(s) => Value::from(s.as_str()),
        JsonValue::Array(a) => Value::from(a.iter().map(to_template_value).collect::<Vec<_>>()),
        JsonValue::Object(o) => Value::from_object(OrderedMap {
            entries: o
                .iter()
                .map(|(k, v)| (Value::from(k.as_str()), to_template_value(v)))
                .collect(),
        }),
    }
}
