//! The Researcher's and Analyzer's replies: tagged sections, read by pure functions that never
//! panic. Reasoning a model writes into its content (`<think>…</think>`) is dropped first, so a
//! tag it mentions while thinking is never taken for the answer.

use thiserror::Error;

use crate::edit::search_replace::{self, DiffError, SearchReplace};

#[derive(Debug, Error, PartialEq, Eq)]
pub(crate) enum ReplyError {
    #[error("the reply has no complete <{tag}>…</{tag}> section")]
    MissingTag { tag: &'static str },
    #[error("the <{tag}> section of the reply is empty")]
    EmptyTag { tag: &'static str },
    #[error("the reply has neither a <code> section nor SEARCH/REPLACE blocks")]
    NoProgram,
    #[error(transparent)]
    Diff(#[from] DiffError),
}

/// How the Researcher's reply changes the parent program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ProgramChange {
    /// A whole new program.
    Full(String),
    /// Edits to the parent's EVOLVE blocks, to apply with `search_replace::apply_diff_to_evolve_blocks`.
    Diff(Vec<SearchReplace>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ResearcherReply {
    pub name: String,
    pub motivation: String,
    pub change: ProgramChange,
}

/// `<name>`, `<motivation>` and either `<code>` (a whole program, its Markdown fence removed) or
/// SEARCH/REPLACE blocks — inside `<code>` or anywhere in the reply when there is no `<code>`.
pub(crate) fn parse_researcher_reply(text: &str) -> Result<ResearcherReply, ReplyError> {
    let text = strip_thinking(text);
    let name = required(&text, "name")?;
    let motivation = required(&text, "motivation")?;
    let code = extract_tag(&text, "code");
    let diff_source = code.unwrap_or(&text);
    let change = if search_replace::has_diff_blocks(diff_source) {
        ProgramChange::Diff(search_replace::parse_diff(diff_source)?)
    } else {
        let code = strip_code_fence(code.ok_or(ReplyError::NoProgram)?);
        if code.trim().is_empty() {
            return Err(ReplyError::EmptyTag { tag: "code" });
        }
        ProgramChange::Full(code)
    };
    Ok(ResearcherReply { name, motivation, change })
}

/// The `<analysis>` section: the Analyzer's lesson.
pub(crate) fn parse_analyzer_reply(text: &str) -> Result<String, ReplyError> {
    required(&strip_thinking(text), "analysis")
}

/// The text between the first `<tag>` and the `</tag>` after it, untrimmed.
pub(crate) fn extract_tag<'a>(text: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let start = text.find(&open)? + open.len();
    let len = text[start..].find(&close)?;
    Some(&text[start..start + len])
}

/// `text` without `<think>…</think>` spans. An unclosed `<think>` runs to the end (the model was
/// cut off while reasoning); a `</think>` with no opening tag ends reasoning that began before
/// the content (chat templates that open the tag in the prompt).
pub(crate) fn strip_thinking(text: &str) -> String {
    const OPEN: &str = "<think>";
    const CLOSE: &str = "</think>";
    let mut rest = match (text.find(OPEN), text.find(CLOSE)) {
        (open, Some(close)) if open.is_none_or(|open| close < open) => &text[close + CLOSE.len()..],
        _ => text,
    };
    let mut kept = String::with_capacity(rest.len());
    while let Some(open) = rest.find(OPEN) {
        kept.push_str(&rest[..open]);
        let after = &rest[open + OPEN.len()..];
        rest = after.find(CLOSE).map_or("", |close| &after[close + CLOSE.len()..]);
    }
    kept.push_str(rest);
    kept
}

/// The program inside a Markdown code fence when the text is one (```` ```python ```` … ```` ``` ````),
/// else the text; leading blank lines dropped, ending with one newline.
pub(crate) fn strip_code_fence(code: &str) -> String {
    let trimmed = code.trim();
    let body = match trimmed.strip_prefix("```") {
        Some(fenced) => {
            let after_info = fenced.split_once('\n').map_or("", |(_, body)| body);
            after_info.trim_end().strip_suffix("```").unwrap_or(after_info)
        }
        None => code,
    };
    // Whole blank lines go; the first code line keeps its indentation.
    let mut body = body;
    while let Some((line, rest)) = body.split_once('\n')
        && line.trim().is_empty()
    {
        body = rest;
    }
    let program = body.trim_end();
    if program.is_empty() { String::new() } else { format!("{program}\n") }
}

fn required(text: &str, tag: &'static str) -> Result<String, ReplyError> {
    let value = extract_tag(text, tag).ok_or(ReplyError::MissingTag { tag })?.trim();
    if value.is_empty() {
        return Err(ReplyError::EmptyTag { tag });
    }
    Ok(value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_full_program_reply() {
        let text = "<think>maybe <code>no</code></think>\n<name> Hex rings </name>\n<motivation>Denser.</motivation>\n\
                    <code>\n```python\nimport numpy as np\n\ndef f():\n    return 1\n```\n</code>";
        let reply = parse_researcher_reply(text).unwrap();
        assert_eq!(reply.name, "Hex rings");
        assert_eq!(reply.motivation, "Denser.");
        assert_eq!(reply.change, ProgramChange::Full("import numpy as np\n\ndef f():\n    return 1\n".into()));
    }

    #[test]
    fn reads_a_diff_reply_inside_or_outside_code() {
        let diff = "<<<<<<< SEARCH\nx = 1\n=======\nx = 2\n>>>>>>> REPLACE\n";
        let expected = ProgramChange::Diff(vec![SearchReplace { search: "x = 1\n".into(), replace: "x = 2\n".into() }]);
        for text in [
            format!("<name>a</name><motivation>b</motivation>\n{diff}"),
            format!("<name>a</name><motivation>b</motivation><code>\n{diff}</code>"),
        ] {
            assert_eq!(parse_researcher_reply(&text).unwrap().change, expected);
        }
    }

    #[test]
    fn missing_parts_are_named() {
        assert_eq!(parse_researcher_reply("<motivation>b</motivation>"), Err(ReplyError::MissingTag { tag: "name" }));
        assert_eq!(
            parse_researcher_reply("<name> </name><motivation>b</motivation>"),
            Err(ReplyError::EmptyTag { tag: "name" })
        );
        assert_eq!(parse_researcher_reply("<name>a</name><motivation>b</motivation>"), Err(ReplyError::NoProgram));
        assert_eq!(
            parse_researcher_reply("<name>a</name><motivation>b</motivation><code>```\n```</code>"),
            Err(ReplyError::EmptyTag { tag: "code" })
        );
        assert_eq!(parse_analyzer_reply("<analysis>unclosed"), Err(ReplyError::MissingTag { tag: "analysis" }));
        assert_eq!(parse_analyzer_reply("<analysis>\nRings beat grids.\n</analysis>").unwrap(), "Rings beat grids.");
    }

    #[test]
    fn thinking_is_dropped_in_all_its_shapes() {
        assert_eq!(strip_thinking("a<think>b</think>c<think>d"), "ac");
        assert_eq!(strip_thinking("reasoning</think>answer"), "answer");
        assert_eq!(strip_thinking("plain"), "plain");
    }

    #[test]
    fn an_unfenced_program_keeps_its_first_indent() {
        assert_eq!(strip_code_fence("\n\n    x = 1\n"), "    x = 1\n");
        assert_eq!(strip_code_fence("```\nx = 1"), "x = 1\n");
    }
}
