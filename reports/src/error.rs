//! The one error type of the crate. Every variant names the run directory or file it is about,
//! so a report over many runs says which one is wrong.

use std::path::PathBuf;

use asi_evolve_store::layout::DB_FILE;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum ReportError {
    #[error("{0} holds no {DB_FILE}: is it a run directory?")]
    NotARun(PathBuf),
    #[error("reading {path}: {source}")]
    Sqlite { path: PathBuf, source: rusqlite::Error },
    #[error("{run}: {message}")]
    BadRun { run: PathBuf, message: String },
    #[error("a report needs at least one run directory")]
    NoRuns,
    #[error("one report covers one suite, but the runs are of several: {0}")]
    MixedSuites(String),
    #[error("writing {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("aggregating the runs ({what}): {source}")]
    Polars { what: &'static str, source: polars::error::PolarsError },
    #[error("the reference arm `{arm}` is not among the report's arms ({arms})")]
    UnknownArm { arm: String, arms: String },
    #[error("drawing {path}: {message}")]
    Plot { path: PathBuf, message: String },
}
