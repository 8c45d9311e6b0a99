//! The `gatehouse` binary: parse arguments, run the command, print the error chain.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = gatehouse::cli::Cli::parse();
    match gatehouse::cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
