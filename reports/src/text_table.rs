//! Plain-text tables for a terminal or a CI log: no borders, two spaces between columns, every
//! row starting at its first cell (so `grep '^name'` finds it) and no trailing whitespace.

use comfy_table::{CellAlignment, ColumnConstraint, ContentArrangement, Table, presets};

/// `header` and `rows` laid out in columns; the columns whose index is in `right` are
/// right-aligned (numbers), the others left-aligned.
pub fn plain_table(header: &[&str], rows: &[Vec<String>], right: &[usize]) -> String {
    let mut t = Table::new();
    t.load_preset(presets::NOTHING).set_content_arrangement(ContentArrangement::Disabled).set_header(header.to_vec());
    for row in rows {
        t.add_row(row.clone());
    }
    for (i, column) in t.column_iter_mut().enumerate() {
        column.set_padding((0, 2)).set_constraint(ColumnConstraint::ContentWidth);
        column.set_cell_alignment(if right.contains(&i) { CellAlignment::Right } else { CellAlignment::Left });
    }
    // comfy-table pads every cell to its column's width; a line ends at its last character.
    t.to_string().lines().map(str::trim_end).collect::<Vec<_>>().join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_line_up_numbers_right_and_no_line_ends_in_a_space() {
        let rows = vec![vec!["seed".to_owned(), "1.5".to_owned()], vec!["a longer name".to_owned(), "-".to_owned()]];
        let text = plain_table(&["name", "score"], &rows, &[1]);
        assert_eq!(text, "name           score\nseed             1.5\na longer name      -");
    }
}
