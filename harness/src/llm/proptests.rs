//! Properties of the reply and diff parsers: they never panic, a well-formed edit of an
//! evolvable line changes that line only, and no edit ever changes text outside the EVOLVE
//! blocks.

use std::ops::Range;

use proptest::prelude::*;

use super::reply::{parse_analyzer_reply, parse_researcher_reply};
use crate::edit::evolve_block::evolvable_regions;
use crate::edit::search_replace::{SearchReplace, apply_diff, apply_diff_to_evolve_blocks, parse_diff};

/// Replies assembled from the pieces the parsers look for, plus arbitrary text.
fn reply_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("<name>".to_string()),
        Just("</name>".to_string()),
        Just("<motivation>".to_string()),
        Just("</motivation>".to_string()),
        Just("<code>".to_string()),
        Just("</code>".to_string()),
        Just("<analysis>".to_string()),
        Just("</analysis>".to_string()),
        Just("<think>".to_string()),
        Just("</think>".to_string()),
        Just("```python\n".to_string()),
        Just("```".to_string()),
        Just("<<<<<<< SEARCH\n".to_string()),
        Just("=======\n".to_string()),
        Just(">>>>>>> REPLACE\n".to_string()),
        Just("\r\n".to_string()),
        Just("\n".to_string()),
        ".{0,12}",
    ];
    prop::collection::vec(piece, 0..24).prop_map(|pieces| pieces.concat())
}

/// Code lines with some non-ASCII text, never a marker.
fn line() -> impl Strategy<Value = String> {
    "[a-z0-9 =+()é→]{0,10}".prop_map(|l| format!("{l}\n"))
}

/// A program of alternating fixed and evolvable segments (each a list of lines), with marker
/// lines between them.
fn program() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::collection::vec(line(), 0..5), 1..6).prop_map(|segments| {
        let mut code = String::new();
        for (i, segment) in segments.iter().enumerate() {
            if i % 2 == 1 {
                code.push_str("# EVOLVE-BLOCK-START\n");
            }
            code.push_str(&segment.concat());
            if i % 2 == 1 {
                code.push_str("# EVOLVE-BLOCK-END\n");
            }
        }
        code
    })
}

/// The text outside the evolvable regions, segment by segment.
fn fixed_parts<'a>(code: &'a str, regions: &[Range<usize>]) -> Vec<&'a str> {
    let mut parts = Vec::new();
    let mut at = 0;
    for r in regions {
        parts.push(&code[at..r.start]);
        at = r.end;
    }
    parts.push(&code[at..]);
    parts
}

/// A substring of `code` between two char boundaries picked by the fractions `a` and `b`.
fn substring(code: &str, a: f64, b: f64) -> &str {
    let bounds: Vec<usize> = code.char_indices().map(|(i, _)| i).chain([code.len()]).collect();
    let pick = |f: f64| bounds[((f * bounds.len() as f64) as usize).min(bounds.len() - 1)];
    let (x, y) = (pick(a), pick(b));
    &code[x.min(y)..x.max(y)]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn the_reply_parsers_never_panic(text in reply_text()) {
        let _ = parse_researcher_reply(&text);
        let _ = parse_analyzer_reply(&text);
        let _ = parse_diff(&text);
    }

    #[test]
    fn the_reply_parsers_never_panic_on_arbitrary_text(text in "\\PC{0,200}") {
        let _ = parse_researcher_reply(&text);
        let _ = parse_analyzer_reply(&text);
        let _ = parse_diff(&text);
    }

    #[test]
    fn apply_diff_never_panics_on_any_ranges(
        code in "\\PC{0,60}",
        searches in prop::collection::vec(("\\PC{0,6}", "\\PC{0,6}"), 0..4),
        ranges in prop::collection::vec((0usize..80, 0usize..80), 0..4),
    ) {
        let blocks: Vec<SearchReplace> =
            searches.into_iter().map(|(search, replace)| SearchReplace { search, replace }).collect();
        let ranges: Vec<Range<usize>> = ranges.into_iter().map(|(a, b)| a..b).collect();
        let _ = apply_diff(&code, &blocks, &ranges);
    }

    #[test]
    fn an_edit_of_one_evolvable_line_changes_that_line_only(
        code in program(),
        pick in any::<prop::sample::Index>(),
        new_line in "[a-z0-9 =+()]{0,16}",
    ) {
        let regions = evolvable_regions(&code).unwrap();
        // Number the evolvable lines so the one edited is unique (`V` and `#` never occur in `line()`).
        let mut numbered = String::new();
        let mut evolvable_lines = Vec::new();
        let mut counter = 0;
        for (index, text) in code.split_inclusive('\n').enumerate() {
            let offset: usize = code.split_inclusive('\n').take(index).map(str::len).sum();
            if regions.iter().any(|r| r.start <= offset && offset < r.end) {
                counter += 1;
                evolvable_lines.push(format!("V{counter}#{text}"));
                numbered.push_str(evolvable_lines.last().unwrap());
            } else {
                numbered.push_str(text);
            }
        }
        prop_assume!(!evolvable_lines.is_empty());
        let old = pick.get(&evolvable_lines);
        let diff = format!("noise\n<<<<<<< SEARCH\n{old}=======\n{new_line}\n>>>>>>> REPLACE\n");
        let blocks = parse_diff(&diff).unwrap();
        let edited = apply_diff_to_evolve_blocks(&numbered, &blocks).unwrap();
        prop_assert_eq!(&edited, &numbered.replacen(old.as_str(), &format!("{new_line}\n"), 1));
        let before = evolvable_regions(&numbered).unwrap();
        let after = evolvable_regions(&edited).unwrap();
        prop_assert_eq!(fixed_parts(&numbered, &before), fixed_parts(&edited, &after));
    }

    #[test]
    fn text_outside_the_evolve_blocks_never_changes(
        code in program(),
        edits in prop::collection::vec((0.0..1.0f64, 0.0..1.0f64, prop_oneof![
            "\\PC{0,8}".prop_map(String::from),
            Just("# EVOLVE-BLOCK-END\n".to_string()),
            Just("EVOLVE-BLOCK-START".to_string()),
            Just("\n".to_string()),
        ]), 1..5),
    ) {
        let blocks: Vec<SearchReplace> = edits
            .iter()
            .map(|(a, b, replace)| SearchReplace { search: substring(&code, *a, *b).to_owned(), replace: replace.clone() })
            .collect();
        if let Ok(edited) = apply_diff_to_evolve_blocks(&code, &blocks) {
            let before = evolvable_regions(&code).unwrap();
            let after = evolvable_regions(&edited);
            prop_assert!(after.is_ok(), "markers broken: {:?}", after);
            let after = after.unwrap();
            prop_assert_eq!(before.len(), after.len());
            prop_assert_eq!(fixed_parts(&code, &before), fixed_parts(&edited, &after));
        }
    }
}
