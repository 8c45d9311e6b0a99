//! The load generator of `scripts/soak` (issue 15): many members at once against the release
//! `gatehouse edge`, for a minute, then again with a `kill -9` of the edge half-way and a
//! restart on the same database; afterwards, every webhook the edge acknowledged must be in the
//! database, applied once.
//!
//! It starts the edge itself (`--behind-proxy`, so that each client's `X-Forwarded-For` is its
//! address), so it can kill and restart it and read its memory from /proc. The database must
//! already hold the imported members `member{i}@soak.test` (`scripts/soak` imports them); the
//! members with passwords (`pw{i}@soak.test`) are created here through the admin API.
//!
//!   scripts/soak            # builds, sets up a site and databases, runs this, prints tables
//!   target/release/examples/soak --bin target/release/gatehouse --root SITE \
//!       --db sqlite:///…/members.db --label SQLite --out DIR
//!
//! Prints each phase's table (requests, req/s, p50 and p99 of the 2xx answers, outcomes by
//! status), the edge's memory, the webhook check and the verdicts, and writes the same to
//! `DIR/summary-LABEL.md`. Exits non-zero when a goal is missed.

mod client;
mod edge;
mod report;
mod stripe;
mod verify;

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use reqwest::Method;
use serde_json::json;

use client::{Outcome, Plan, Stats, Target};
use edge::{Edge, Launch};
use report::Memory;
use stripe::Delivery;

const ADMIN_TOKEN: &str = "soak-admin-token-0123456789abcdefghij";
const WEBHOOK_SECRET: &str = "whsec_soak_0123456789abcdefghijklmnop";

#[derive(Debug, Parser)]
struct Args {
    /// The `gatehouse` binary (the release build).
    #[arg(long)]
    bin: PathBuf,
    /// The site (a built copy of the demo site).
    #[arg(long)]
    root: PathBuf,
    /// The member database, holding the imported members already.
    #[arg(long)]
    db: String,
    /// The name of this run in the report (`SQLite`, `PostgreSQL`).
    #[arg(long)]
    label: String,
    /// Where the edge's log, memory samples and the summary go.
    #[arg(long)]
    out: PathBuf,
    #[arg(long, default_value_t = 100)]
    clients: usize,
    /// Seconds of the steady phase.
    #[arg(long, default_value_t = 60)]
    duration: u64,
    /// Seconds of the crash phase (the kill comes half-way); 0 skips it.
    #[arg(long, default_value_t = 30)]
    crash_duration: u64,
    /// Imported members in the database (`member0@soak.test` …).
    #[arg(long, default_value_t = 10_000)]
    members: usize,
    /// Members with a password to create (`pw0@soak.test` …).
    #[arg(long, default_value_t = 200)]
    password_members: usize,
    /// Seconds between one client's logins (the per-address limit refills one every 6 s).
    #[arg(long, default_value_t = 6.5)]
    login_every: f64,
    /// Seconds between one client's webhooks.
    #[arg(long, default_value_t = 2.0)]
    webhook_every: f64,
    /// Pause after each round of a client's loop, in milliseconds (0: as fast as answered).
    #[arg(long, default_value_t = 0)]
    think_ms: u64,
    /// Seconds between memory samples.
    #[arg(long, default_value_t = 2.0)]
    rss_every: f64,
}

/// What one phase measured.
struct Phase {
    name: &'static str,
    seconds: f64,
    stats: Stats,
    memory: Memory,
    acked: Vec<(Delivery, Instant)>,
    /// Not answered 2xx during the run, and delivered again afterwards (as Stripe retries).
    redelivered: Vec<Delivery>,
    /// Of those, how many the edge had stored before (`duplicate`).
    redelivered_duplicates: usize,
    kill: Option<Instant>,
    check: verify::Check,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    std::fs::create_dir_all(&args.out)?;
    let launch = Launch {
        bin: args.bin.clone(),
        root: args.root.clone(),
        db: args.db.clone(),
        admin_token: ADMIN_TOKEN.into(),
        webhook_secret: WEBHOOK_SECRET.into(),
        out: args.out.clone(),
    };
    let edge = Edge::start(&launch, "127.0.0.1:0", 0).await?;
    println!("== {}: edge at {} (pid {})", args.label, edge.api, edge.pid);
    let target = Arc::new(Target::new(
        &edge.api,
        ADMIN_TOKEN,
        WEBHOOK_SECRET,
        args.members,
        args.password_members,
    )?);
    let idle = edge::rss_kib(edge.pid).unwrap_or(0);
    setup(&target).await?;
    let set_up = edge::rss_kib(edge.pid).unwrap_or(0);
    let pid = Arc::new(AtomicU32::new(edge.pid));
    let mut edge = Some(edge);

    let steady = run_phase(&args, &target, &pid, "steady", args.duration, None).await?;
    let mut phases = vec![steady];
    if args.crash_duration > 0 {
        let crash = run_phase(
            &args,
            &target,
            &pid,
            "crash",
            args.crash_duration,
            Some((&launch, &mut edge)),
        )
        .await?;
        phases.push(crash);
    }
    let metrics = target
        .request(Method::GET, "/metrics")
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await?
        .text()
        .await?;
    let clean = edge.take().context("no edge")?.stop().await?;
    let (summary, passed) = summarise(&args, &mut phases, &metrics, clean, (idle, set_up));
    println!("{summary}");
    std::fs::write(
        args.out.join(format!("summary-{}.md", args.label)),
        &summary,
    )?;
    if !passed {
        eprintln!("{}: a goal was missed (see the summary)", args.label);
        std::process::exit(1);
    }
    Ok(())
}

/// Creates the password members (gold, with the pricing course: all five rules open) and
/// checks that the imported members are there.
async fn setup(target: &Arc<Target>) -> anyhow::Result<()> {
    let found = target
        .request(Method::GET, "/admin/members/member0@soak.test")
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await?;
    if !found.status().is_success() {
        bail!("member0@soak.test is not in the database: import the members first");
    }
    let started = Instant::now();
    let workers = 4;
    let tasks: Vec<_> = (0..workers)
        .map(|w| {
            let target = target.clone();
            tokio::spawn(async move {
                for k in (w..target.password_members).step_by(workers) {
                    let email = format!("pw{k}@soak.test");
                    let created = target
                        .request(Method::POST, "/admin/members")
                        .bearer_auth(ADMIN_TOKEN)
                        .json(&json!({ "email": email, "level": "gold",
                            "since": "2025-06-01T00:00:00Z", "password": client::password(k) }))
                        .send()
                        .await?;
                    if created.status().as_u16() != 201 {
                        bail!("creating {email}: {}", created.text().await?);
                    }
                    let granted = target
                        .request(Method::POST, &format!("/admin/members/{email}/events"))
                        .bearer_auth(ADMIN_TOKEN)
                        .json(
                            &json!({ "type": "bundle_add", "access": "bundle:pricing-course",
                            "at": "2025-07-01T00:00:00Z" }),
                        )
                        .send()
                        .await?;
                    if !granted.status().is_success() {
                        bail!("granting {email} the course: {}", granted.text().await?);
                    }
                }
                anyhow::Ok(())
            })
        })
        .collect();
    for task in tasks {
        task.await??;
    }
    println!(
        "   created {} password members in {:.1} s",
        target.password_members,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Runs the clients for `seconds`; with `crash`, kills the edge half-way and restarts it on
/// the same database and port. Then delivers again what got no 2xx, and checks the database.
async fn run_phase(
    args: &Args,
    target: &Arc<Target>,
    pid: &Arc<AtomicU32>,
    name: &'static str,
    seconds: u64,
    crash: Option<(&Launch, &mut Option<Edge>)>,
) -> anyhow::Result<Phase> {
    // Sessions first, one at a time (unmeasured): every client reads with one from the start.
    let mut cookies = Vec::with_capacity(args.clients);
    for index in 0..args.clients {
        cookies.push(client::first_session(target, index).await?);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = tokio::spawn(sample_memory(
        pid.clone(),
        Duration::from_secs_f64(args.rss_every),
        stop.clone(),
    ));
    let started = Instant::now();
    let until = started + Duration::from_secs(seconds);
    let clients: Vec<_> = cookies
        .into_iter()
        .enumerate()
        .map(|(index, cookie)| {
            let plan = Plan {
                index,
                clients: args.clients,
                phase: name,
                until,
                login_every: Duration::from_secs_f64(args.login_every),
                webhook_every: Duration::from_secs_f64(args.webhook_every),
                think: Duration::from_millis(args.think_ms),
            };
            tokio::spawn(client::run(target.clone(), plan, cookie))
        })
        .collect();
    let mut kill = None;
    if let Some((launch, edge)) = crash {
        tokio::time::sleep(Duration::from_secs(seconds) / 2).await;
        kill = Some(restart(target, pid, launch, edge).await?);
    }
    let mut outcome = Outcome::default();
    for task in clients {
        let one = task.await.context("a client panicked")?;
        outcome.stats.merge(one.stats);
        outcome.acked.extend(one.acked);
        outcome.unacked.extend(one.unacked);
    }
    let elapsed = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::SeqCst);
    let memory = sampler.await?;
    let samples: String = memory
        .samples
        .iter()
        .map(|(at, kib)| format!("{at:.1},{kib}\n"))
        .collect();
    std::fs::write(
        args.out.join(format!("rss-{name}.csv")),
        format!("seconds,rss_kib\n{samples}"),
    )?;

    // Stripe retries what got no 2xx: cut off by the kill, or refused.
    let mut redelivery_stats = Stats::default();
    let mut redelivered_duplicates = 0;
    for delivery in &outcome.unacked {
        match client::deliver(target, &mut redelivery_stats, delivery).await {
            Some(receipt) if receipt.acked => {
                redelivered_duplicates += usize::from(receipt.duplicate);
            }
            _ => bail!("{}: redelivery was not acknowledged", delivery.id),
        }
    }
    let all: Vec<&Delivery> = outcome
        .acked
        .iter()
        .map(|(d, _)| d)
        .chain(&outcome.unacked)
        .collect();
    let check = verify::check(&args.db, &all, Duration::from_secs(30)).await?;
    Ok(Phase {
        name,
        seconds: elapsed,
        stats: outcome.stats,
        memory,
        acked: outcome.acked,
        redelivered: outcome.unacked,
        redelivered_duplicates,
        kill,
        check,
    })
}

/// `kill -9` of the edge, then the same edge again on the same port (or any port, if the old
/// one cannot be taken yet); returns when the kill happened.
async fn restart(
    target: &Target,
    pid: &AtomicU32,
    launch: &Launch,
    edge: &mut Option<Edge>,
) -> anyhow::Result<Instant> {
    target.outage.store(true, Ordering::SeqCst);
    target.kills.fetch_add(1, Ordering::SeqCst);
    let old = edge.take().context("no edge to kill")?;
    let port = old.port().to_owned();
    let killed_at = Instant::now();
    old.kill()?;
    let mut fresh = None;
    for attempt in 0..10 {
        match Edge::start(launch, &format!("127.0.0.1:{port}"), attempt + 1).await {
            Ok(started) => {
                fresh = Some(started);
                break;
            }
            Err(error) => {
                eprintln!("soak: restart on port {port}: {error:#}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
    let fresh = match fresh {
        Some(edge) => edge,
        None => Edge::start(launch, "127.0.0.1:0", 99).await?,
    };
    println!(
        "   killed the edge (SIGKILL); back at {} after {:.2} s (pid {})",
        fresh.api,
        killed_at.elapsed().as_secs_f64(),
        fresh.pid
    );
    target.set_api(&fresh.api);
    pid.store(fresh.pid, Ordering::SeqCst);
    if let Ok(mut back) = target.back_at.lock() {
        *back = Some(Instant::now());
    }
    target.outage.store(false, Ordering::SeqCst);
    *edge = Some(fresh);
    Ok(killed_at)
}

/// Samples the edge's resident memory until `stop`.
async fn sample_memory(pid: Arc<AtomicU32>, every: Duration, stop: Arc<AtomicBool>) -> Memory {
    let started = Instant::now();
    let mut memory = Memory::default();
    while !stop.load(Ordering::SeqCst) {
        if let Some(kib) = edge::rss_kib(pid.load(Ordering::SeqCst)) {
            memory.samples.push((started.elapsed().as_secs_f64(), kib));
        }
        tokio::time::sleep(every).await;
    }
    memory
}

/// The report of every phase, and whether every goal held. `setup_rss` is the edge's memory
/// (KiB) once listening and after the password members were created.
fn summarise(
    args: &Args,
    phases: &mut [Phase],
    metrics: &str,
    clean_stop: bool,
    setup_rss: (u64, u64),
) -> (String, bool) {
    let mut out = String::new();
    let mut passed = clean_stop;
    let _ = writeln!(
        out,
        "## {}: {} clients, {} imported members, {} with a password\n",
        args.label, args.clients, args.members, args.password_members
    );
    let _ = writeln!(
        out,
        "Edge RSS when listening: {}; after creating the password members (admin API, 4 at \
         once): {}.\n",
        report::mib(setup_rss.0),
        report::mib(setup_rss.1)
    );
    for phase in phases.iter_mut() {
        let _ = writeln!(
            out,
            "### {} phase, {:.1} s{}\n",
            phase.name,
            phase.seconds,
            if phase.kill.is_some() {
                " (kill -9 half-way, restart)"
            } else {
                ""
            }
        );
        out.push_str(&report::table(&mut phase.stats, phase.seconds));
        let classes = report::classes(&phase.stats);
        let count = |class: &str| classes.get(class).copied().unwrap_or(0);
        let errors = count("error");
        passed &= errors == 0;
        let _ = writeln!(
            out,
            "\n- outcomes: {} ok, {} deliberate 429, {} busy 503 (password check saturated), \
             {} cut by the crash, **{errors} errors**",
            count("ok"),
            count("deliberate"),
            count("busy"),
            count("crash"),
        );
        let memory = &phase.memory;
        let growth = memory.second_half_growth();
        let flat = phase.kill.is_some() || growth < 10.0;
        passed &= flat;
        let _ = writeln!(
            out,
            "- edge RSS: start {}, middle {}, end {}, max {} ({} samples); second half {:+.1}%{}",
            report::mib(memory.start()),
            report::mib(memory.middle()),
            report::mib(memory.end()),
            report::mib(memory.max()),
            memory.samples.len(),
            growth,
            if phase.kill.is_some() {
                " (the restarted process from the kill on)"
            } else if flat {
                ": flat"
            } else {
                ": **GROWING**"
            }
        );
        let check = &phase.check;
        passed &= check.passed();
        let before_kill = phase
            .kill
            .map(|kill| phase.acked.iter().filter(|(_, at)| *at < kill).count());
        let _ = writeln!(
            out,
            "- webhooks: {} acknowledged{}, {} redelivered after the run ({} of them already \
             stored); of all {}: **{} lost**, {} unapplied after 30 s; {} single purchases, \
             {} without exactly one grant",
            phase.acked.len(),
            before_kill.map_or(String::new(), |n| format!(" ({n} before the kill)")),
            phase.redelivered.len(),
            phase.redelivered_duplicates,
            check.checked,
            check.lost.len(),
            check.unapplied.len(),
            check.purchases,
            check.wrong_grants.len(),
        );
        for problem in check
            .lost
            .iter()
            .map(|id| format!("lost: {id}"))
            .chain(check.unapplied.iter().map(|id| format!("unapplied: {id}")))
            .chain(check.wrong_grants.iter().map(|w| format!("grants: {w}")))
            .take(10)
        {
            let _ = writeln!(out, "  - {problem}");
        }
        out.push('\n');
    }
    let wanted = [
        "gatehouse_server_errors_total",
        "gatehouse_rate_limited_total",
        "gatehouse_login_links_sent_total",
        "gatehouse_login_links_withheld_total",
        "gatehouse_webhooks_received_total",
        "gatehouse_webhooks_duplicate_total",
    ];
    let counters: Vec<&str> = metrics
        .lines()
        .filter(|line| wanted.iter().any(|name| line.starts_with(name)))
        .collect();
    let _ = writeln!(
        out,
        "- /metrics of the last edge process at the end: {}",
        counters.join(", ")
    );
    let _ = writeln!(
        out,
        "- SIGTERM at the end: {}",
        if clean_stop {
            "clean exit"
        } else {
            "**unclean exit**"
        }
    );
    let _ = writeln!(
        out,
        "- verdict: {}",
        if passed {
            "every goal met"
        } else {
            "**a goal was missed**"
        }
    );
    (out, passed)
}
