//! Typed, validated game parameters: each game declares its parameters once, the registry checks them.

use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::spec::Spec;

/// The kind and range of a parameter's value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ParamKind {
    /// An integer in `min..=max`.
    Int { min: i64, max: i64 },
    /// `true` or `false`.
    Bool,
    /// A floating-point number in `min..=max`.
    Float { min: f64, max: f64 },
    /// Free text.
    Text,
}

/// A parameter a game accepts, with its default and a one-line description.
#[derive(Clone, Copy, Debug)]
pub struct ParamDef {
    pub name: &'static str,
    pub kind: ParamKind,
    pub default: &'static str,
    pub doc: &'static str,
}

impl ParamDef {
    /// Text such as `rows: integer 4..=9, default 6 — number of rows`.
    pub fn describe(&self) -> String {
        let kind = match self.kind {
            ParamKind::Int { min, max } => format!("integer {min}..={max}"),
            ParamKind::Bool => "true|false".to_string(),
            ParamKind::Float { min, max } => format!("number {min}..={max}"),
            ParamKind::Text => "text".to_string(),
        };
        format!("{}: {kind}, default {} — {}", self.name, self.default, self.doc)
    }
}

/// A parameter value after validation.
#[derive(Clone, Debug, PartialEq)]
pub enum ParamValue {
    Int(i64),
    Bool(bool),
    Float(f64),
    Text(String),
}

impl std::fmt::Display for ParamValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParamValue::Int(v) => write!(f, "{v}"),
            ParamValue::Bool(v) => write!(f, "{v}"),
            ParamValue::Float(v) => write!(f, "{v}"),
            ParamValue::Text(v) => f.write_str(v),
        }
    }
}

/// Every parameter of one game, defaults filled in, each checked against its definition.
#[derive(Clone, Debug, PartialEq)]
pub struct Params {
    values: BTreeMap<&'static str, ParamValue>,
}

impl Params {
    /// Validates a spec's arguments against `defs`; `owner` names what takes them in errors,
    /// e.g. "game `hex`" or "agent `mcts`".
    pub fn from_spec(owner: &str, defs: &[ParamDef], spec: &Spec) -> Result<Params> {
        for (key, _) in &spec.args {
            if !defs.iter().any(|d| d.name == key) {
                let accepted = if defs.is_empty() {
                    "none".to_string()
                } else {
                    defs.iter().map(ParamDef::describe).collect::<Vec<_>>().join("; ")
                };
                return Err(Error::UnknownParameter { owner: owner.to_string(), param: key.clone(), accepted });
            }
        }
        let mut values = BTreeMap::new();
        for def in defs {
            let raw = spec.get(def.name).unwrap_or(def.default);
            values.insert(def.name, parse_value(owner, def, raw)?);
        }
        Ok(Params { values })
    }

    /// An integer parameter; the registry guarantees its presence and kind.
    pub fn int(&self, name: &str) -> i64 {
        match self.values.get(name) {
            Some(ParamValue::Int(v)) => *v,
            other => panic!("parameter `{name}` is not a declared integer: {other:?}"),
        }
    }

    /// A boolean parameter; the registry guarantees its presence and kind.
    pub fn bool(&self, name: &str) -> bool {
        match self.values.get(name) {
            Some(ParamValue::Bool(v)) => *v,
            other => panic!("parameter `{name}` is not a declared boolean: {other:?}"),
        }
    }

    /// A number parameter; the registry guarantees its presence and kind.
    pub fn float(&self, name: &str) -> f64 {
        match self.values.get(name) {
            Some(ParamValue::Float(v)) => *v,
            other => panic!("parameter `{name}` is not a declared number: {other:?}"),
        }
    }

    /// A text parameter; the registry guarantees its presence and kind.
    pub fn text(&self, name: &str) -> &str {
        match self.values.get(name) {
            Some(ParamValue::Text(v)) => v,
            other => panic!("parameter `{name}` is not a declared text: {other:?}"),
        }
    }

    /// The canonical spec: the name with every parameter, in the order of `defs`.
    pub fn to_spec(&self, name: &str, defs: &[ParamDef]) -> Spec {
        let mut spec = Spec::new(name);
        for def in defs {
            if let Some(value) = self.values.get(def.name) {
                spec = spec.with(def.name, value);
            }
        }
        spec
    }
}

fn parse_value(owner: &str, def: &ParamDef, raw: &str) -> Result<ParamValue> {
    let bad = |reason: String| Error::BadParameter {
        owner: owner.to_string(),
        param: def.name.to_string(),
        value: raw.to_string(),
        reason,
    };
    match def.kind {
        ParamKind::Int { min, max } => {
            let v: i64 = raw.parse().map_err(|_| bad(format!("expected an integer in {min}..={max}")))?;
            if v < min || v > max {
                return Err(bad(format!("must be in {min}..={max}")));
            }
            Ok(ParamValue::Int(v))
        }
        ParamKind::Bool => match raw {
            "true" => Ok(ParamValue::Bool(true)),
            "false" => Ok(ParamValue::Bool(false)),
            _ => Err(bad("expected true or false".to_string())),
        },
        ParamKind::Float { min, max } => {
            let v: f64 = raw.parse().map_err(|_| bad(format!("expected a number in {min}..={max}")))?;
            if !(min..=max).contains(&v) {
                return Err(bad(format!("must be in {min}..={max}")));
            }
            Ok(ParamValue::Float(v))
        }
        ParamKind::Text => Ok(ParamValue::Text(raw.to_string())),
    }
}
