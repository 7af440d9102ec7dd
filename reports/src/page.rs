//! What a report page shows, computed once, and the helpers both writers (Markdown, HTML) and
//! the tree drawing share; the writers depend on this module, never on each other.

use crate::figures::{ConvergenceInfo, describe};
use crate::tables::Table;

/// One drawn evolution tree.
pub struct TreeFigure {
    pub arm: String,
    pub run: String,
    pub file: String,
    pub svg: String,
}

/// Everything the Markdown and HTML writers show, computed once.
pub struct Page {
    pub title: String,
    /// Paragraphs saying what the runs are and what produced them.
    pub provenance: Vec<String>,
    pub paper: Table,
    /// Arms, interval estimates, paired comparisons, thresholds (when asked for), failures, runs.
    pub tables: Vec<Table>,
    pub convergence: ConvergenceInfo,
    pub convergence_svg: String,
    pub final_best_svg: String,
    pub intervals_svg: String,
    pub trees: Vec<TreeFigure>,
    /// Data files written, relative to the report folder.
    pub data_files: Vec<String>,
}

/// What the interval figure shows.
pub const INTERVALS_CAPTION: &str = "Points: interquartile mean (IQM) over each arm's seeds; whiskers: its stratified \
     bootstrap 95% interval (see the interval table for the method). Left: final best score; right: AUC, the mean \
     best-so-far over a run's rounds. An arm with one seed has a point and no whiskers.";

/// Text made safe inside HTML and SVG.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Which references the convergence figure draws and which lie outside it.
pub fn convergence_caption(page: &Page) -> String {
    let mut caption = "Lines: mean best-so-far over each arm's seeds; shaded band: min to max over seeds.".to_string();
    let list = |v: &[asi_evolve_baselines::Baseline]| v.iter().map(describe).collect::<Vec<_>>().join("; ");
    if !page.convergence.drawn.is_empty() {
        caption += &format!(" Dashed references: {}.", list(&page.convergence.drawn));
    }
    if !page.convergence.outside.is_empty() {
        caption +=
            &format!(" References outside the plotted range, so not drawn: {}.", list(&page.convergence.outside));
    }
    caption
}
