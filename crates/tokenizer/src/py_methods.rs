//! The Python `str` and `dict` methods that HF chat templates call (`message.content.split(..)`,
//! `.strip()`, `.startswith(..)`, `tool.items()`, ...), for minijinja's unknown-method hook.

use minijinja::value::{Value, ValueKind};
use minijinja::{Error, ErrorKind, State};

/// minijinja's unknown-method callback.
pub(crate) fn call_method(
    _state: &State,
    value: &Value,
    method: &str,
    args: &[Value],
) -> Result<Value, Error> {
    match value.kind() {
        ValueKind::String => string_method(value.as_str().unwrap_or_default(), method, args),
        ValueKind::Map => map_method(value, method, args),
        _ => Err(unknown(value, method)),
    }
}

fn unknown(value: &Value, method: &str) -> Error {
    Error::new(
        ErrorKind::UnknownMethod,
        format!("{} has no method named {method}", value.kind()),
    )
}

fn bad_args(method: &str, what: &str) -> Error {
    Error::new(
        ErrorKind::InvalidOperation,
        format!("str.{method}(): {what}"),
    )
}

/// Python's `str.isspace()` set: White_Space plus the separators U+001C..U+001F.
fn py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1C}'..='\u{1F}').contains(&c)
}

/// Optional string argument `i` (`None` when absent or none).
fn opt_str<'a>(args: &'a [Value], i: usize, method: &str) -> Result<Option<&'a str>, Error> {
    match args.get(i) {
        None => Ok(None),
        Some(v) if v.is_none() || v.is_undefined() => Ok(None),
        Some(v) => v
            .as_str()
            .map(Some)
            .ok_or_else(|| bad_args(method, "expected a string argument")),
    }
}

fn str_arg<'a>(args: &'a [Value], i: usize, method: &str) -> Result<&'a str, Error> {
    opt_str(args, i, method)?.ok_or_else(|| bad_args(method, "missing string argument"))
}

/// Optional integer argument `i` (`None` when absent or none).
fn opt_int(args: &[Value], i: usize, method: &str) -> Result<Option<i64>, Error> {
    match args.get(i) {
        None => Ok(None),
        Some(v) if v.is_none() || v.is_undefined() => Ok(None),
        Some(v) => i64::try_from(v.clone())
            .map(Some)
            .map_err(|_| bad_args(method, "expected an integer argument")),
    }
}

fn strings(items: Vec<&str>) -> Value {
    Value::from(items.into_iter().map(Value::from).collect::<Vec<_>>())
}

/// Python slice bounds `[start:end]` over the chars of `s`, as a byte range.
fn char_slice(s: &str, start: Option<i64>, end: Option<i64>) -> (usize, usize) {
    let n = s.chars().count() as i64;
    let clamp = |i: i64| if i < 0 { (n + i).max(0) } else { i.min(n) };
    let a = clamp(start.unwrap_or(0));
    let b = clamp(end.unwrap_or(n)).max(a);
    let byte = |ci: i64| {
        s.char_indices()
            .nth(ci as usize)
            .map_or(s.len(), |(b, _)| b)
    };
    (byte(a), byte(b))
}

fn string_method(s: &str, method: &str, args: &[Value]) -> Result<Value, Error> {
    let strip_set = |i: usize| -> Result<Option<Vec<char>>, Error> {
        Ok(opt_str(args, i, method)?.map(|c| c.chars().collect()))
    };
    Ok(match method {
        "strip" | "lstrip" | "rstrip" => {
            let set = strip_set(0)?;
            let matches = |c: char| match &set {
                Some(set) => set.contains(&c),
                None => py_space(c),
            };
            Value::from(match method {
                "strip" => s.trim_matches(matches),
                "lstrip" => s.trim_start_matches(matches),
                _ => s.trim_end_matches(matches),
            })
        }
        "startswith" | "endswith" => {
            let (a, b) = char_slice(s, opt_int(args, 1, method)?, opt_int(args, 2, method)?);
            let hay = &s[a..b];
            let test = |p: &str| {
                if method == "startswith" {
                    hay.starts_with(p)
                } else {
                    hay.ends_with(p)
                }
            };
            let pat = args
                .first()
                .ok_or_else(|| bad_args(method, "missing argument"))?;
            let hit = match pat.as_str() {
                Some(p) => test(p),
                // A tuple (sequence) of prefixes.
                None => pat.try_iter()?.any(|p| p.as_str().is_some_and(test)),
            };
            Value::from(hit)
        }
        "split" | "rsplit" => {
            let sep = opt_str(args, 0, method)?;
            let maxsplit = opt_int(args, 1, method)?
                .filter(|&m| m >= 0)
                .map(|m| m as usize);
            split(s, sep, maxsplit, method == "rsplit")?
        }
        "splitlines" => strings(s.lines().collect()),
        "upper" => Value::from(s.to_uppercase()),
        "lower" => Value::from(s.to_lowercase()),
        "title" => Value::from(title(s)),
        "capitalize" => {
            let mut cs = s.chars();
            Value::from(match cs.next() {
                Some(c) => c
                    .to_uppercase()
                    .chain(cs.as_str().to_lowercase().chars())
                    .collect::<String>(),
                None => String::new(),
            })
        }
        "replace" => {
            let (old, new) = (str_arg(args, 0, method)?, str_arg(args, 1, method)?);
            match opt_int(args, 2, method)?.filter(|&c| c >= 0) {
                Some(count) => Value::from(s.replacen(old, new, count as usize)),
                None => Value::from(s.replace(old, new)),
            }
        }
        "find" | "rfind" | "index" | "rindex" => {
            let sub = str_arg(args, 0, method)?;
            let found = if method.starts_with('r') {
                s.rfind(sub)
            } else {
                s.find(sub)
            };
            match found {
                Some(b) => Value::from(s[..b].chars().count() as i64),
                None if method.ends_with("find") => Value::from(-1i64),
                None => return Err(bad_args(method, "substring not found")),
            }
        }
        "count" => {
            let sub = str_arg(args, 0, method)?;
            Value::from(if sub.is_empty() {
                s.chars().count() + 1
            } else {
                s.matches(sub).count()
            } as i64)
        }
        "join" => {
            let items = args
                .first()
                .ok_or_else(|| bad_args(method, "missing argument"))?;
            let parts: Vec<String> = items.try_iter()?.map(|v| v.to_string()).collect();
            Value::from(parts.join(s))
        }
        "isdigit" | "isnumeric" | "isdecimal" => {
            Value::from(!s.is_empty() && s.chars().all(char::is_numeric))
        }
        "isalpha" => Value::from(!s.is_empty() && s.chars().all(char::is_alphabetic)),
        "isalnum" => Value::from(!s.is_empty() && s.chars().all(char::is_alphanumeric)),
        "isspace" => Value::from(!s.is_empty() && s.chars().all(py_space)),
        "islower" => {
            Value::from(s.chars().any(char::is_lowercase) && !s.chars().any(char::is_uppercase))
        }
        "isupper" => {
            Value::from(s.chars().any(char::is_uppercase) && !s.chars().any(char::is_lowercase))
        }
        _ => return Err(unknown(&Value::from(s), method)),
    })
}

/// Python `str.split` / `str.rsplit`.
fn split(
    s: &str,
    sep: Option<&str>,
    maxsplit: Option<usize>,
    from_right: bool,
) -> Result<Value, Error> {
    let max = maxsplit.unwrap_or(usize::MAX);
    match sep {
        Some("") => Err(bad_args("split", "empty separator")),
        Some(sep) => {
            let parts: Vec<&str> = if from_right {
                let mut v: Vec<&str> = s.rsplitn(max.saturating_add(1), sep).collect();
                v.reverse();
                v
            } else {
                s.splitn(max.saturating_add(1), sep).collect()
            };
            Ok(strings(parts))
        }
        None => {
            // Runs of whitespace separate; no empty strings; after `max` splits the rest is kept
            // (with its leading, resp. trailing, whitespace stripped).
            let mut parts = Vec::new();
            if from_right {
                let mut rest = s.trim_end_matches(py_space);
                while !rest.is_empty() {
                    if parts.len() == max {
                        parts.push(rest);
                        break;
                    }
                    let cut = rest.rfind(py_space).map_or(0, |i| {
                        i + rest[i..].chars().next().map_or(1, char::len_utf8)
                    });
                    parts.push(&rest[cut..]);
                    rest = rest[..cut].trim_end_matches(py_space);
                }
                parts.reverse();
            } else {
                let mut rest = s.trim_start_matches(py_space);
                while !rest.is_empty() {
                    if parts.len() == max {
                        parts.push(rest);
                        break;
                    }
                    let cut = rest.find(py_space).unwrap_or(rest.len());
                    parts.push(&rest[..cut]);
                    rest = rest[cut..].trim_start_matches(py_space);
                }
            }
            Ok(strings(parts))
        }
    }
}

/// Python `str.title()`: the first cased char after an uncased one is upper-cased, the others lower-cased.
fn title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut prev_cased = false;
    for c in s.chars() {
        let cased = c.is_lowercase() || c.is_uppercase();
        if prev_cased {
            out.extend(c.to_lowercase());
        } else {
            out.extend(c.to_uppercase());
        }
        prev_cased = cased;
    }
    out
}

fn map_method(map: &Value, method: &str, args: &[Value]) -> Result<Value, Error> {
    Ok(match method {
        "items" => {
            let mut items = Vec::new();
            for k in map.try_iter()? {
                let v = map.get_item(&k)?;
                items.push(Value::from(vec![k, v]));
            }
            Value::from(items)
        }
        "keys" => Value::from(map.try_iter()?.collect::<Vec<_>>()),
        "values" => {
            let mut values = Vec::new();
            for k in map.try_iter()? {
                values.push(map.get_item(&k)?);
            }
            Value::from(values)
        }
        "get" => {
            let key = args.first().ok_or_else(|| {
                Error::new(ErrorKind::InvalidOperation, "dict.get(): missing key")
            })?;
            let v = map.get_item(key)?;
            if v.is_undefined() {
                args.get(1).cloned().unwrap_or(Value::from(()))
            } else {
                v
            }
        }
        _ => return Err(unknown(map, method)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(v: Value) -> Vec<String> {
        v.try_iter()
            .unwrap()
            .map(|x| x.as_str().unwrap().to_string())
            .collect()
    }

    #[test]
    fn python_split() {
        // Expected values from CPython.
        let s = |x: Result<Value, Error>| list(x.unwrap());
        assert_eq!(
            s(split("a</think>b</think>c", Some("</think>"), None, false)),
            ["a", "b", "c"]
        );
        assert_eq!(s(split("abc", Some("</think>"), None, false)), ["abc"]);
        assert_eq!(s(split("a,b,c", Some(","), Some(1), false)), ["a", "b,c"]);
        assert_eq!(s(split("a,b,c", Some(","), Some(1), true)), ["a,b", "c"]);
        assert_eq!(s(split("  a  b c  ", None, None, false)), ["a", "b", "c"]);
        assert_eq!(s(split("   a b  c ", None, Some(1), false)), ["a", "b  c "]);
        assert_eq!(s(split("  a b c  ", None, Some(1), true)), ["  a b", "c"]);
        assert_eq!(s(split("", None, None, false)), Vec::<String>::new());
        assert_eq!(s(split("", Some(","), None, false)), [""]);
        assert!(split("x", Some(""), None, false).is_err());
    }

    #[test]
    fn python_str_methods() {
        let call = |s: &str, m: &str, args: &[Value]| string_method(s, m, args).unwrap();
        assert_eq!(
            call("\n\nhi\n", "strip", &[Value::from("\n")]).as_str(),
            Some("hi")
        );
        assert_eq!(
            call("\n\nhi\n", "lstrip", &[Value::from("\n")]).as_str(),
            Some("hi\n")
        );
        assert_eq!(call(" hi \t", "strip", &[]).as_str(), Some("hi"));
        assert_eq!(
            call("xxhixy", "rstrip", &[Value::from("xy")]).as_str(),
            Some("xxhi")
        );
        assert!(call(
            "<tool_response>x",
            "startswith",
            &[Value::from("<tool_response>")]
        )
        .is_true());
        let tuple = Value::from(vec![Value::from("a"), Value::from("x")]);
        assert!(call("xyz", "startswith", &[tuple]).is_true());
        assert!(!call("xyz", "endswith", &[Value::from("y")]).is_true());
        assert_eq!(
            call("hello world", "title", &[]).as_str(),
            Some("Hello World")
        );
        assert_eq!(call("hELLO", "capitalize", &[]).as_str(), Some("Hello"));
        assert_eq!(
            call(
                "aaa",
                "replace",
                &[Value::from("a"), Value::from("b"), Value::from(2)]
            )
            .as_str(),
            Some("bba")
        );
        assert_eq!(call("héllo", "find", &[Value::from("l")]).as_i64(), Some(2));
        assert_eq!(
            call("hello", "find", &[Value::from("z")]).as_i64(),
            Some(-1)
        );
        let items = Value::from(vec![Value::from("a"), Value::from("b")]);
        assert_eq!(call(", ", "join", &[items]).as_str(), Some("a, b"));
    }
}
