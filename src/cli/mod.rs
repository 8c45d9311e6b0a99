//! Command-line interface (DESIGN §7): one file per command.

mod build;
mod check;
mod db;
mod deploy;
mod deploy_plan;
mod edge;
mod import;
mod init;
mod keys;
mod members;
mod members_import;
mod scaffold;
mod serve;

#[doc(hidden)]
pub use members_import::check_without_store as check_members_import;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// gatehouse: a static-site generator for membership businesses.
///
/// Authors write Markdown whose front matter names the membership levels, bundles and drip
/// delays a page needs. `gatehouse build` renders the site and encrypts every gated body, one
/// key per gate, so the whole site can be served from any CDN.
#[derive(Debug, Parser)]
#[command(name = "gatehouse", version, propagate_version = true)]
pub struct Cli {
    /// The site's folder (the one holding site.toml).
    #[arg(long, global = true, default_value = ".", value_name = "DIR")]
    pub root: PathBuf,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a new site with the default theme, a public page, a gated page and a drip lesson.
    Init(init::InitArgs),
    /// Render the site into public/ (or --out), encrypting every gated body.
    Build(build::BuildArgs),
    /// Validate site.toml, content and templates without writing anything.
    Check(check::CheckArgs),
    /// Publish the built site to `[deploy] target` (an S3-compatible bucket or a folder),
    /// uploading only what changed, pages after what they point to, deletions last.
    Deploy(deploy::DeployArgs),
    /// Run the member server: logins, sessions, and the gate keys each member may have.
    Edge(edge::EdgeArgs),
    /// Convert a Hugo or Zola content tree into content/ (front matter, bundles, shortcodes),
    /// reporting every change and every shortcode it could not map, with file and line.
    Import(import::ImportArgs),
    /// Rotate the gate keys: raise `[keys] epoch` in site.toml (then restart the edge, rebuild
    /// and deploy).
    Keys(keys::KeysArgs),
    /// Add, list, show and change members in the member database.
    Members(members::MembersArgs),
    /// Build, serve and live-reload the site with the member API and demo members on one
    /// origin, rebuilding only what each change touches.
    Serve(serve::ServeArgs),
}

/// Writes `text` to stdout. A reader that stopped early (`gatehouse members list | head`) is
/// not an error: `print!` would panic on the closed pipe.
pub(crate) fn print_to_stdout(text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(error) if error.kind() != std::io::ErrorKind::BrokenPipe => Err(error.into()),
        _ => Ok(()),
    }
}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Init(args) => init::run(&cli.root, args),
        Command::Build(args) => build::run(&cli.root, args),
        Command::Check(args) => check::run(&cli.root, args),
        Command::Deploy(args) => deploy::run(&cli.root, args),
        Command::Edge(args) => edge::run(&cli.root, args),
        Command::Import(args) => import::run(&cli.root, args),
        Command::Keys(args) => keys::run(&cli.root, args),
        Command::Members(args) => members::run(&cli.root, args),
        Command::Serve(args) => serve::run(&cli.root, args),
    }
}
