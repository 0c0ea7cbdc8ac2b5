//! A chat request's prompt: `messages` checked and normalized (text parts joined into one
//! string, `developer` read as `system`), `chat_template_kwargs` passed to the template
//! (`enable_thinking`, ...), the template rendered and tokenized off the async workers.
//! Object key order is kept throughout, so `tojson` in templates prints the client's order.

use std::sync::Arc;

use tokenizer::JsonValue;

use crate::error::ApiError;
use crate::request_fields::Fields;
use crate::state::Model;

/// Most messages per request.
pub const MAX_MESSAGES: usize = 10_000;

/// What the template is rendered with.
#[derive(Debug, Clone)]
pub struct ChatPrompt {
    pub messages: Vec<JsonValue>,
    pub kwargs: Vec<(String, JsonValue)>,
    pub add_generation_prompt: bool,
}

impl ChatPrompt {
    pub fn parse(f: &Fields) -> Result<ChatPrompt, ApiError> {
        let Some(raw) = f.raw("messages") else {
            return Err(ApiError::invalid_field(
                "messages",
                "missing required field 'messages'",
            ));
        };
        let list = raw.as_array().ok_or_else(|| {
            ApiError::invalid_field("messages", "'messages' must be a list of messages")
        })?;
        if list.is_empty() {
            return Err(ApiError::invalid_field(
                "messages",
                "'messages' must hold at least one message",
            ));
        }
        if list.len() > MAX_MESSAGES {
            return Err(ApiError::invalid_field(
                "messages",
                format!("at most {MAX_MESSAGES} messages"),
            ));
        }
        let messages = list
            .iter()
            .enumerate()
            .map(|(i, m)| normalize_message(i, m))
            .collect::<Result<_, _>>()?;
        let kwargs = match f.raw("chat_template_kwargs") {
            None => Vec::new(),
            Some(JsonValue::Object(entries)) => entries.clone(),
            Some(_) => {
                return Err(ApiError::invalid_field(
                    "chat_template_kwargs",
                    "'chat_template_kwargs' must be an object",
                ))
            }
        };
        Ok(ChatPrompt {
            messages,
            kwargs,
            add_generation_prompt: f.take("add_generation_prompt")?.unwrap_or(true),
        })
    }

    /// Renders the template and tokenizes the text (special tokens in it are matched; nothing
    /// is added around it: the template writes BOS itself when the model wants one). Returns
    /// the text and its ids.
    pub async fn tokenize(self, model: &Arc<Model>) -> Result<(String, Vec<u32>), ApiError> {
        let model = Arc::clone(model);
        tokio::task::spawn_blocking(move || {
            let text = self.render(&model)?;
            let ids = model.tokenizer.encode(&text, false);
            Ok((text, ids))
        })
        .await
        .map_err(|e| ApiError::internal(format!("tokenizing the prompt failed: {e}")))?
    }

    pub fn render(&self, model: &Model) -> Result<String, ApiError> {
        let template = model.template.as_ref().ok_or_else(|| {
            ApiError::invalid(
                "this model has no chat template; use /v1/completions with a raw prompt",
            )
        })?;
        template
            .render_ordered(
                &self.messages,
                None,
                self.add_generation_prompt,
                &self.kwargs,
            )
            .map_err(|e| {
                ApiError::invalid_field("messages", format!("the chat template failed: {e}"))
            })
    }
}

/// One message: an object with a string `role`; `content` a string, `null`, or a list of
/// text parts (joined with newlines, as vLLM does).
fn normalize_message(i: usize, m: &JsonValue) -> Result<JsonValue, ApiError> {
    let param = format!("messages[{i}]");
    let JsonValue::Object(entries) = m else {
        return Err(ApiError::invalid_field(
            &param,
            format!("'{param}' must be an object"),
        ));
    };
    let mut out = Vec::with_capacity(entries.len());
    let mut has_role = false;
    for (k, v) in entries {
        let v = match k.as_str() {
            "role" => {
                has_role = true;
                match v.as_str() {
                    Some("developer") => JsonValue::String("system".into()),
                    Some(_) => v.clone(),
                    None => {
                        return Err(ApiError::invalid_field(
                            &format!("{param}.role"),
                            "'role' must be a string",
                        ))
                    }
                }
            }
            "content" => normalize_content(&format!("{param}.content"), v)?,
            _ => v.clone(),
        };
        out.push((k.clone(), v));
    }
    if !has_role {
        return Err(ApiError::invalid_field(
            &format!("{param}.role"),
            format!("'{param}' has no 'role'"),
        ));
    }
    Ok(JsonValue::Object(out))
}

fn normalize_content(param: &str, v: &JsonValue) -> Result<JsonValue, ApiError> {
    match v {
        JsonValue::String(_) | JsonValue::Null => Ok(v.clone()),
        JsonValue::Array(parts) => {
            let mut texts = Vec::with_capacity(parts.len());
            for (j, p) in parts.iter().enumerate() {
                match (p.get("type").and_then(JsonValue::as_str), p.get("text")) {
                    (Some("text"), Some(JsonValue::String(t))) => texts.push(t.as_str()),
                    (Some(kind), _) if kind != "text" => {
                        return Err(ApiError::unsupported_field(
                            &format!("{param}[{j}]"),
                            &format!("content parts of type '{kind}' (only text is supported)"),
                        ))
                    }
                    _ => {
                        return Err(ApiError::invalid_field(
                            &format!("{param}[{j}]"),
                            "a content part must be {\"type\": \"text\", \"text\": \"...\"}",
                        ))
                    }
                }
            }
            Ok(JsonValue::String(texts.join("\n")))
        }
        _ => Err(ApiError::invalid_field(
            param,
            "'content' must be a string or a list of text parts",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &str) -> Result<ChatPrompt, ApiError> {
        ChatPrompt::parse(&Fields::parse(body.as_bytes()).unwrap())
    }

    #[test]
    fn messages_are_normalized_in_order() {
        let p = parse(
            r#"{"messages": [{"role": "developer", "content": "s", "z": 1, "a": 2},
                {"content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}], "role": "user"}],
                "chat_template_kwargs": {"enable_thinking": false}}"#,
        )
        .unwrap();
        assert_eq!(
            serde_json::to_string(&p.messages).unwrap(),
            r#"[{"role":"system","content":"s","z":1,"a":2},{"content":"a\nb","role":"user"}]"#
        );
        assert_eq!(
            p.kwargs,
            vec![("enable_thinking".into(), JsonValue::Bool(false))]
        );
        assert!(p.add_generation_prompt);
    }

    #[test]
    fn bad_messages_name_the_field() {
        for (body, param) in [
            (r#"{}"#, "messages"),
            (r#"{"messages": []}"#, "messages"),
            (r#"{"messages": "hi"}"#, "messages"),
            (r#"{"messages": [1]}"#, "messages[0]"),
            (r#"{"messages": [{"content": "x"}]}"#, "messages[0].role"),
            (
                r#"{"messages": [{"role": 1, "content": "x"}]}"#,
                "messages[0].role",
            ),
            (
                r#"{"messages": [{"role": "user", "content": 5}]}"#,
                "messages[0].content",
            ),
            (
                r#"{"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}]}"#,
                "messages[0].content[0]",
            ),
            (
                r#"{"messages": [{"role": "user", "content": "x"}], "chat_template_kwargs": 1}"#,
                "chat_template_kwargs",
            ),
        ] {
            let e = parse(body).unwrap_err();
            assert_eq!(e.param.as_deref(), Some(param), "{body}: {}", e.message);
        }
    }
}
