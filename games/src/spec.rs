//! Spec strings such as `connect_four(rows=6,columns=7)`: the shared syntax for games and agents.
//!
//! A spec is a name, optionally followed by `(key=value, ...)`. Values are raw text; a value may be
//! double-quoted (`program="python3 bot.py"`, with `\"` and `\\` escapes) and may itself be a spec
//! with parentheses (`judge=llm(model=a.gguf)`).

use std::fmt;

use crate::error::{Error, Result};

/// A parsed spec: a name and its `key=value` arguments in the order written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Spec {
    pub name: String,
    pub args: Vec<(String, String)>,
}

impl Spec {
    /// A spec with no arguments.
    pub fn new(name: impl Into<String>) -> Self {
        Spec { name: name.into(), args: Vec::new() }
    }

    /// Appends an argument (builder style).
    pub fn with(mut self, key: impl Into<String>, value: impl ToString) -> Self {
        self.args.push((key.into(), value.to_string()));
        self
    }

    /// The value of an argument, if present.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.args.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// Parses `name` or `name(key=value, ...)`.
    pub fn parse(text: &str) -> Result<Spec> {
        let bad = |reason: &str| Error::BadSpec { spec: text.to_string(), reason: reason.to_string() };
        let trimmed = text.trim();
        let (name, rest) = match trimmed.find('(') {
            Some(open) => (&trimmed[..open], Some(&trimmed[open..])),
            None => (trimmed, None),
        };
        let name = name.trim();
        if name.is_empty() {
            return Err(bad("the name is empty"));
        }
        if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
            return Err(bad("a name has only letters, digits, `_` and `-`"));
        }
        let mut spec = Spec::new(name);
        let Some(rest) = rest else { return Ok(spec) };
        if !rest.ends_with(')') {
            return Err(bad("missing the closing `)`"));
        }
        let inner = &rest[1..rest.len() - 1];
        for item in split_top_level(inner).map_err(|reason| bad(&reason))? {
            let item = item.trim();
            if item.is_empty() {
                continue;
            }
            let Some(eq) = item.find('=') else {
                return Err(bad(&format!("argument `{item}` is not of the form key=value")));
            };
            let key = item[..eq].trim();
            if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(bad(&format!("argument `{item}` has a bad key")));
            }
            if spec.get(key).is_some() {
                return Err(bad(&format!("argument `{key}` is given twice")));
            }
            let value = unquote(item[eq + 1..].trim()).map_err(|reason| bad(&reason))?;
            spec.args.push((key.to_string(), value));
        }
        Ok(spec)
    }
}

/// Splits on commas that are outside quotes and parentheses.
fn split_top_level(inner: &str) -> std::result::Result<Vec<&str>, String> {
    let mut parts = Vec::new();
    let (mut depth, mut in_quotes, mut escaped, mut start) = (0i32, false, false, 0);
    for (i, c) in inner.char_indices() {
        if in_quotes {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_quotes = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_quotes = true,
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth < 0 {
                    return Err("unbalanced `)`".to_string());
                }
            }
            ',' if depth == 0 => {
                parts.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if in_quotes {
        return Err("unterminated quote".to_string());
    }
    if depth != 0 {
        return Err("unbalanced `(`".to_string());
    }
    parts.push(&inner[start..]);
    Ok(parts)
}

fn unquote(value: &str) -> std::result::Result<String, String> {
    let Some(body) = value.strip_prefix('"') else { return Ok(value.to_string()) };
    let Some(body) = body.strip_suffix('"') else {
        return Err(format!("value {value} has text after its closing quote"));
    };
    let mut out = String::with_capacity(body.len());
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some(next @ ('"' | '\\')) => out.push(next),
                other => return Err(format!("unknown escape `\\{}` in {value}", other.unwrap_or(' '))),
            }
        } else {
            out.push(c);
        }
    }
    Ok(out)
}

/// Whether a value must be quoted to parse back: `,` or `=` outside parentheses, spaces, quotes,
/// backslashes or unbalanced parentheses. A nested spec such as `llm(model=a,t=1)` needs none.
fn needs_quotes(value: &str) -> bool {
    let mut depth = 0i32;
    for c in value.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' | '=' if depth == 0 => return true,
            '"' | '\\' => return true,
            c if c.is_whitespace() => return true,
            _ => {}
        }
        if depth < 0 {
            return true;
        }
    }
    value.is_empty() || depth != 0
}

impl fmt::Display for Spec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        if self.args.is_empty() {
            return Ok(());
        }
        f.write_str("(")?;
        for (i, (key, value)) in self.args.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            if needs_quotes(value) {
                let escaped = value.replace('\\', "\\\\").replace('"', "\\\"");
                write!(f, "{key}=\"{escaped}\"")?;
            } else {
                write!(f, "{key}={value}")?;
            }
        }
        f.write_str(")")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_arguments_quotes_and_nesting() {
        let spec = Spec::parse(r#" cmd(program="python3 bot.py", judge=llm(model=a.gguf,t=0.5), x = 3) "#);
        let spec = spec.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(spec.name, "cmd");
        assert_eq!(spec.get("program"), Some("python3 bot.py"));
        assert_eq!(spec.get("judge"), Some("llm(model=a.gguf,t=0.5)"));
        assert_eq!(spec.get("x"), Some("3"));
        assert_eq!(Spec::parse("random").map(|s| s.args.len()).ok(), Some(0));
    }

    #[test]
    fn display_round_trips() {
        for text in ["connect_four(rows=6,columns=7)", r#"cmd(program="a \"b\" c")"#, "debate(judge=llm(model=x))"] {
            let spec = Spec::parse(text).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(spec.to_string(), text);
            assert_eq!(Spec::parse(&spec.to_string()).ok(), Some(spec));
        }
    }

    #[test]
    fn rejects_malformed_specs_with_reasons() {
        for (text, reason) in [
            ("", "empty"),
            ("a(b=1", "closing"),
            ("a(b)", "key=value"),
            ("a(b=1,b=2)", "twice"),
            ("a(b=\"x)", "quote"),
            ("a b", "letters"),
            ("a(b=(1)", "unbalanced"),
        ] {
            match Spec::parse(text) {
                Err(e) => assert!(e.to_string().contains(reason), "{text}: {e}"),
                Ok(spec) => panic!("{text} parsed as {spec:?}"),
            }
        }
    }
}
