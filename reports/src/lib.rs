//! Reports over campaign databases. This crate reads the SQLite file the harness writes, by the
//! schema, statuses and run-folder layout of the store crate both depend on, so it never depends
//! on the harness and data flows one way.
//!
//! `show` prints one run; `report` aggregates many (arms × seeds) into tables (CSV, Parquet),
//! figures (PNG, SVG), evolution trees and a Markdown and a self-contained HTML page, with
//! rliable-style interval estimates and seed-paired comparisons (`stats`).

mod aggregate;
mod campaign_db;
mod error;
mod figures;
mod page;
mod paper;
pub mod promotion;
mod render_html;
mod render_md;
mod report;
mod runs;
mod show;
mod stats;
mod table1;
mod table3;
mod tables;
mod text_table;
mod tree;

pub use aggregate::{ArmSummary, RunSummary};
pub use campaign_db::{CampaignDb, LlmUsage, NodeRow};
pub use error::ReportError;
pub use figures::References;
pub use report::{ReportOptions, ReportSummary, TreeRuns, report};
pub use show::show;
pub use stats::{ArmEstimate, Comparison, Decision, Interval, Metric, Statistics};
pub use text_table::plain_table;
