//! Chat templates (Jinja, as in `tokenizer_config.json` or GGUF `tokenizer.chat_template`),
//! rendered with minijinja in the environment HF transformers uses: `trim_blocks`,
//! `lstrip_blocks`, loop controls, `raise_exception`, `strftime_now`, a Python-compatible
//! `tojson`, and Python `str`/`dict` methods.

use std::collections::BTreeMap;

use minijinja::value::{Kwargs, Rest, Value};
use minijinja::{Environment, ErrorKind};

use crate::error::Error;
use crate::json_value::JsonValue;
use crate::py_json::tojson_filter;
use crate::py_methods::call_method;
use crate::strftime::strftime_now;
use crate::template_value::to_template_value;

const NAME: &str = "chat_template";

/// A compiled chat template with the BOS / EOS strings it is rendered with.
pub struct ChatTemplate {
    env: Environment<'static>,
    bos: String,
    eos: String,
}

impl ChatTemplate {
    /// Compiles `source`; `bos` / `eos` are the `bos_token` / `eos_token` strings the template sees.
    pub fn new(source: &str, bos: &str, eos: &str) -> Result<ChatTemplate, Error> {
        let mut env = Environment::new();
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.set_unknown_method_callback(call_method);
        env.add_filter("tojson", |v: &Value, args: Rest<Value>, kwargs: Kwargs| {
            tojson_filter(v, &args, kwargs)
        });
        env.add_function(
            "raise_exception",
            |msg: String| -> Result<Value, minijinja::Error> {
                Err(minijinja::Error::new(ErrorKind::InvalidOperation, msg))
            },
        );
        env.add_function("strftime_now", |fmt: String| strftime_now(&fmt));
        env.add_template_owned(NAME, strip_generation_tags(source))?;
        Ok(ChatTemplate {
            env,
            bos: bos.to_string(),
            eos: eos.to_string(),
        })
    }

    /// The template of a `tokenizer_config.json` (`chat_template` as a string, or as a list of
    /// `{name, template}` where the one named "default" is taken), with its `bos_token` and
    /// `eos_token`. `None` when the file has no chat template.
    pub fn from_tokenizer_config(json: &[u8]) -> Result<Option<ChatTemplate>, Error> {
        let cfg: serde_json::Value =
            serde_json::from_slice(json).map_err(|source| Error::Json {
                what: "tokenizer_config.json".into(),
                source,
            })?;
        let source = match cfg.get("chat_template") {
            Some(serde_json::Value::String(s)) => s.as_str(),
            Some(serde_json::Value::Array(list)) => match list
                .iter()
                .find(|t| t.get("name").and_then(serde_json::Value::as_str) == Some("default"))
                .and_then(|t| t.get("template"))
                .and_then(serde_json::Value::as_str)
            {
                Some(s) => s,
                None => return Ok(None),
            },
            _ => return Ok(None),
        };
        let token = |key: &str| match cfg.get(key) {
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(v) => v
                .get("content")
                .and_then(serde_json::Value::as_str)
                .unwrap_or_default()
                .to_string(),
            None => String::new(),
        };
        ChatTemplate::new(source, &token("bos_token"), &token("eos_token")).map(Some)
    }

    /// Renders `messages` (and `tools`) like transformers' `apply_chat_template(..., tokenize=False)`.
    /// `extra` holds further template variables (`enable_thinking`, ...). Object keys reach the
    /// template in `serde_json::Map` order (sorted): use [`ChatTemplate::render_ordered`] when
    /// `tojson` output must keep a request's key order.
    pub fn render(
        &self,
        messages: &[serde_json::Value],
        tools: Option<&[serde_json::Value]>,
        add_generation_prompt: bool,
        extra: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<String, Error> {
        let messages: Vec<JsonValue> = messages.iter().map(JsonValue::from).collect();
        let tools: Option<Vec<JsonValue>> = tools.map(|t| t.iter().map(JsonValue::from).collect());
        let extra: Vec<(String, JsonValue)> = extra
            .iter()
            .map(|(k, v)| (k.clone(), JsonValue::from(v)))
            .collect();
        self.render_ordered(&messages, tools.as_deref(), add_generation_prompt, &extra)
    }

    /// [`ChatTemplate::render`] with key-order-preserving JSON values.
    pub fn render_ordered(
        &self,
        messages: &[JsonValue],
        tools: Option<&[JsonValue]>,
        add_generation_prompt: bool,
        extra: &[(String, JsonValue)],
    ) -> Result<String, Error> {
        let mut ctx: BTreeMap<String, Value> = BTreeMap::new();
        ctx.insert(
            "messages".into(),
            Value::from(messages.iter().map(to_template_value).collect::<Vec<_>>()),
        );
        ctx.insert(
            "tools".into(),
            match tools {
                Some(t) => Value::from(t.iter().map(to_template_value).collect::<Vec<_>>()),
                None => Value::from(()),
            },
        );
        ctx.insert(
            "add_generation_prompt".into(),
            Value::from(add_generation_prompt),
        );
        ctx.insert("bos_token".into(), Value::from(self.bos.as_str()));
        ctx.insert("eos_token".into(), Value::from(self.eos.as_str()));
        for (k, v) in extra {
            ctx.insert(k.clone(), to_template_value(v));
        }
        let template = self.env.get_template(NAME)?;
        Ok(template.render(Value::from(ctx))?)
    }
}

/// Drops HF's `{% generation %}` / `{% endgeneration %}` markers (they only track assistant
/// spans for training masks and render nothing), which minijinja does not know.
fn strip_generation_tags(source: &str) -> String {
    let mut out = String::with_capacity(source.len());
    let mut rest = source;
    while let Some(start) = rest.find("{%") {
        let Some(len) = rest[start + 2..].find("%}").map(|e| e + 4) else {
            break;
        };
        let tag = &rest[start..start + len];
        let inner =
            tag[2..len - 2].trim_matches(|c: char| c == '-' || c == '+' || c.is_whitespace());
        out.push_str(&rest[..start]);
        if inner != "generation" && inner != "endgeneration" {
            out.push_str(tag);
        }
        rest = &rest[start + len..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(src: &str, messages: &str) -> String {
        let t = ChatTemplate::new(src, "<s>", "</s>").unwrap();
        let m = JsonValue::parse(messages).unwrap();
        t.render_ordered(m.as_array().unwrap(), None, true, &[])
            .unwrap()
    }

    #[test]
    fn python_features() {
        let msgs =
            r#"[{"role": "user", "content": "a</think>\n\nb", "z": 1, "a": [1.5, "é<>&'"]}]"#;
        assert_eq!(
            render(
                "{{ messages[0].content.split('</think>')[-1].lstrip('\\n') }}",
                msgs
            ),
            "b"
        );
        assert_eq!(
            render(
                "{% for m in messages[::-1] %}{{ m.role }}{% endfor %}",
                msgs
            ),
            "user"
        );
        assert_eq!(
            render("{{ messages[0] | tojson }}", msgs),
            r#"{"role": "user", "content": "a</think>\n\nb", "z": 1, "a": [1.5, "é<>&'"]}"#
        );
        assert_eq!(
            render("{{ messages[0].a | tojson(indent=2) }}", msgs),
            "[\n  1.5,\n  \"é<>&'\"\n]"
        );
        assert_eq!(
            render(
                "{{ messages[0] | tojson(sort_keys=true, separators=[',', ':']) }}",
                msgs
            ),
            r#"{"a":[1.5,"é<>&'"],"content":"a</think>\n\nb","role":"user","z":1}"#
        );
        assert_eq!(
            render(
                "{% for k, v in messages[0].items() %}{{ k }};{% endfor %}",
                msgs
            ),
            "role;content;z;a;"
        );
        assert_eq!(
            render(
                "{{ messages[0].get('nope', 'd') }}{{ messages[0].get('z') }}",
                msgs
            ),
            "d1"
        );
        assert_eq!(render("{% set ns = namespace(n=0) %}{% for m in messages %}{% set ns.n = ns.n + 1 %}{% endfor %}{{ ns.n }}", msgs), "1");
        assert_eq!(render("{{ messages[0].content is string }}{{ messages[0] is mapping }}{{ tools is none }}", msgs), "TrueTrueTrue");
        assert_eq!(render("{% for i in [1, 2, 3] %}{% if i == 2 %}{% continue %}{% endif %}{{ i }}{% if i == 3 %}{% break %}{% endif %}{% endfor %}", msgs), "13");
        assert_eq!(
            render("{{ none }}|{{ messages[0].nope is defined }}", msgs),
            "None|False"
        );
        assert_eq!(
            render(
                "{{ bos_token }}{% generation %}x{% endgeneration %}{{ eos_token }}",
                msgs
            ),
            "<s>x</s>"
        );
        let err = ChatTemplate::new("{{ raise_exception('bad role') }}", "", "")
            .unwrap()
            .render(&[], None, false, &serde_json::Map::new());
        assert!(err.unwrap_err().to_string().contains("bad role"));
        assert!(ChatTemplate::new("{% if %}", "", "").is_err());
        assert_eq!(
            strip_generation_tags("x{%- generation -%}y{%endgeneration%}{% if x %}"),
            "xy{% if x %}"
        );
        assert_eq!(strip_generation_tags("a{%}"), "a{%}");
        assert_eq!(strip_generation_tags("{%"), "{%");
    }
}
