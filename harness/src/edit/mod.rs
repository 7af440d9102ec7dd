//! Program editing shared by the researchers and the reply parser: the EVOLVE blocks that may
//! change, and SEARCH/REPLACE edits confined to them.

pub(crate) mod evolve_block;
pub(crate) mod search_replace;
