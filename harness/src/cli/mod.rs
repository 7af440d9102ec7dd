//! The command line's own parts: its exit-status convention and how `verify` reports.

pub(crate) mod verify;

use std::process::ExitCode;

/// One exit-status convention for every command, as `grep` and `diff` have it:
/// 0 the command ran and the answer is yes; 1 it ran and the answer is no (a design failed
/// verification, an evaluation or a packing is invalid, a rerun differs, an ablation cell
/// failed); 2 it could not run (bad arguments, config or files; clap uses 2 as well).
pub(crate) const NEGATIVE: u8 = 1;
pub(crate) const COULD_NOT_RUN: u8 = 2;

/// 0 for yes, 1 for no.
pub(crate) fn answer(yes: bool) -> ExitCode {
    if yes { ExitCode::SUCCESS } else { ExitCode::from(NEGATIVE) }
}
