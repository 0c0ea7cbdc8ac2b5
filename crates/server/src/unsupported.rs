//! Fields inferno knows but does not implement: a request that uses one gets a 400 naming it
//! instead of being silently served without it. Their neutral values (`tools: []`,
//! `response_format: {"type": "text"}`, `best_of: 1`, ...) are accepted.

use tokenizer::JsonValue;

use crate::error::ApiError;
use crate::request_fields::Fields;

/// Which endpoint a body was sent to (the field sets differ).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Chat,
    Completions,
}

pub fn reject_unsupported(f: &Fields, endpoint: Endpoint) -> Result<(), ApiError> {
    if let Some(v) = f.get("response_format") {
        let kind = v.get("type").and_then(JsonValue::as_str);
        if kind != Some("text") {
            return Err(ApiError::unsupported_field(
                "response_format",
                "only {\"type\": \"text\"} is accepted (no constrained decoding yet)",
            ));
        }
    }
    for name in ["tools", "functions"] {
        if f.get(name).is_some_and(|v| !is_empty_array(v)) {
            return Err(ApiError::unsupported_field(
                name,
                "tool calling is not implemented",
            ));
        }
    }
    for name in ["tool_choice", "function_call"] {
        if f.get(name).is_some_and(|v| v.as_str() != Some("none")) {
            return Err(ApiError::unsupported_field(
                name,
                "tool calling is not implemented (only \"none\" is accepted)",
            ));
        }
    }
    if let Some(v) = f.get("best_of") {
        if v.as_u64() != Some(1) {
            return Err(ApiError::unsupported_field(
                "best_of",
                "only best_of = 1 is accepted",
            ));
        }
    }
    if endpoint == Endpoint::Completions {
        if f.get("suffix").is_some_and(|v| v.as_str() != Some("")) {
            return Err(ApiError::unsupported_field(
                "suffix",
                "insertion (fill in the middle) is not implemented",
            ));
        }
    } else if f.get("echo").is_some_and(is_true) {
        return Err(ApiError::unsupported_field(
            "echo",
            "echo is only available on /v1/completions",
        ));
    }
    for name in [
        "guided_json",
        "guided_regex",
        "guided_choice",
        "guided_grammar",
        "structured_outputs",
        "audio",
        "prediction",
    ] {
        if f.get(name).is_some() {
            return Err(ApiError::unsupported_field(name, "not implemented"));
        }
    }
    if let Some(m) = f.get("modalities") {
        let text_only = m
            .as_array()
            .is_some_and(|a| a.iter().all(|x| x.as_str() == Some("text")));
        if !text_only {
            return Err(ApiError::unsupported_field(
                "modalities",
                "only text output is implemented",
            ));
        }
    }
    for name in [
        "use_beam_search",
        "include_stop_str_in_output",
        "continue_final_message",
    ] {
        if f.get(name).is_some_and(is_true) {
            return Err(ApiError::unsupported_field(name, "not implemented"));
        }
    }
    for name in ["min_tokens", "prompt_logprobs"] {
        if f.get(name).is_some_and(|v| v.as_u64() != Some(0)) {
            return Err(ApiError::unsupported_field(name, "not implemented"));
        }
    }
    Ok(())
}

fn is_empty_array(v: &JsonValue) -> bool {
    v.as_array().is_some_and(<[JsonValue]>::is_empty)
}

fn is_true(v: &JsonValue) -> bool {
    v.as_bool() != Some(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(body: &str, endpoint: Endpoint) -> Result<(), ApiError> {
        reject_unsupported(&Fields::parse(body.as_bytes()).unwrap(), endpoint)
    }

    #[test]
    fn rejects_named_fields_accepts_neutral_values() {
        for (body, param) in [
            (
                r#"{"response_format": {"type": "json_object"}}"#,
                "response_format",
            ),
            (r#"{"response_format": "text"}"#, "response_format"),
            (r#"{"tools": [{"type": "function"}]}"#, "tools"),
            (r#"{"tool_choice": "auto"}"#, "tool_choice"),
            (r#"{"functions": [{}]}"#, "functions"),
            (r#"{"best_of": 2}"#, "best_of"),
            (r#"{"echo": true}"#, "echo"),
            (r#"{"guided_json": {}}"#, "guided_json"),
            (r#"{"min_tokens": 3}"#, "min_tokens"),
            (r#"{"modalities": ["text", "audio"]}"#, "modalities"),
            (r#"{"use_beam_search": true}"#, "use_beam_search"),
        ] {
            let e = check(body, Endpoint::Chat).unwrap_err();
            assert_eq!(e.param.as_deref(), Some(param), "{body}");
            assert_eq!(e.status, axum::http::StatusCode::BAD_REQUEST);
        }
        let e = check(r#"{"suffix": "x"}"#, Endpoint::Completions).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("suffix"));
        for body in [
            r#"{"response_format": {"type": "text"}, "tools": [], "tool_choice": "none", "best_of": 1,
                "suffix": null, "echo": false, "modalities": ["text"], "min_tokens": 0, "user": "u",
                "unknown_extra": {"x": 1}, "tools2": 1}"#,
            r#"{"tools": null, "functions": null, "response_format": null}"#,
        ] {
            assert!(check(body, Endpoint::Chat).is_ok(), "{body}");
        }
        assert!(check(r#"{"echo": true, "suffix": ""}"#, Endpoint::Completions).is_ok());
    }
}
