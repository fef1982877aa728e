//! Command-line entry of `ofswitch ofctl` (being written).

use std::path::Path;
use std::process::ExitCode;

/// Runs one invocation; `args` are the words after the subcommand.
pub fn main(_state_dir: &Path, _args: Vec<String>) -> ExitCode {
    eprintln!("not implemented yet");
    ExitCode::FAILURE
}
