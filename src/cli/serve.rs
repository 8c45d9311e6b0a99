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
    /// Loopback address to listen on (127.0.0.1 or ::1). Others are refused: the "View as"
    /// preview opens any gate for whoever reaches the port.
    #[arg(long, default_value = "127.0.0.1", value_name = "IP", value_parser = loopback)]
    pub interface: IpAddr,
    /// Seal pages and hand out keys with the site's own master secret instead of serve's
    /// development secret. Those keys also open the deployed site: use it only to compare
    /// serve's output with a build.
    #[arg(long)]
    pub site_secret: bool,
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
        site_secret: args.site_secret,
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

fn loopback(text: &str) -> Result<IpAddr, String> {
    let address: IpAddr = text
        .parse()
        .map_err(|_| format!("`{text}` is not an IP address"))?;
    if address.is_loopback() {
        Ok(address)
    } else {
        Err("gatehouse serve listens only on loopback (127.0.0.1 or ::1): its \"View as\" bar hands any gate's keys to whoever reaches it. To try the site on another device, deploy it, or forward the port over SSH (ssh -L 1111:127.0.0.1:1111 …)".to_owned())
    }
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
    if let Some((email, link)) = &started.console {
        println!("Operator console, as {email}:\n  {link}");
    }
    println!(
        "Login emails go to .gatehouse/outbox/. Preview any level or bundle with the \"View as\" bar."
    );
    println!("gatehouse serve listening on {}/", started.url);
}
