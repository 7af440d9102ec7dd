//! Cognition items written the ASI-Evolve way: a JSON file, or a Python file holding a list
//! literal of strings, dicts or `CognitionItem(content=…, source=…)` calls. The Python file is
//! parsed by Python's `ast` module and never run (see `pyliterals`); the items are handed to
//! `CognitionBase` in memory (`CognitionSource::Items`).

use std::path::Path;

use super::SuiteError;
use super::pyliterals::{self, Value};

/// Keys that hold an item's text, then its title, in order of preference.
const TEXT_KEYS: [&str; 5] = ["content", "text", "description", "body", "insight"];
const TITLE_KEYS: [&str; 4] = ["title", "name", "source", "topic"];
const TITLE_CHARS: usize = 80;

/// The (title, text) items of a `.json` or `.py` cognition file, in file order.
pub fn items(path: &Path) -> Result<Vec<(String, String)>, SuiteError> {
    let err = |message: String| SuiteError::Cognition { path: path.to_owned(), message };
    let is_json = path.extension().is_some_and(|e| e == "json");
    let found = if is_json {
        let text = super::read(path)?;
        let json: serde_json::Value = serde_json::from_str(&text).map_err(|e| err(format!("not valid JSON: {e}")))?;
        json_list(from_json(json)).and_then(|list| convert(&list))
    } else {
        python_items(&pyliterals::lists(path).map_err(err)?)
    };
    found.ok_or_else(|| {
        err("no list of strings or {title, content} items found (a JSON array, or a Python list literal)".into())
    })
}

/// The first list literal whose elements are all dict- or call-shaped items; failing that, the
/// first list of plain strings. Lists of other things (paths, queries in a demo) are skipped.
fn python_items(lists: &[Vec<Value>]) -> Option<Vec<(String, String)>> {
    let mut plain = None;
    for list in lists {
        let Some(items) = convert(list) else { continue };
        if list.iter().any(|v| !matches!(v, Value::Str(_))) {
            return Some(items);
        }
        plain.get_or_insert(items);
    }
    plain
}

/// A JSON document's item list: the array itself, or the first array among an object's values.
fn json_list(value: Value) -> Option<Vec<Value>> {
    match value {
        Value::List(list) => Some(list),
        Value::Dict(pairs) => pairs.into_iter().find_map(|(_, v)| if let Value::List(l) = v { Some(l) } else { None }),
        _ => None,
    }
}

fn from_json(v: serde_json::Value) -> Value {
    match v {
        serde_json::Value::Null => Value::None,
        serde_json::Value::Bool(b) => Value::Bool(b),
        serde_json::Value::Number(n) => Value::Num(n.as_f64().unwrap_or(f64::NAN)),
        serde_json::Value::String(s) => Value::Str(s),
        serde_json::Value::Array(a) => Value::List(a.into_iter().map(from_json).collect()),
        serde_json::Value::Object(o) => {
            Value::Dict(o.into_iter().map(|(k, v)| (Value::Str(k), from_json(v))).collect())
        }
    }
}

/// All elements as items, or `None` if any element is not one (or the list is empty).
fn convert(list: &[Value]) -> Option<Vec<(String, String)>> {
    if list.is_empty() {
        return None;
    }
    list.iter().map(item).collect()
}

fn item(v: &Value) -> Option<(String, String)> {
    let fields: Vec<(&str, &Value)> = match v {
        Value::Str(s) => return non_empty(s).map(|s| (title_from(s), s.to_owned())),
        Value::Dict(pairs) => {
            pairs.iter().filter_map(|(k, v)| if let Value::Str(k) = k { Some((k.as_str(), v)) } else { None }).collect()
        }
        Value::Call { args, kwargs, .. } => {
            let mut fields: Vec<(&str, &Value)> = kwargs.iter().map(|(k, v)| (k.as_str(), v)).collect();
            if let Some(first) = args.first() {
                fields.push(("content", first));
            }
            fields
        }
        _ => return None,
    };
    let string = |key: &str| {
        fields
            .iter()
            .find(|(k, _)| *k == key)
            .and_then(|(_, v)| if let Value::Str(s) = v { non_empty(s) } else { None })
    };
    let text = TEXT_KEYS.iter().find_map(|k| string(k))?;
    let metadata_title = fields.iter().find(|(k, _)| *k == "metadata").and_then(|(_, m)| nested_title(m));
    let title = TITLE_KEYS.iter().find_map(|k| string(k)).map(str::to_owned).or(metadata_title);
    Some((title.unwrap_or_else(|| title_from(text)), text.to_owned()))
}

/// A `metadata={"topic": …}` dict's title, for items that carry nothing better.
fn nested_title(metadata: &Value) -> Option<String> {
    let Value::Dict(pairs) = metadata else { return None };
    TITLE_KEYS.iter().find_map(|key| {
        pairs.iter().find_map(|(k, v)| match (k, v) {
            (Value::Str(k), Value::Str(v)) if k == key => non_empty(v).map(str::to_owned),
            _ => None,
        })
    })
}

fn non_empty(s: &str) -> Option<&str> {
    let t = s.trim();
    (!t.is_empty()).then_some(t)
}

/// The first line of an untitled item, cut at a word boundary.
fn title_from(text: &str) -> String {
    let line = text.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("item");
    if line.chars().count() <= TITLE_CHARS {
        return line.to_owned();
    }
    let cut: String = line.chars().take(TITLE_CHARS).collect();
    let cut = cut.rsplit_once(' ').map_or(cut.as_str(), |(head, _)| head);
    format!("{cut}…")
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn write(name: &str, text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    #[test]
    fn reads_the_reference_python_style_without_running_it() {
        let src = r#"
import sys
sys.path.insert(0, "x")
spec = load("Evolve", submodule_search_locations=[str(root)])
def init_cognition():
    knowledge = [
        # Geometry
        CognitionItem(
            content="Hexagonal packing is dense. "
                    "Refine it.",
            source="Circle Packing Theory",
            metadata={"topic": "hexagonal_packing"},
        ),
        CognitionItem(content='Use SLSQP.', metadata={"topic": "scipy"}),
    ]
    for query in ["How to use scipy?", "Plateau?"]:
        print(query)
"#;
        let (_d, path) = write("init_cognition.py", src);
        assert_eq!(
            items(&path).unwrap(),
            vec![
                ("Circle Packing Theory".into(), "Hexagonal packing is dense. Refine it.".into()),
                ("scipy".into(), "Use SLSQP.".into()),
            ]
        );
    }

    #[test]
    fn reads_plain_strings_dicts_and_json() {
        let (_d, path) = write("c.py", "ITEMS = [\n  'First line\\nmore',\n  \"\"\"Second\"\"\",\n]\n");
        assert_eq!(items(&path).unwrap()[0], ("First line".into(), "First line\nmore".into()));
        let (_d, path) = write("c.py", "ITEMS = [{'title': 'T', 'content': 'C'}]\n");
        assert_eq!(items(&path).unwrap(), vec![("T".into(), "C".into())]);
        let (_d, path) = write("c.json", r#"{"items": [{"title": "T", "text": "C"}, "plain"]}"#);
        assert_eq!(items(&path).unwrap(), vec![("T".into(), "C".into()), ("plain".into(), "plain".into())]);
    }

    #[test]
    fn files_without_items_name_the_file() {
        let (_d, path) = write("c.py", "x = [1, 2]\n");
        let err = items(&path).unwrap_err().to_string();
        assert!(err.contains("c.py") && err.contains("no list"), "{err}");
        let (_d, path) = write("c.json", "{not json");
        assert!(items(&path).unwrap_err().to_string().contains("not valid JSON"));
    }
}
