//! `report`: aggregates runs, writes tables, figures, trees and the Markdown and HTML pages.

use std::fs::File;
use std::path::{Path, PathBuf};

use polars::prelude::{CsvWriter, DataFrame, ParquetWriter, SerWriter};

use crate::aggregate::{self, Aggregates, ArmSummary, RunSummary};
use crate::error::ReportError;
use crate::figures::{self, References};
use crate::page::{Page, TreeFigure};
use crate::runs::{self, Run};
use crate::stats::{self, Statistics};
use crate::tables::{self, Table};
use crate::{paper, render_html, render_md, table1, table3, tree};

/// Which campaigns get their evolution tree drawn in the HTML report.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum TreeRuns {
    /// The first listed run of each arm.
    #[default]
    FirstPerArm,
    /// The run with the highest final best of each arm.
    BestPerArm,
    /// Exactly these run directories (each must be among the report's runs).
    Runs(Vec<PathBuf>),
    None,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReportOptions {
    /// Scores for the rounds-to-reach table; none means no such table.
    pub thresholds: Vec<f64>,
    /// Page title; by default "<suite>: campaign report".
    pub title: Option<String>,
    pub tree_runs: TreeRuns,
    /// Which reference numbers the convergence figure draws.
    pub references: References,
    /// The arm every other arm is compared with, seed by seed; by default `full` when present,
    /// else the first arm.
    pub reference_arm: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ReportSummary {
    /// Every file written, in the order written.
    pub files: Vec<PathBuf>,
    pub arms: Vec<ArmSummary>,
    pub runs: Vec<RunSummary>,
    /// Interval estimates per arm and paired comparisons with the reference arm.
    pub statistics: Statistics,
}

pub fn report(run_dirs: &[PathBuf], out: &Path, options: &ReportOptions) -> Result<ReportSummary, ReportError> {
    let runs = runs::load_all(run_dirs)?;
    let suite = runs[0].suite.clone();
    // A threshold asked for twice would name two columns alike.
    let mut thresholds: Vec<f64> = Vec::new();
    for &t in &options.thresholds {
        if !thresholds.contains(&t) {
            thresholds.push(t);
        }
    }
    let agg = aggregate::aggregate(&runs, &thresholds)?;
    let arm_names: Vec<String> = agg.arms.iter().map(|a| a.arm.clone()).collect();
    let reference = stats::reference_arm(&arm_names, options.reference_arm.as_deref())
        .map_err(|arms| ReportError::UnknownArm { arm: options.reference_arm.clone().unwrap_or_default(), arms })?;
    let statistics = stats::statistics(&agg.runs, &arm_names, reference);
    let (intervals_frame, comparisons_frame) =
        stats::frames(&statistics).map_err(|source| ReportError::Polars { what: "interval estimates", source })?;
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| ReportError::Io { path, source }
    };
    std::fs::create_dir_all(out).map_err(io(out))?;

    let f = &agg.frames;
    let mut files = write_frames(
        &[
            ("nodes", &f.nodes),
            ("curves", &f.curves),
            ("arm_curves", &f.arm_curves),
            ("runs", &f.runs),
            ("arms", &f.arms),
            ("thresholds", &f.thresholds),
            ("failures", &f.failures),
            ("intervals", &intervals_frame),
            ("comparisons", &comparisons_frame),
        ],
        out,
    )?;
    let data_files: Vec<String> =
        files.iter().filter_map(|f| f.file_name()).map(|f| f.to_string_lossy().into()).collect();

    let baselines = asi_evolve_baselines::for_suite(&suite);
    let (conv_files, convergence) = figures::convergence(
        out,
        &format!("{suite}: best score so far"),
        &agg.curves,
        &agg.arms,
        &baselines,
        options.references,
    )?;
    let best_files = figures::final_best(out, &format!("{suite}: final best per arm"), &agg.arms)?;
    let interval_files = figures::intervals(
        out,
        &format!("{suite}: IQM and bootstrap 95% interval per arm"),
        &arm_names,
        &statistics.estimates,
    )?;
    let read = |path: &PathBuf| std::fs::read_to_string(path).map_err(io(path));
    let convergence_svg = read(&conv_files[1])?;
    let final_best_svg = read(&best_files[1])?;
    let intervals_svg = read(&interval_files[1])?;
    files.extend(conv_files);
    files.extend(best_files);
    files.extend(interval_files);

    let mut trees = Vec::new();
    for (i, run) in tree_runs(&runs, &agg, &options.tree_runs)?.into_iter().enumerate() {
        let title = format!("arm {} — run {} (seed {}): {} nodes", run.arm, run.label, run.seed, run.nodes.len());
        let svg = tree::tree_svg(&run.nodes, &title, &i.to_string());
        let file = format!("tree-{}-{}.svg", slug(&run.arm), slug(&run.label));
        let path = out.join(&file);
        std::fs::write(&path, &svg).map_err(io(&path))?;
        files.push(path);
        trees.push(TreeFigure { arm: run.arm.clone(), run: run.label.clone(), file, svg });
    }

    let mut summary_tables: Vec<Table> = table1::table(&suite, &runs)?.into_iter().collect();
    summary_tables.extend(table3::table(&suite, &runs));
    summary_tables.push(tables::arms(&agg));
    summary_tables.push(tables::intervals(&statistics));
    if arm_names.len() > 1 {
        summary_tables.push(tables::comparisons(&statistics));
    }
    if !thresholds.is_empty() {
        summary_tables.push(tables::thresholds(&agg));
    }
    summary_tables.push(tables::failures(&agg));
    summary_tables.push(tables::runs(&agg, &thresholds));
    let page = Page {
        title: options.title.clone().unwrap_or_else(|| format!("{suite}: campaign report")),
        provenance: provenance(&runs, &agg),
        paper: tables::paper(&paper::rows(&baselines, &agg.arms, runs.len()), &suite),
        tables: summary_tables,
        convergence,
        convergence_svg,
        final_best_svg,
        intervals_svg,
        trees,
        data_files,
    };
    for (name, text) in [("report.md", render_md::render(&page)), ("report.html", render_html::render(&page))] {
        let path = out.join(name);
        std::fs::write(&path, text).map_err(io(&path))?;
        files.push(path);
    }
    Ok(ReportSummary { files, arms: agg.arms, runs: agg.runs, statistics })
}

/// Writes every frame as CSV and Parquet, without the internal ordering columns.
fn write_frames(frames: &[(&str, &DataFrame)], out: &Path) -> Result<Vec<PathBuf>, ReportError> {
    let mut files = Vec::new();
    for &(stem, frame) in frames {
        let keep: Vec<String> = frame
            .get_column_names()
            .into_iter()
            .filter(|c| !matches!(c.as_str(), "run_index" | "arm_index"))
            .map(|c| c.to_string())
            .collect();
        let polars = |source| ReportError::Polars { what: "writing tables", source };
        let mut frame: DataFrame = frame.select(keep).map_err(polars)?;
        let csv = out.join(format!("{stem}.csv"));
        let parquet = out.join(format!("{stem}.parquet"));
        let create =
            |path: &Path| File::create(path).map_err(|source| ReportError::Io { path: path.to_owned(), source });
        CsvWriter::new(create(&csv)?).finish(&mut frame).map_err(polars)?;
        ParquetWriter::new(create(&parquet)?).finish(&mut frame).map_err(polars)?;
        files.push(csv);
        files.push(parquet);
    }
    Ok(files)
}

fn tree_runs<'a>(runs: &'a [Run], agg: &Aggregates, which: &TreeRuns) -> Result<Vec<&'a Run>, ReportError> {
    let arms: Vec<&str> = agg.arms.iter().map(|a| a.arm.as_str()).collect();
    let best =
        |r: &Run| agg.runs.iter().find(|s| s.run == r.label).and_then(|s| s.final_best).unwrap_or(f64::NEG_INFINITY);
    Ok(match which {
        TreeRuns::None => Vec::new(),
        TreeRuns::FirstPerArm => arms.iter().filter_map(|a| runs.iter().find(|r| r.arm == *a)).collect(),
        TreeRuns::BestPerArm => arms
            .iter()
            .filter_map(|a| runs.iter().filter(|r| r.arm == *a).max_by(|x, y| best(x).total_cmp(&best(y))))
            .collect(),
        TreeRuns::Runs(dirs) => dirs
            .iter()
            .map(|d| {
                let wanted = d.canonicalize().unwrap_or_else(|_| d.clone());
                runs.iter().find(|r| r.dir.canonicalize().unwrap_or_else(|_| r.dir.clone()) == wanted).ok_or_else(
                    || ReportError::BadRun {
                        run: d.clone(),
                        message: "is asked for a tree but is not among the report's runs".into(),
                    },
                )
            })
            .collect::<Result<_, _>>()?,
    })
}

/// What the runs are and what produced them, stated before any number.
fn provenance(runs: &[Run], agg: &Aggregates) -> Vec<String> {
    let arms: Vec<String> = agg
        .arms
        .iter()
        .map(|a| format!("{} ({} seed{})", a.arm, a.seeds, if a.seeds == 1 { "" } else { "s" }))
        .collect();
    let mut researchers: Vec<&str> = Vec::new();
    for r in runs {
        if !researchers.contains(&r.researcher.as_str()) {
            researchers.push(&r.researcher);
        }
    }
    let exchanges: u64 = agg.arms.iter().map(|a| a.llm_exchanges).sum();
    let mut lines = vec![
        format!("{} runs of suite `{}`; arms: {}.", runs.len(), runs[0].suite, arms.join(", ")),
        format!("Researcher: {}.", researchers.join("; ")),
    ];
    lines.push(if exchanges == 0 {
        "No LLM was called in any of these runs (their databases record no LLM exchange). The paper's numbers \
         beside ours come from LLM-driven systems and are shown for reference, not as like-for-like results."
            .into()
    } else {
        let cost: f64 = agg.arms.iter().map(|a| a.cost_usd).sum();
        format!("The databases record {exchanges} LLM exchanges in all, costing ${cost:.2}.")
    });
    lines
}

/// A file-name-safe form of an arm or run name.
fn slug(s: &str) -> String {
    let slug: String =
        s.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect();
    slug.trim_matches('-').to_string()
}
