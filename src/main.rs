//! The `gatehouse` binary: parse arguments, run the command, print the error chain.

use std::process::ExitCode;

use clap::Parser;

/// mimalloc instead of the system allocator: a build allocates per page on every core, and
/// glibc's per-thread arenas spent a tenth of its CPU in malloc, free and page faults.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
