//! asi-evolve: a reproducible harness for ASI-Evolve's learn–design–experiment–analyze loop.
//!
//! Data flows one way: config → campaign → sampler → researcher → engineer → analyzer →
//! database → reports; the database's schema and the run folder's layout are the
//! `asi-evolve-store` crate's, which the reports read by.

pub mod ablation;
pub(crate) mod analyzer;
pub mod campaign;
pub mod cognition;
pub mod config;
pub mod config_layers;
pub mod database;
pub(crate) mod edit;
pub mod engineer;
pub(crate) mod judge;
pub(crate) mod llm;
pub mod node;
pub(crate) mod novelty;
pub(crate) mod preflight;
pub mod promote;
pub(crate) mod prompts;
pub(crate) mod researcher;
pub(crate) mod run_lock;
pub mod sampler;
pub(crate) mod seeds;
pub mod suite;
pub mod verify;
