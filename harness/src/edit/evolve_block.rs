//! The regions of a program that may be changed: the text between `EVOLVE-BLOCK-START` and
//! `EVOLVE-BLOCK-END` marker lines. A program without markers is evolvable as a whole.

use std::ops::Range;

use thiserror::Error;

pub(crate) const START: &str = "EVOLVE-BLOCK-START";
pub(crate) const END: &str = "EVOLVE-BLOCK-END";

#[derive(Debug, Error, PartialEq, Eq)]
pub(crate) enum BlockError {
    #[error("{START} on line {line} has no matching {END}")]
    Unclosed { line: usize },
    #[error("{END} on line {line} has no matching {START}")]
    Unopened { line: usize },
    #[error("{START} on line {line} opens a block inside the block opened on line {outer}")]
    Nested { line: usize, outer: usize },
}

/// Byte ranges of the evolvable regions, in order. The marker lines themselves are outside.
pub(crate) fn evolvable_regions(code: &str) -> Result<Vec<Range<usize>>, BlockError> {
    let mut regions = Vec::new();
    let mut open: Option<(usize, usize)> = None; // (line number, byte offset after the marker line)
    let mut offset = 0;
    let mut saw_marker = false;
    for (index, line) in code.split_inclusive('\n').enumerate() {
        let number = index + 1;
        if line.contains(START) {
            saw_marker = true;
            if let Some((outer, _)) = open {
                return Err(BlockError::Nested { line: number, outer });
            }
            open = Some((number, offset + line.len()));
        } else if line.contains(END) {
            saw_marker = true;
            let (_, start) = open.take().ok_or(BlockError::Unopened { line: number })?;
            regions.push(start..offset);
        }
        offset += line.len();
    }
    if let Some((line, _)) = open {
        return Err(BlockError::Unclosed { line });
    }
    if !saw_marker {
        regions.push(0..code.len());
    }
    Ok(regions)
}

/// 1-based line number of a byte offset.
pub(crate) fn line_of(code: &str, offset: usize) -> usize {
    code[..offset].bytes().filter(|&b| b == b'\n').count() + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_text_between_marker_lines() {
        let code = "a = 1\n# EVOLVE-BLOCK-START\nb = 2\n# EVOLVE-BLOCK-END\nc = 3\n";
        let r = evolvable_regions(code).unwrap();
        assert_eq!(r.len(), 1);
        assert_eq!(&code[r[0].clone()], "b = 2\n");
    }

    #[test]
    fn no_markers_means_the_whole_program() {
        assert_eq!(evolvable_regions("x = 1\n").unwrap(), vec![0..6]);
    }

    #[test]
    fn unbalanced_markers_are_named_by_line() {
        assert_eq!(evolvable_regions("# EVOLVE-BLOCK-START\nx\n"), Err(BlockError::Unclosed { line: 1 }));
        assert_eq!(evolvable_regions("x\n# EVOLVE-BLOCK-END\n"), Err(BlockError::Unopened { line: 2 }));
        assert_eq!(
            evolvable_regions("# EVOLVE-BLOCK-START\n# EVOLVE-BLOCK-START\n"),
            Err(BlockError::Nested { line: 2, outer: 1 })
        );
    }
}
