//! Prompt templates. The defaults ship in `harness/prompts/`; a suite overrides any of them with
//! a file of the same name in its own `prompts/` folder. `{{key}}` placeholders are filled in.

use std::path::Path;

use thiserror::Error;

#[derive(Debug, Error)]
#[error("cannot read prompt template {path}: {source}")]
pub struct PromptError {
    path: String,
    source: std::io::Error,
}

const DEFAULTS: &[(&str, &str)] = &[
    ("researcher_system", include_str!("../prompts/researcher_system.md")),
    ("researcher", include_str!("../prompts/researcher.md")),
    ("analyzer_system", include_str!("../prompts/analyzer_system.md")),
    ("analyzer", include_str!("../prompts/analyzer.md")),
    ("judge", include_str!("../prompts/judge.md")),
    ("debug", include_str!("../prompts/debug.md")),
];

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Templates {
    templates: Vec<(&'static str, String)>,
}

impl Templates {
    /// The defaults, each replaced by `<suite_dir>/prompts/<name>.md` where that file exists.
    pub(crate) fn load(suite_dir: &Path) -> Result<Self, PromptError> {
        let mut templates = Vec::with_capacity(DEFAULTS.len());
        for (name, default) in DEFAULTS {
            let path = suite_dir.join("prompts").join(format!("{name}.md"));
            let text = if path.is_file() {
                std::fs::read_to_string(&path)
                    .map_err(|source| PromptError { path: path.display().to_string(), source })?
            } else {
                (*default).to_owned()
            };
            templates.push((*name, text));
        }
        Ok(Self { templates })
    }

    #[cfg(test)]
    pub(crate) fn defaults() -> Self {
        Self { templates: DEFAULTS.iter().map(|(n, t)| (*n, (*t).to_owned())).collect() }
    }

    /// The named template with its placeholders filled; unknown placeholders stay as written.
    pub(crate) fn render(&self, name: &str, values: &[(&str, &str)]) -> String {
        let template = self
            .templates
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, t)| t.as_str())
            .unwrap_or_else(|| panic!("no prompt template `{name}`: the names are fixed in DEFAULTS"));
        let mut out = template.to_owned();
        for (key, value) in values {
            out = out.replace(&format!("{{{{{key}}}}}"), value);
        }
        out.trim().to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_placeholders_and_a_suite_overrides_a_template() {
        let dir = tempfile::tempdir().unwrap();
        let t = Templates::load(dir.path()).unwrap();
        let text =
            t.render("researcher", &[("task", "PACK CIRCLES"), ("parents", "P"), ("cognition", "C"), ("format", "F")]);
        assert!(text.contains("PACK CIRCLES") && !text.contains("{{"), "{text}");
        std::fs::create_dir(dir.path().join("prompts")).unwrap();
        std::fs::write(dir.path().join("prompts/researcher.md"), "Only {{task}}.").unwrap();
        let t = Templates::load(dir.path()).unwrap();
        assert_eq!(t.render("researcher", &[("task", "this")]), "Only this.");
        assert_eq!(t.render("judge", &[]), Templates::defaults().render("judge", &[]));
    }
}
