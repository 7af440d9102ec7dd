//! `report.md`: the tables as Markdown, the figures as linked PNGs, the trees as linked SVGs.

use std::fmt::Write;

use crate::page::{INTERVALS_CAPTION, Page, convergence_caption};
use crate::tables::Table;

pub fn render(page: &Page) -> String {
    let mut md = String::new();
    let w = &mut md;
    let _ = writeln!(w, "# {}\n", page.title);
    for line in &page.provenance {
        let _ = writeln!(w, "{line}\n");
    }
    table(w, &page.paper);

    let _ = writeln!(w, "## Figures\n");
    let _ = writeln!(w, "![Best score so far by round, per arm](convergence.png)\n");
    let _ = writeln!(w, "{}\n", convergence_caption(page));
    let _ = writeln!(w, "![Final best per arm](final_best.png)\n");
    let _ = writeln!(w, "Bars: mean final best over seeds; whiskers: min and max.\n");
    let _ = writeln!(w, "![IQM and bootstrap 95% interval per arm](intervals.png)\n");
    let _ = writeln!(w, "{INTERVALS_CAPTION}\n");
    let _ = writeln!(w, "SVG versions: `convergence.svg`, `final_best.svg`, `intervals.svg`.\n");

    for t in &page.tables {
        table(w, t);
    }

    if !page.trees.is_empty() {
        let _ = writeln!(w, "## Evolution trees\n");
        let _ = writeln!(w, "Drawn in `report.html`; also as files:\n");
        for t in &page.trees {
            let _ = writeln!(w, "- arm `{}`, run `{}`: [{}]({})", t.arm, t.run, t.file, t.file);
        }
        w.push('\n');
    }
    let _ = writeln!(w, "## Data\n");
    let _ = writeln!(w, "{}", page.data_files.iter().map(|f| format!("`{f}`")).collect::<Vec<_>>().join(", "));
    md
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

pub(crate) fn table(w: &mut String, t: &Table) {
    let _ = writeln!(w, "## {}\n", t.title);
    if !t.note.is_empty() {
        let _ = writeln!(w, "{}\n", t.note);
    }
    let _ = writeln!(w, "| {} |", t.headers.iter().map(|h| cell(h)).collect::<Vec<_>>().join(" | "));
    let _ = writeln!(w, "|{}", " --- |".repeat(t.headers.len()));
    for (row, strong) in t.rows.iter().zip(&t.emphasis) {
        let cells: Vec<String> =
            row.iter().map(|c| if *strong && !c.is_empty() { format!("**{}**", cell(c)) } else { cell(c) }).collect();
        let _ = writeln!(w, "| {} |", cells.join(" | "));
    }
    w.push('\n');
}
