//! asi-evolve: a reproducible harness for ASI-Evolve's learn–design–experiment–analyze loop.
//!
//! Data flows one way: config → campaign → sampler → researcher → engineer → analyzer →
//! database → reports; the database's schema and the run folder's layout are the
//! `asi-evolve-store` crate's, which the reports read by.

pub mod ablation;
pub mod analyzer;
pub mod campaign;
pub mod cognition;
pub mod config;
pub mod config_layers;
pub mod database;
pub mod edit;
pub mod engineer;
pub mod judge;
pub mod llm;
pub mod node;
pub mod novelty;
pub mod preflight;
pub mod prompts;
pub mod researcher;
pub mod run_lock;
pub mod sampler;
pub mod seeds;
pub mod suite;
pub mod verify;
