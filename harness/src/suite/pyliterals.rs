//! The literal lists of a Python file, read by Python's own `ast` module (through
//! `harness/support/literal_lists.py`, run with the `python3` on `PATH`): the file is parsed,
//! never run, and every string spelling (escapes, raw, bytes, implicit concatenation) means
//! exactly what it means to Python.

use std::path::Path;
use std::process::Command;

use serde_json::Value as Json;

const READER: &str = include_str!("../../support/literal_lists.py");

/// A Python literal as the reader reports it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Str(String),
    /// A `bytes` literal, one char per byte (Latin-1).
    Bytes(String),
    Num(f64),
    Bool(bool),
    None,
    /// A list, tuple or set.
    List(Vec<Value>),
    Dict(Vec<(Value, Value)>),
    /// A bare (possibly dotted) name.
    Name(String),
    Call {
        name: String,
        args: Vec<Value>,
        kwargs: Vec<(String, Value)>,
    },
}

/// Every list display of `path` whose elements are all literals, in source order.
pub(crate) fn lists(path: &Path) -> Result<Vec<Vec<Value>>, String> {
    let out = Command::new("python3")
        .arg("-c")
        .arg(READER)
        .arg(path)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .map_err(|e| format!("cannot run python3 to parse it (Python 3 must be on PATH): {e}"))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let last = stderr.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("no message");
        return Err(format!("Python cannot parse it: {}", last.trim()));
    }
    let json: Json = serde_json::from_slice(&out.stdout).map_err(|e| format!("the literal reader's output: {e}"))?;
    let Some(Json::Array(lists)) = json.get("lists") else {
        return Err("the literal reader's output has no `lists`".into());
    };
    lists
        .iter()
        .map(|list| match list {
            Json::Array(items) => items.iter().map(from_json).collect(),
            other => Err(format!("the literal reader gave {other} for a list")),
        })
        .collect()
}

fn from_json(v: &Json) -> Result<Value, String> {
    let bad = || format!("the literal reader gave an unknown value {v}");
    Ok(match v {
        Json::Null => Value::None,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => Value::Num(n.as_f64().ok_or_else(bad)?),
        Json::String(s) => Value::Str(s.clone()),
        Json::Array(items) => Value::List(items.iter().map(from_json).collect::<Result<_, _>>()?),
        Json::Object(o) => {
            if let Some(Json::String(b)) = o.get("bytes") {
                Value::Bytes(b.clone())
            } else if let Some(Json::String(n)) = o.get("name") {
                Value::Name(n.clone())
            } else if let Some(Json::Array(pairs)) = o.get("dict") {
                let pair = |p: &Json| match p {
                    Json::Array(kv) if kv.len() == 2 => Ok((from_json(&kv[0])?, from_json(&kv[1])?)),
                    _ => Err(bad()),
                };
                Value::Dict(pairs.iter().map(pair).collect::<Result<_, _>>()?)
            } else if let (Some(Json::String(name)), Some(Json::Array(args)), Some(Json::Array(kwargs))) =
                (o.get("call"), o.get("args"), o.get("kwargs"))
            {
                let kwarg = |p: &Json| match p {
                    Json::Array(kv) if kv.len() == 2 => {
                        Ok((kv[0].as_str().ok_or_else(bad)?.to_owned(), from_json(&kv[1])?))
                    }
                    _ => Err(bad()),
                };
                Value::Call {
                    name: name.clone(),
                    args: args.iter().map(from_json).collect::<Result<_, _>>()?,
                    kwargs: kwargs.iter().map(kwarg).collect::<Result<_, _>>()?,
                }
            } else {
                return Err(bad());
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn lists_of(src: &str) -> Result<Vec<Vec<Value>>, String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.py");
        std::fs::write(&path, src).unwrap();
        lists(&path)
    }

    fn only(src: &str) -> Vec<Value> {
        let mut found = lists_of(src).unwrap();
        assert_eq!(found.len(), 1, "{found:?}");
        found.remove(0)
    }

    fn s(text: &str) -> Value {
        Value::Str(text.into())
    }

    #[test]
    fn reads_strings_in_every_spelling() {
        let got = only(concat!(
            "x = [\"a\\\"b\\n\", r'\\d+', '''one\ntwo''', (\"con\"\n 'cat' # note\n f\"{{x}}\"),\n",
            " '\\u00e9\\x41', '\\012', '\\0', '\\a', '\\N{GREEK SMALL LETTER ALPHA}', f'plain', 'a # not a comment']\n"
        ));
        assert_eq!(
            got,
            vec![
                s("a\"b\n"),
                s(r"\d+"),
                s("one\ntwo"),
                s("concat{x}"),
                s("éA"),
                s("\n"),
                s("\0"),
                s("\u{7}"),
                s("α"),
                s("plain"),
                s("a # not a comment"),
            ]
        );
        assert_eq!(
            only("x = [b'\\xff\\x00', rb'\\d']"),
            vec![Value::Bytes("\u{ff}\0".into()), Value::Bytes(r"\d".into())]
        );
    }

    #[test]
    fn reads_containers_numbers_and_calls() {
        let items = &lists_of("[1, -2.5e-3, True, None, {'a': (1,)}, {2, 3}, Item(content='c', source=\"s\"), x.y,]")
            .unwrap()[0];
        assert_eq!(items[0], Value::Num(1.0));
        assert_eq!(items[1], Value::Num(-2.5e-3));
        assert_eq!(items[2], Value::Bool(true));
        assert_eq!(items[3], Value::None);
        assert_eq!(items[4], Value::Dict(vec![(s("a"), Value::List(vec![Value::Num(1.0)]))]));
        assert_eq!(items[5], Value::List(vec![Value::Num(2.0), Value::Num(3.0)]));
        assert_eq!(
            items[6],
            Value::Call {
                name: "Item".into(),
                args: vec![],
                kwargs: vec![("content".into(), s("c")), ("source".into(), s("s"))]
            }
        );
        assert_eq!(items[7], Value::Name("x.y".into()));
    }

    #[test]
    fn leaves_out_what_is_not_a_literal_and_never_runs_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("ran");
        let src = format!("open({:?}, 'w')\nx = [1 + 2]\ny = [v for v in z]\nw = [f'{{v}}']\nok = ['kept']\n", marker);
        assert_eq!(lists_of(&src).unwrap(), vec![vec![s("kept")]]);
        assert!(!marker.exists(), "the file was executed");
    }

    #[test]
    fn lists_inside_strings_and_comments_are_not_lists() {
        let found = lists_of("a = '[' # [\nb = [1]\nc = \"\"\"['no']\"\"\"\n").unwrap();
        assert_eq!(found, vec![vec![Value::Num(1.0)]]);
    }

    #[test]
    fn a_syntax_error_is_named_with_its_line() {
        let err = lists_of("x = [1,\ny = 2\n").unwrap_err();
        assert!(err.contains("cannot parse") && err.contains("line"), "{err}");
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]
        #[test]
        fn any_text_gives_lists_or_a_named_error(src in "[\\[\\](){}'\"#:,=a-z0-9 .\\\\\\n-]{0,60}") {
            match lists_of(&src) {
                Ok(_) => {}
                Err(e) => prop_assert!(e.contains("cannot parse"), "{}", e),
            }
        }
    }
}
