//! `report.html`: one self-contained page. CSS is inline and every figure is inline SVG, so the
//! file can be mailed or archived alone; the PNGs beside it are for other uses. No script runs.

use std::fmt::Write;

use crate::page::{INTERVALS_CAPTION, Page, convergence_caption, escape};
use crate::tables::Table;

const CSS: &str = "
body { font-family: 'DejaVu Sans', Verdana, sans-serif; margin: 2rem auto; max-width: 1200px; padding: 0 1rem;
       color: #222; line-height: 1.45; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.25rem; margin-top: 2.2rem; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; font-size: 0.85rem; margin: 0.6rem 0 1rem; }
th, td { border: 1px solid #d5d5d5; padding: 0.25rem 0.5rem; vertical-align: top; }
th { background: #f3f3f3; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.ours td { background: #eef5ff; font-weight: bold; }
p.note, figcaption { color: #555; font-size: 0.88rem; }
.provenance { background: #fff8e1; border-left: 4px solid #d4a017; padding: 0.5rem 1rem; }
figure { margin: 1rem 0; } figure svg { max-width: 100%; height: auto; }
.scroll { overflow-x: auto; border: 1px solid #e3e3e3; }
.scroll svg.tree { max-width: none; }
svg.tree .node:hover circle, svg.tree .node:hover path { stroke: #000; stroke-width: 2.5; }
code { background: #f3f3f3; padding: 0 0.2rem; }
";

/// A plotters SVG without its XML prolog, ready to sit inside HTML.
fn inline_svg(svg: &str) -> &str {
    match svg.find("<svg") {
        Some(start) => &svg[start..],
        None => svg,
    }
}

/// Backticked spans of our own text as `<code>`, the rest escaped.
fn text(s: &str) -> String {
    escape(s)
        .split('`')
        .enumerate()
        .map(|(i, part)| if i % 2 == 1 { format!("<code>{part}</code>") } else { part.to_string() })
        .collect()
}

pub fn render(page: &Page) -> String {
    let mut html = String::new();
    let w = &mut html;
    let _ = writeln!(w, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">");
    let _ = writeln!(w, "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">");
    let _ = writeln!(w, "<title>{}</title>\n<style>{CSS}</style>\n</head>\n<body>", escape(&page.title));
    let _ = writeln!(w, "<h1>{}</h1>", escape(&page.title));
    let _ = writeln!(w, "<div class=\"provenance\">");
    for line in &page.provenance {
        let _ = writeln!(w, "<p>{}</p>", text(line));
    }
    let _ = writeln!(w, "</div>");
    table(w, &page.paper, "paper");

    let _ = writeln!(w, "<h2>Figures</h2>");
    let _ = writeln!(
        w,
        "<figure id=\"convergence\">{}<figcaption>{}</figcaption></figure>",
        inline_svg(&page.convergence_svg),
        escape(&convergence_caption(page))
    );
    let _ = writeln!(
        w,
        "<figure id=\"final-best\">{}<figcaption>Bars: mean final best over seeds; whiskers: min and max.</figcaption></figure>",
        inline_svg(&page.final_best_svg)
    );
    let _ = writeln!(
        w,
        "<figure id=\"intervals\">{}<figcaption>{}</figcaption></figure>",
        inline_svg(&page.intervals_svg),
        escape(INTERVALS_CAPTION)
    );

    for (i, t) in page.tables.iter().enumerate() {
        table(w, t, &format!("table-{i}"));
    }

    if !page.trees.is_empty() {
        let _ = writeln!(w, "<h2>Evolution trees</h2>");
        let _ = writeln!(
            w,
            "<p class=\"note\">x: round; y: lineage (a branch continues its primary parent's lane when it is that \
             parent's largest). Edges go to the primary parent. Colour: score; hollow grey: invalid; red cross: \
             failed; gold: the best node and its lineage. Hover a node for its id, name and score or failure.</p>"
        );
        for t in &page.trees {
            let _ = writeln!(
                w,
                "<figure class=\"tree-figure\" data-arm=\"{}\"><div class=\"scroll\">{}</div><figcaption>Arm <code>{}</code>, run <code>{}</code> (also <code>{}</code>).</figcaption></figure>",
                escape(&t.arm),
                t.svg,
                escape(&t.arm),
                escape(&t.run),
                escape(&t.file)
            );
        }
    }

    let _ = writeln!(w, "<h2>Data</h2>\n<p>");
    let links: Vec<String> =
        page.data_files.iter().map(|f| format!("<a href=\"{0}\"><code>{0}</code></a>", escape(f))).collect();
    let _ = writeln!(w, "{}\n</p>\n</body>\n</html>", links.join(", "));
    html
}

fn table(w: &mut String, t: &Table, id: &str) {
    let _ = writeln!(w, "<h2 id=\"{id}\">{}</h2>", text(&t.title));
    if !t.note.is_empty() {
        let _ = writeln!(w, "<p class=\"note\">{}</p>", text(&t.note));
    }
    let _ = writeln!(w, "<table class=\"{id}\">\n<thead><tr>");
    for h in &t.headers {
        let _ = write!(w, "<th>{}</th>", escape(h));
    }
    let _ = writeln!(w, "</tr></thead>\n<tbody>");
    for (row, ours) in t.rows.iter().zip(&t.emphasis) {
        let _ = write!(w, "<tr{}>", if *ours { " class=\"ours\"" } else { "" });
        for c in row {
            let numeric = !c.is_empty() && c.chars().all(|ch| ch.is_ascii_digit() || "+-.–%/ [],".contains(ch));
            let _ = write!(w, "<td{}>{}</td>", if numeric { " class=\"num\"" } else { "" }, escape(c));
        }
        let _ = writeln!(w, "</tr>");
    }
    let _ = writeln!(w, "</tbody>\n</table>");
}
