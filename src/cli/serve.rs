//! `gatehouse serve`: the author's live preview (DESIGN §8).

use std::net::{IpAddr, SocketAddr};
use std::path::Path;

use anyhow::Context;

use super::build::{print_warnings, summary};
use super::db::runtime;
use crate::serve::{self, ServeOptions, Started};

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Port to listen on.
    #[arg(long, short, default_value_t = 1111)]
    pub port: u16,
    /// Address to listen on. Anything but loopback lets others on the network read every
    /// members-only page: the "View as" preview opens any gate.
    #[arg(long, default_value = "127.0.0.1", value_name = "IP")]
    pub interface: IpAddr,
    /// Include pages marked `draft: true`.
    #[arg(long)]
    pub drafts: bool,
}

pub fn run(root: &Path, args: ServeArgs) -> anyhow::Result<()> {
    super::edge::init_logging("warn,sqlx=warn");
    let root = std::path::absolute(root).context("cannot resolve the site's folder")?;
    let admin_token = super::edge::admin_token()?;
    let options = ServeOptions {
        root: root.clone(),
        drafts: args.drafts,
        admin_token,
    };
    let address = SocketAddr::new(args.interface, args.port);
    runtime()?.block_on(async move {
        let listener = tokio::net::TcpListener::bind(address)
            .await
            .with_context(|| {
                format!(
                    "cannot listen on {address}: is another `gatehouse serve` running? Try --port"
                )
            })?;
        serve::run(
            options,
            listener,
            print_started,
            super::edge::shutdown_signal(),
        )
        .await
    })
}

fn print_started(started: &Started) {
    print_warnings(&started.report);
    println!("{}", summary(&started.report));
    println!(
        "Demo members (dev database {}, reset at every start):",
        started.db_path.display()
    );
    let width = started
        .demo
        .iter()
        .map(|(member, _)| member.email.len())
        .max()
        .unwrap_or(0);
    for (member, link) in &started.demo {
        println!("  {:<width$}  {}", member.email, member.what);
        println!("  {:<width$}  {link}", "");
    }
    println!(
        "Login emails go to .gatehouse/outbox/. Preview any level or bundle with the \"View as\" bar."
    );
    println!("gatehouse serve listening on {}/", started.url);
}
