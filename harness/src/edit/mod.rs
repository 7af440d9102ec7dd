//! Program editing shared by the researchers and the reply parser: the EVOLVE blocks that may
//! change, and SEARCH/REPLACE edits confined to them.

pub mod evolve_block;
pub mod search_replace;
