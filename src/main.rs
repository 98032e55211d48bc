//! The `infermux` binary: parse the command line, then run it.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    infermux::cli::run(infermux::cli::Cli::parse())
}
