//! The `model` field: required on inference routes (as OpenAI requires it), optional on the
//! tokenizer routes; any name but the served one is a 404 `model_not_found`.

use crate::error::ApiError;
use crate::request_fields::Fields;

pub fn check_model(f: &Fields, served: &str, required: bool) -> Result<(), ApiError> {
    match f.take::<String>("model")? {
        Some(m) if m == served => Ok(()),
        Some(m) => Err(ApiError::model_not_found(&m, served)),
        None if required => Err(ApiError::invalid_field(
            "model",
            format!("missing required field 'model' (this server serves '{served}')"),
        )),
        None => Ok(()),
    }
}
