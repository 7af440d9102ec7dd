//! Integration tests of the public API. One test binary (rather than one per
//! file) so the suite links once.

mod common;
mod lp;
mod props;
mod validation;
