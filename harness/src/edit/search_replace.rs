//! SEARCH/REPLACE edits, confined to the EVOLVE blocks:
//!
//! ```text
//! <<<<<<< SEARCH
//! old lines
//! =======
//! new lines
//! >>>>>>> REPLACE
//! ```
//!
//! A block applies only where its SEARCH text occurs exactly once inside the evolvable regions:
//! taking the first of several matches could silently edit the wrong place, and the error tells
//! the model to quote more context. Text outside the regions can never change.

use std::ops::Range;

use thiserror::Error;

use super::evolve_block::{self, BlockError};

const SEARCH: &str = "<<<<<<< SEARCH";
const DIVIDER: &str = "=======";
const REPLACE: &str = ">>>>>>> REPLACE";

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SearchReplace {
    /// Exact text to find, including the final newline of its last line.
    pub search: String,
    /// Text to put in its place (empty deletes).
    pub replace: String,
}

/// Errors name blocks by their 1-based position in the reply.
#[derive(Debug, Error, PartialEq, Eq)]
pub(crate) enum DiffError {
    #[error("SEARCH/REPLACE block {block} is malformed: {reason}")]
    Malformed { block: usize, reason: &'static str },
    #[error("block {block}: the SEARCH part is empty; quote the lines to replace")]
    EmptySearch { block: usize },
    #[error("block {block}: the SEARCH text (starting `{start}`) does not occur in the program; quote it exactly")]
    NotFound { block: usize, start: String },
    #[error(
        "block {block}: the SEARCH text (starting `{start}`) occurs only outside the EVOLVE blocks, which may not change"
    )]
    OutsideEvolve { block: usize, start: String },
    #[error(
        "block {block}: the SEARCH text (starting `{start}`) occurs {count} times inside the EVOLVE blocks; \
         quote more surrounding lines so it is unique"
    )]
    Ambiguous { block: usize, start: String, count: usize },
    #[error("block {block}: the edit would create an EVOLVE-BLOCK marker; markers may not be added or moved")]
    MarkerInserted { block: usize },
    #[error(
        "block {block}: the edit removes the line break before an EVOLVE-BLOCK-END marker, which would join code \
         onto the marker's line; keep the last line's newline"
    )]
    JoinsMarkerLine { block: usize },
    #[error("the program's EVOLVE blocks are unbalanced: {0}")]
    Blocks(#[from] BlockError),
}

/// True when `text` holds at least one SEARCH marker line.
pub(crate) fn has_diff_blocks(text: &str) -> bool {
    text.lines().any(|line| line.trim() == SEARCH)
}

/// The SEARCH/REPLACE blocks of `text`, in order; text between blocks is ignored. CRLF line
/// endings are read as LF.
pub(crate) fn parse_diff(text: &str) -> Result<Vec<SearchReplace>, DiffError> {
    enum State {
        Outside,
        Search(String),
        Replace(String, String),
    }
    let text = text.replace("\r\n", "\n");
    let mut blocks = Vec::new();
    let mut state = State::Outside;
    for line in text.split_inclusive('\n') {
        let marker = line.trim();
        let block = blocks.len() + 1;
        let malformed = |reason| Err(DiffError::Malformed { block, reason });
        state = match state {
            State::Outside if marker == SEARCH => State::Search(String::new()),
            State::Outside if marker == REPLACE => return malformed("`>>>>>>> REPLACE` without `<<<<<<< SEARCH`"),
            State::Outside => State::Outside,
            State::Search(search) if marker == DIVIDER => State::Replace(search, String::new()),
            State::Search(_) if marker == SEARCH || marker == REPLACE => {
                return malformed("the SEARCH part must end with a `=======` line");
            }
            State::Search(mut search) => {
                search.push_str(line);
                State::Search(search)
            }
            State::Replace(search, replace) if marker == REPLACE => {
                blocks.push(SearchReplace { search, replace });
                State::Outside
            }
            State::Replace(..) if marker == SEARCH || marker == DIVIDER => {
                return malformed("the REPLACE part must end with a `>>>>>>> REPLACE` line");
            }
            State::Replace(search, mut replace) => {
                replace.push_str(line);
                State::Replace(search, replace)
            }
        };
    }
    match state {
        State::Outside => Ok(blocks),
        _ => Err(DiffError::Malformed { block: blocks.len() + 1, reason: "it is not closed with `>>>>>>> REPLACE`" }),
    }
}

/// Applies `blocks` to the EVOLVE blocks of `program` (the whole program when it has no markers).
pub(crate) fn apply_diff_to_evolve_blocks(program: &str, blocks: &[SearchReplace]) -> Result<String, DiffError> {
    let regions = evolve_block::evolvable_regions(program)?;
    apply_diff(program, blocks, &regions)
}

/// Applies `blocks` in order; each must match exactly once entirely inside one of the
/// `evolvable` byte ranges of the program as edited so far (ranges move with earlier edits).
pub(crate) fn apply_diff(
    program: &str,
    blocks: &[SearchReplace],
    evolvable: &[Range<usize>],
) -> Result<String, DiffError> {
    let mut program = program.to_owned();
    let mut regions = evolvable.to_vec();
    for (index, SearchReplace { search, replace }) in blocks.iter().enumerate() {
        let block = index + 1;
        if search.is_empty() {
            return Err(DiffError::EmptySearch { block });
        }
        let start = || first_line(search);
        let hits = occurrences(&program, search);
        if hits.is_empty() {
            return Err(DiffError::NotFound { block, start: start() });
        }
        let end_of = |at: usize| at + search.len();
        let inside: Vec<(usize, usize)> = hits
            .iter()
            .filter_map(|&at| regions.iter().position(|r| r.start <= at && end_of(at) <= r.end).map(|k| (at, k)))
            .collect();
        let &[(at, k)] = inside.as_slice() else {
            return Err(match inside.len() {
                0 => DiffError::OutsideEvolve { block, start: start() },
                count => DiffError::Ambiguous { block, start: start(), count },
            });
        };
        let markers_before = count_markers(&program, &regions[k]);
        let whole_lines_before = ends_whole_lines(&program, &regions[k]);
        program.replace_range(at..end_of(at), replace);
        shift(&mut regions, at..end_of(at), replace.len());
        if count_markers(&program, &regions[k]) > markers_before {
            return Err(DiffError::MarkerInserted { block });
        }
        // Text after a region starts a line (the END marker's); losing the region's last
        // newline would change that line, which lies outside the blocks.
        if whole_lines_before && !ends_whole_lines(&program, &regions[k]) {
            return Err(DiffError::JoinsMarkerLine { block });
        }
    }
    Ok(program)
}

/// Moves the ranges after an edit that replaced `edited` with `new_len` bytes: a range holding
/// the edit grows or shrinks, ranges after it move.
fn shift(regions: &mut [Range<usize>], edited: Range<usize>, new_len: usize) {
    let moved = |x: usize| (x - edited.end).saturating_add(edited.start + new_len);
    for r in regions {
        if r.start <= edited.start && edited.end <= r.end {
            r.end = moved(r.end);
        } else if r.start >= edited.end {
            *r = moved(r.start)..moved(r.end.max(r.start));
        }
    }
}

/// Start offsets of every occurrence of `needle`, overlapping ones included.
fn occurrences(haystack: &str, needle: &str) -> Vec<usize> {
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(at) = haystack.get(from..).and_then(|rest| rest.find(needle)).map(|pos| from + pos) {
        found.push(at);
        from = at + haystack[at..].chars().next().map_or(1, char::len_utf8);
    }
    found
}

/// True when the region is empty, ends with a line break, or ends the program.
fn ends_whole_lines(program: &str, region: &Range<usize>) -> bool {
    region.is_empty() || region.end >= program.len() || program.as_bytes()[region.end - 1] == b'\n'
}

fn count_markers(program: &str, region: &Range<usize>) -> usize {
    let text = program.get(region.clone()).unwrap_or("");
    text.matches(evolve_block::START).count() + text.matches(evolve_block::END).count()
}

/// The first line of a SEARCH text, shortened for messages.
fn first_line(search: &str) -> String {
    let line = search.lines().find(|l| !l.trim().is_empty()).unwrap_or("").trim();
    match line.char_indices().nth(60) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROGRAM: &str = "import math\n# EVOLVE-BLOCK-START\nx = 1\ny = 2\n# EVOLVE-BLOCK-END\nprint(x)\n";

    fn block(search: &str, replace: &str) -> SearchReplace {
        SearchReplace { search: search.into(), replace: replace.into() }
    }

    #[test]
    fn parses_blocks_and_ignores_the_text_around_them() {
        let text = "Change x:\r\n<<<<<<< SEARCH\r\nx = 1\r\n=======\r\nx = 3\r\n>>>>>>> REPLACE\r\nand delete y\n\
                    <<<<<<< SEARCH\ny = 2\n=======\n>>>>>>> REPLACE";
        assert_eq!(parse_diff(text).unwrap(), vec![block("x = 1\n", "x = 3\n"), block("y = 2\n", "")]);
        assert!(has_diff_blocks(text));
    }

    #[test]
    fn malformed_blocks_are_numbered() {
        let unclosed = "<<<<<<< SEARCH\na\n=======\nb\n>>>>>>> REPLACE\n<<<<<<< SEARCH\nc\n=======\nd\n";
        assert_eq!(
            parse_diff(unclosed).unwrap_err(),
            DiffError::Malformed { block: 2, reason: "it is not closed with `>>>>>>> REPLACE`" }
        );
        assert!(matches!(
            parse_diff("<<<<<<< SEARCH\na\n>>>>>>> REPLACE\n"),
            Err(DiffError::Malformed { block: 1, .. })
        ));
    }

    #[test]
    fn applies_in_order_inside_the_evolve_block() {
        let blocks = [block("x = 1\n", "x = 10\nz = 0\n"), block("z = 0\ny = 2\n", "y = 20\n")];
        let out = apply_diff_to_evolve_blocks(PROGRAM, &blocks).unwrap();
        assert_eq!(out, "import math\n# EVOLVE-BLOCK-START\nx = 10\ny = 20\n# EVOLVE-BLOCK-END\nprint(x)\n");
    }

    #[test]
    fn refusals_name_the_block_and_the_reason() {
        let apply = |b: SearchReplace| apply_diff_to_evolve_blocks(PROGRAM, &[block("y = 2\n", "y = 3\n"), b]);
        assert!(matches!(apply(block("w = 0\n", "")), Err(DiffError::NotFound { block: 2, .. })));
        assert!(matches!(apply(block("import math\n", "")), Err(DiffError::OutsideEvolve { block: 2, .. })));
        assert!(matches!(apply(block(" = ", "=")), Err(DiffError::Ambiguous { block: 2, count: 2, .. })));
        assert!(matches!(apply(block("", "x")), Err(DiffError::EmptySearch { block: 2 })));
        let marker = apply(block("x = 1\n", "# EVOLVE-BLOCK-END\nimport os\n# EVOLVE-BLOCK-START\n"));
        assert_eq!(marker, Err(DiffError::MarkerInserted { block: 2 }));
        let message = apply(block("print(x)\n", "")).unwrap_err().to_string();
        assert!(message.contains("block 2") && message.contains("print(x)"), "{message}");
    }

    #[test]
    fn the_line_break_before_the_end_marker_stays() {
        let program = "# EVOLVE-BLOCK-START\nx = 1\ny = 2\n# EVOLVE-BLOCK-END\nprint(x)\n";
        let joined = apply_diff_to_evolve_blocks(program, &[block("\ny = 2\n", "")]);
        assert_eq!(joined, Err(DiffError::JoinsMarkerLine { block: 1 }));
        let whole = apply_diff_to_evolve_blocks(program, &[block("x = 1\ny = 2\n", "")]).unwrap();
        assert_eq!(whole, "# EVOLVE-BLOCK-START\n# EVOLVE-BLOCK-END\nprint(x)\n");
    }

    #[test]
    fn a_marker_cannot_be_assembled_from_pieces() {
        let program = "# EVOLVE-BLOCK-START\na = 'EVOLVE-BLOCK-STAR' + b\n# EVOLVE-BLOCK-END\n";
        let out = apply_diff_to_evolve_blocks(program, &[block("' + b", "T")]);
        assert_eq!(out, Err(DiffError::MarkerInserted { block: 1 }));
    }
}
