//! `tojson` as HF transformers defines it for chat templates: Python's
//! `json.dumps(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False)`, so
//! `", "` / `": "` separators, non-ASCII kept, keys in the map's own order, Python float repr.
//! (minijinja's built-in `tojson` is compact and HTML-escapes `<`, `>`, `&`, `'`.)

use minijinja::value::{Kwargs, Value, ValueKind};
use minijinja::{Error, ErrorKind};

/// Formatting options of `json.dumps`.
pub(crate) struct DumpOptions {
    pub ensure_ascii: bool,
    pub indent: Option<String>,
    pub item_sep: String,
    pub key_sep: String,
    pub sort_keys: bool,
}

/// The `tojson` filter: `x | tojson(ensure_ascii=False, indent=None, separators=None, sort_keys=False)`
/// (positional arguments in that order, as HF's Python function).
pub(crate) fn tojson_filter(value: &Value, args: &[Value], kwargs: Kwargs) -> Result<Value, Error> {
    let arg = |i: usize, name: &str| -> Result<Option<Value>, Error> {
        match kwargs.get::<Option<Value>>(name)? {
            Some(v) => Ok(Some(v)),
            None => Ok(args.get(i).cloned()),
        }
    };
    let ensure_ascii = arg(0, "ensure_ascii")?.is_some_and(|v| v.is_true());
    let indent = match arg(1, "indent")? {
        None => None,
        Some(v) if v.is_none() || v.is_undefined() => None,
        Some(v) if v.kind() == ValueKind::String => {
            Some(v.as_str().unwrap_or_default().to_string())
        }
        Some(v) => {
            let n = usize::try_from(v.clone()).map_err(|_| {
                Error::new(
                    ErrorKind::InvalidOperation,
                    "tojson: indent must be a count or a string",
                )
            })?;
            Some(" ".repeat(n))
        }
    };
    // Python: indent=None gives (", ", ": "), an indent gives (",", ": ").
    let mut item_sep = (if indent.is_some() { "," } else { ", " }).to_string();
    let mut key_sep = ": ".to_string();
    if let Some(seps) = arg(2, "separators")?.filter(|v| !v.is_none() && !v.is_undefined()) {
        let a = seps
            .get_item_by_index(0)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string));
        let b = seps
            .get_item_by_index(1)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string));
        match (a, b) {
            (Some(a), Some(b)) => {
                item_sep = a;
                key_sep = b;
            }
            _ => {
                return Err(Error::new(
                    ErrorKind::InvalidOperation,
                    "tojson: separators must be two strings",
                ))
            }
        }
    }
    let sort_keys = arg(3, "sort_keys")?.is_some_and(|v| v.is_true());
    kwargs.assert_all_used()?;
    let opts = DumpOptions {
        ensure_ascii,
        indent,
        item_sep,
        key_sep,
        sort_keys,
    };
    let mut out = String::new();
    dump(value, &opts, 0, &mut out)?;
    Ok(Value::from_safe_string(out))
}

/// Appends the JSON text of `v` to `out`.
pub(crate) fn dump(
    v: &Value,
    opts: &DumpOptions,
    depth: usize,
    out: &mut String,
) -> Result<(), Error> {
    if depth > 512 {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            "tojson: value nested too deeply",
        ));
    }
    match v.kind() {
        ValueKind::None => out.push_str("null"),
        ValueKind::Undefined => {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                "tojson: cannot serialize an undefined value",
            ))
        }
        ValueKind::Bool => out.push_str(if v.is_true() { "true" } else { "false" }),
        ValueKind::Number => dump_number(v, out),
        ValueKind::String => dump_str(v.as_str().unwrap_or_default(), opts.ensure_ascii, out),
        ValueKind::Seq | ValueKind::Iterable => {
            let items: Vec<Value> = v.try_iter()?.collect();
            dump_container(out, opts, depth, '[', ']', &items, |item, out| {
                dump(item, opts, depth + 1, out)
            })?;
        }
        ValueKind::Map => {
            let mut entries = Vec::new();
            for key in v.try_iter()? {
                let value = v.get_item(&key)?;
                entries.push((key_string(&key)?, value));
            }
            if opts.sort_keys {
                entries.sort_by(|a, b| a.0.cmp(&b.0));
            }
            dump_container(out, opts, depth, '{', '}', &entries, |(k, val), out| {
                dump_str(k, opts.ensure_ascii, out);
                out.push_str(&opts.key_sep);
                dump(val, opts, depth + 1, out)
            })?;
        }
        _ => dump_str(&v.to_string(), opts.ensure_ascii, out),
    }
    Ok(())
}

fn dump_container<T>(
    out: &mut String,
    opts: &DumpOptions,
    depth: usize,
    open: char,
    close: char,
    items: &[T],
    mut item: impl FnMut(&T, &mut String) -> Result<(), Error>,
) -> Result<(), Error> {
    out.push(open);
    if items.is_empty() {
        out.push(close);
        return Ok(());
    }
    let newline = |out: &mut String, level: usize| {
        if let Some(ind) = &opts.indent {
            out.push('\n');
            for _ in 0..level {
                out.push_str(ind);
            }
        }
    };
    for (i, it) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(&opts.item_sep);
        }
        newline(out, depth + 1);
        item(it, out)?;
    }
    newline(out, depth);
    out.push(close);
    Ok(())
}

/// Python converts non-string keys: numbers with their repr, `True` → "true", `None` → "null".
fn key_string(key: &Value) -> Result<String, Error> {
    Ok(match key.kind() {
        ValueKind::String => key.as_str().unwrap_or_default().to_string(),
        ValueKind::None => "null".to_string(),
        ValueKind::Bool => (if key.is_true() { "true" } else { "false" }).to_string(),
        ValueKind::Number => {
            let mut s = String::new();
            dump_number(key, &mut s);
            s
        }
        _ => {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                format!("tojson: keys must be strings, not {key}"),
            ))
        }
    })
}

fn dump_number(v: &Value, out: &mut String) {
    if v.is_integer() {
        out.push_str(&v.to_string());
    } else {
        out.push_str(&python_float_repr(
            f64::try_from(v.clone()).unwrap_or(f64::NAN),
        ));
    }
}

/// Python's `repr(float)` as `json.dumps` writes it (`NaN` and `Infinity` for non-finite values).
pub(crate) fn python_float_repr(x: f64) -> String {
    if x.is_nan() {
        return "NaN".into();
    }
    if x.is_infinite() {
        return (if x > 0.0 { "Infinity" } else { "-Infinity" }).into();
    }
    // Shortest round-trip digits, as Python's repr: Rust's `{:e}` gives them as d.ddde±x.
    let sci = format!("{x:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => ("-", m),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let mut s = String::from(sign);
    if (-4..16).contains(&exp) {
        if exp >= 0 {
            let int_len = exp as usize + 1;
            if digits.len() <= int_len {
                s.push_str(&digits);
                s.push_str(&"0".repeat(int_len - digits.len()));
                s.push_str(".0");
            } else {
                s.push_str(&digits[..int_len]);
                s.push('.');
                s.push_str(&digits[int_len..]);
            }
        } else {
            s.push_str("0.");
            s.push_str(&"0".repeat((-exp - 1) as usize));
            s.push_str(&digits);
        }
    } else {
        s.push_str(&digits[..1]);
        if digits.len() > 1 {
            s.push('.');
            s.push_str(&digits[1..]);
        }
        s.push_str(&format!(
            "e{}{:02}",
            if exp < 0 { '-' } else { '+' },
            exp.abs()
        ));
    }
    s
}

/// A JSON string literal with Python's escapes (`\uXXXX` lowercase; non-ASCII kept unless
/// `ensure_ascii`).
fn dump_str(s: &str, ensure_ascii: bool, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0C}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c if ensure_ascii && !c.is_ascii() => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_repr_like_python() {
        // Values from CPython's repr().
        let cases = [
            (1.0, "1.0"),
            (0.1, "0.1"),
            (-2.5, "-2.5"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (123456789.125, "123456789.125"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.5e-7, "1.5e-07"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (2.71, "2.71"),
            (2.5e100, "2.5e+100"),
        ];
        for (x, want) in cases {
            assert_eq!(python_float_repr(x), want, "{x:?}");
        }
    }

    #[test]
    fn strings_like_python() {
        let mut s = String::new();
        dump_str("a\"b\\c\n\t\u{1}é😀\u{7f}", false, &mut s);
        assert_eq!(s, "\"a\\\"b\\\\c\\n\\t\\u0001é😀\u{7f}\"");
        let mut s = String::new();
        dump_str("é😀", true, &mut s);
        assert_eq!(s, r#""\u00e9\ud83d\ude00""#);
    }
}
