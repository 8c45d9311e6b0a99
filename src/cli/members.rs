//! `gatehouse members add|list|show|grant|revoke|cancel`: manage members in the database.
//!
//! Every change is one event appended to the member's history (source `cli`); the standing
//! printed afterwards is replayed from the stored history by `entitle`, exactly as the edge
//! server will see it.

use std::fmt::Write as _;
use std::io::BufRead as _;
use std::path::Path;

use anyhow::{Context, anyhow, bail};
use jiff::Timestamp;
use serde_json::{Value, json};

use super::db::DbArgs;
use crate::config::SiteConfig;
use crate::entitle::{
    Basis, EventRecord, EventType, Grant, RightView, Standing, Status, Timeline, grant_text,
    parse_grant,
};
use crate::store::{Member, NewMember, Store, StoreError, StoredEvent};

/// The `source` recorded with every event this command stores.
const SOURCE: &str = "cli";

#[derive(Debug, clap::Args)]
// `--db` may be written before or after the subcommand.
#[command(mut_arg("db", |arg| arg.global(true)))]
pub struct MembersArgs {
    #[command(flatten)]
    pub db: DbArgs,

    #[command(subcommand)]
    pub command: MembersCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum MembersCommand {
    /// Add a member on a level, with optional bundles and password.
    Add(AddArgs),
    /// List every member: email, level, status, bundles and since when.
    List(ListArgs),
    /// Show one member: their standing now and their full history.
    Show(ShowArgs),
    /// Give a member a level (replacing theirs) or a bundle.
    Grant(GrantArgs),
    /// Take a level or bundle away at once (no paid-up period is honoured). Under
    /// `cancellation = "keep-unlocked"` what had dripped stays open, unless --refunded.
    Revoke(RevokeArgs),
    /// Cancel a member's level (or a bundle) as a subscriber would; recurring access can stay
    /// open until --until.
    Cancel(CancelArgs),
    /// Log a member out everywhere: end every session of theirs, on every device. They can log
    /// in again (use it after a shared or stolen login).
    Logout(LogoutArgs),
    /// Bring members over from another membership system: a CSV file, checked whole, then
    /// imported all or nothing.
    Import(super::members_import::ImportArgs),
}

#[derive(Debug, clap::Args)]
pub struct AddArgs {
    /// The member's email address (stored trimmed and lowercased).
    #[arg(value_name = "EMAIL")]
    pub email: String,

    /// The member's level, one of the level ids in site.toml.
    #[arg(long, value_name = "ID")]
    pub level: String,

    /// When the membership began: `2026-10-01` (midnight UTC) or an RFC 3339 time. Back-dates
    /// the level and bundles, so drip counts from then. Default: now.
    #[arg(long, value_name = "DATE", value_parser = parse_when)]
    pub since: Option<Timestamp>,

    /// A bundle the member holds, one of the bundle ids in site.toml (repeat for several).
    #[arg(long = "bundle", value_name = "ID")]
    pub bundles: Vec<String>,

    /// Read the member's password from the first line of standard input (stored as an
    /// Argon2id hash), e.g. `printf '%s\n' "$PW" | gatehouse members add …`.
    #[arg(long)]
    pub password_stdin: bool,
}

#[derive(Debug, clap::Args)]
pub struct LogoutArgs {
    /// The member's email address.
    #[arg(value_name = "EMAIL")]
    pub email: String,
}

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// The member's email address.
    #[arg(value_name = "EMAIL")]
    pub email: String,

    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Exactly one of `--level ID` and `--bundle ID`.
#[derive(Debug, clap::Args)]
#[group(required = true, multiple = false)]
pub struct Access {
    /// A level id from site.toml.
    #[arg(long, value_name = "ID")]
    pub level: Option<String>,

    /// A bundle id from site.toml.
    #[arg(long, value_name = "ID")]
    pub bundle: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct GrantArgs {
    /// The member's email address.
    #[arg(value_name = "EMAIL")]
    pub email: String,

    #[command(flatten)]
    pub access: Access,

    /// When the grant takes effect: `2026-10-01` (midnight UTC) or an RFC 3339 time.
    /// Default: now.
    #[arg(long, value_name = "DATE", value_parser = parse_when)]
    pub at: Option<Timestamp>,

    /// Record the grant as complimentary (paid for by nobody; a later cancel is immediate).
    /// Without it, the grant is paid on the basis site.toml implies for it.
    #[arg(long)]
    pub complimentary: bool,
}

#[derive(Debug, clap::Args)]
pub struct RevokeArgs {
    /// The member's email address.
    #[arg(value_name = "EMAIL")]
    pub email: String,

    #[command(flatten)]
    pub access: Access,

    /// When the right ends: `2026-10-01` (midnight UTC) or an RFC 3339 time. Default: now.
    #[arg(long, value_name = "DATE", value_parser = parse_when)]
    pub at: Option<Timestamp>,

    /// The right was refunded in full outside Stripe: record a revocation, which
    /// `cancellation = "keep-unlocked"` does not honour (nothing that had dripped stays open).
    #[arg(long)]
    pub refunded: bool,
}

#[derive(Debug, clap::Args)]
pub struct CancelArgs {
    /// The member's email address.
    #[arg(value_name = "EMAIL")]
    pub email: String,

    /// Cancel this bundle instead of the member's level.
    #[arg(long, value_name = "ID")]
    pub bundle: Option<String>,

    /// Keep recurring access (a subscription or unfinished payment plan) open until this
    /// time, as pending-cancel: `2026-10-01` (midnight UTC) or an RFC 3339 time. Other access
    /// cancels at once.
    #[arg(long, value_name = "DATE", value_parser = parse_when)]
    pub until: Option<Timestamp>,

    /// When the cancellation was made: `2026-10-01` (midnight UTC) or an RFC 3339 time.
    /// Default: now.
    #[arg(long, value_name = "DATE", value_parser = parse_when)]
    pub at: Option<Timestamp>,
}

pub fn run(root: &Path, args: MembersArgs) -> anyhow::Result<()> {
    let config = crate::config::load(root)?;
    let url = args.db.url(root);
    let runtime = super::db::runtime()?;
    runtime.block_on(async {
        let store = Store::open(&url).await?;
        let result = match args.command {
            MembersCommand::Add(args) => add(&store, &config, args).await,
            MembersCommand::List(args) => list(&store, &config, &args).await,
            MembersCommand::Show(args) => show(&store, &config, &args).await,
            MembersCommand::Grant(args) => grant(&store, &config, args).await,
            MembersCommand::Revoke(args) => revoke(&store, &config, args).await,
            MembersCommand::Cancel(args) => cancel(&store, &config, args).await,
            MembersCommand::Logout(args) => logout(&store, &args).await,
            MembersCommand::Import(args) => {
                super::members_import::import(&store, &config, &args).await
            }
        };
        store.close().await;
        result
    })
}

// ---------------------------------------------------------------------------------------------
// Commands
// ---------------------------------------------------------------------------------------------

async fn add(store: &Store, config: &SiteConfig, args: AddArgs) -> anyhow::Result<()> {
    let email = crate::email::normalize_email(&args.email)?;
    let now = now();
    let since = args.since.unwrap_or(now);
    let level = level_grant(&args.level, config)?;
    let mut events = vec![record(
        EventType::LevelSet,
        Some(level),
        since,
        None,
        config,
    )?];
    for id in &args.bundles {
        let bundle = bundle_grant(id, config)?;
        if events.iter().any(|e| e.access.as_ref() == Some(&bundle)) {
            bail!("--bundle {id} is given twice");
        }
        events.push(record(
            EventType::BundleAdd,
            Some(bundle),
            since,
            None,
            config,
        )?);
    }
    // Hashed before anything is stored, so a refused password changes nothing.
    let password_hash = if args.password_stdin {
        let password = read_password()?;
        Some(crate::server::password::hash(&password).context("--password-stdin")?)
    } else {
        None
    };

    if store.member_by_email(&email).await?.is_some() {
        bail!(exists_message(&email));
    }
    let new = NewMember {
        email: email.clone(),
        password_hash,
        events,
        source: SOURCE.to_owned(),
        announce: true,
    };
    let member = match store.create_member(&new, now).await {
        Ok(member) => member,
        Err(StoreError::MemberExists(_)) => bail!(exists_message(&email)),
        Err(error) => return Err(error).with_context(|| format!("could not add {email}")),
    };
    let standing = standing_now(store, config, &member, now).await?;
    let password = if new.password_hash.is_some() {
        " (password set)"
    } else {
        ""
    };
    println!(
        "Added {email}{password}: {}{}",
        summary(&standing),
        scheduled(since, now)
    );
    Ok(())
}

async fn list(store: &Store, config: &SiteConfig, args: &ListArgs) -> anyhow::Result<()> {
    let now = now();
    let members = store
        .members()
        .await
        .context("could not list the members")?;
    let mut rows = Vec::with_capacity(members.len());
    for member in &members {
        let history = history_of(store, member).await?;
        let standing = replay(&history, now, config);
        rows.push((member, member_since(member, &history), standing));
    }

    if args.json {
        let members: Vec<Value> = rows
            .iter()
            .map(|(member, since, standing)| {
                json!({
                    "email": member.email,
                    "since": since.to_string(),
                    "created_at": member.created_at.to_string(),
                    "level": standing.level.as_ref().map(right_json),
                    "bundles": standing.bundles.iter().map(right_json).collect::<Vec<_>>(),
                })
            })
            .collect();
        let json = serde_json::to_string_pretty(&members)?;
        return super::print_to_stdout(&format!("{json}\n"));
    }
    if rows.is_empty() {
        println!("No members yet: add one with `gatehouse members add EMAIL --level ID`.");
        return Ok(());
    }
    let mut table = vec![row(["EMAIL", "LEVEL", "STATUS", "BUNDLES", "SINCE"])];
    for (member, since, standing) in &rows {
        let (level, status) = match &standing.level {
            Some(view) => (grant_id(&view.grant).to_owned(), status_text(view.status)),
            None => ("-".to_owned(), "-".to_owned()),
        };
        let bundles = if standing.bundles.is_empty() {
            "-".to_owned()
        } else {
            standing
                .bundles
                .iter()
                .map(|b| format!("{}:{}", grant_id(&b.grant), status_text(b.status)))
                .collect::<Vec<_>>()
                .join(", ")
        };
        table.push(vec![
            member.email.clone(),
            level,
            status,
            bundles,
            date_of(*since),
        ]);
    }
    super::print_to_stdout(&render_table(&table))
}

async fn show(store: &Store, config: &SiteConfig, args: &ShowArgs) -> anyhow::Result<()> {
    let now = now();
    let member = find_member(store, &args.email).await?;
    let history = history_of(store, &member).await?;
    let standing = replay(&history, now, config);
    let since = member_since(&member, &history);

    if args.json {
        let value = json!({
            "email": member.email,
            "since": since.to_string(),
            "created_at": member.created_at.to_string(),
            "password": member.password_hash.is_some(),
            "standing": {
                "at": now.to_string(),
                "level": standing.level.as_ref().map(right_json),
                "bundles": standing.bundles.iter().map(right_json).collect::<Vec<_>>(),
            },
            "history": history.iter().map(event_json).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(());
    }

    let mut out = String::new();
    let password = if member.password_hash.is_some() {
        "set"
    } else {
        "not set (magic links only)"
    };
    writeln!(out, "{}", member.email)?;
    writeln!(out, "  member since  {since}")?;
    writeln!(out, "  added         {}", member.created_at)?;
    writeln!(out, "  password      {password}")?;
    writeln!(out)?;
    writeln!(out, "Standing now ({now}):")?;
    let mut rights = vec![row(["RIGHT", "STATUS", "BASIS", "SINCE", "EXPIRES"])];
    rights.extend(standing.level.iter().chain(&standing.bundles).map(|view| {
        vec![
            grant_text(&view.grant),
            status_text(view.status),
            view.basis.name().to_owned(),
            view.since.to_string(),
            view.expires_at
                .map_or_else(|| "-".to_owned(), |t| t.to_string()),
        ]
    }));
    if rights.len() == 1 {
        writeln!(out, "  no level and no bundles")?;
    } else {
        out.push_str(&indent(&render_table(&rights)));
    }
    writeln!(out)?;
    writeln!(out, "History ({} events):", history.len())?;
    let mut events = vec![row(["TIME", "TYPE", "ACCESS", "BASIS", "UNTIL", "SOURCE"])];
    events.extend(history.iter().map(|event| {
        let record = &event.record;
        vec![
            record.at.to_string(),
            record.kind.name().to_owned(),
            record
                .access
                .as_ref()
                .map_or_else(|| "-".to_owned(), grant_text),
            record.basis.map_or("-", Basis::name).to_owned(),
            record
                .until
                .map_or_else(|| "-".to_owned(), |t| t.to_string()),
            event.source.clone(),
        ]
    }));
    out.push_str(&indent(&render_table(&events)));
    print!("{out}");
    Ok(())
}

async fn grant(store: &Store, config: &SiteConfig, args: GrantArgs) -> anyhow::Result<()> {
    let access = access_grant(&args.access, config)?;
    let now = now();
    let at = args.at.unwrap_or(now);
    let member = find_member(store, &args.email).await?;
    let kind = match (&access, args.complimentary) {
        (_, true) => EventType::Complimentary,
        (Grant::Level(_), false) => EventType::LevelSet,
        (Grant::Bundle(_), false) => EventType::BundleAdd,
    };
    let event = record(kind, Some(access.clone()), at, None, config)?;
    append(store, &member, &event, now).await?;
    let standing = standing_now(store, config, &member, now).await?;
    let held_now = standing
        .level
        .iter()
        .chain(&standing.bundles)
        .any(|view| view.grant == access && view.status.holds());
    if at <= now && !held_now {
        eprintln!(
            "note: later events in {}'s history override this grant at {at}: see gatehouse \
             members show {}",
            member.email, member.email
        );
    }
    let how = if args.complimentary {
        " (complimentary)"
    } else {
        ""
    };
    println!(
        "Granted {}{how} to {}: now {}{}",
        right_name(&access),
        member.email,
        summary(&standing),
        scheduled(at, now)
    );
    Ok(())
}

async fn revoke(store: &Store, config: &SiteConfig, args: RevokeArgs) -> anyhow::Result<()> {
    let access = access_grant(&args.access, config)?;
    let now = now();
    let at = args.at.unwrap_or(now);
    let member = find_member(store, &args.email).await?;
    let history = history_of(store, &member).await?;
    require_held(&member, &history, &access, at, config)?;
    let event = if args.refunded {
        crate::entitle::EventRecord::revoke(
            Some(access.clone()),
            crate::entitle::Revocation::Refunded,
            at,
        )
    } else {
        let kind = match access {
            Grant::Level(_) => EventType::Cancel,
            Grant::Bundle(_) => EventType::BundleCancel,
        };
        record(kind, Some(access.clone()), at, None, config)?
    };
    append(store, &member, &event, now).await?;
    let standing = standing_now(store, config, &member, now).await?;
    println!(
        "Revoked {} from {}: now {}{}",
        right_name(&access),
        member.email,
        summary(&standing),
        scheduled(at, now)
    );
    Ok(())
}

async fn cancel(store: &Store, config: &SiteConfig, args: CancelArgs) -> anyhow::Result<()> {
    let bundle = args
        .bundle
        .as_deref()
        .map(|id| bundle_grant(id, config))
        .transpose()?;
    let now = now();
    let at = args.at.unwrap_or(now);
    if let Some(until) = args.until
        && until <= at
    {
        bail!(
            "--until {until} is not later than the cancellation ({at}): leave --until out to \
             cancel at once"
        );
    }
    let member = find_member(store, &args.email).await?;
    let history = history_of(store, &member).await?;
    let (access, kind) = match bundle {
        Some(bundle) => (bundle, EventType::BundleCancel),
        None => {
            let standing = replay(&history, at, config);
            let Some(level) = standing.level else {
                bail!("{} has no level to cancel", member.email);
            };
            (level.grant, EventType::Cancel)
        }
    };
    require_held(&member, &history, &access, at, config)?;
    let event = record(kind, Some(access.clone()), at, args.until, config)?;
    append(store, &member, &event, now).await?;
    let standing = standing_now(store, config, &member, now).await?;
    println!(
        "Cancelled {} for {}: now {}{}",
        right_name(&access),
        member.email,
        summary(&standing),
        scheduled(at, now)
    );
    if args.until.is_some() && at <= now {
        let after = replay(&history_with(&history, &event), at, config);
        let cancelled_at_once = after
            .level
            .iter()
            .chain(&after.bundles)
            .any(|view| view.grant == access && view.status == Status::Cancelled);
        let before = replay(&history, at, config);
        let was_overdue = before
            .level
            .iter()
            .chain(&before.bundles)
            .any(|view| view.grant == access && view.status == Status::Overdue);
        let why = if was_overdue {
            "is overdue"
        } else {
            "is not recurring access (a subscription or an unfinished payment plan)"
        };
        if cancelled_at_once {
            eprintln!(
                "note: {}'s {} {why}, so --until does not apply: it is cancelled at once",
                member.email,
                right_name(&access),
            );
        }
    }
    Ok(())
}

async fn logout(store: &Store, args: &LogoutArgs) -> anyhow::Result<()> {
    let member = find_member(store, &args.email).await?;
    let ended = store
        .delete_member_sessions(member.id)
        .await
        .with_context(|| format!("could not log {} out", member.email))?;
    // A running edge keeps a member's history for at most a second (its session cache), so
    // the sessions stop working within that second.
    println!(
        "Logged {} out everywhere: {ended} session{} ended.",
        member.email,
        if ended == 1 { "" } else { "s" }
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Members, events and standing
// ---------------------------------------------------------------------------------------------

/// Whole seconds, as the store keeps them, so what is printed matches what is stored.
fn now() -> Timestamp {
    Timestamp::from_second(Timestamp::now().as_second()).unwrap_or_else(|_| Timestamp::now())
}

async fn find_member(store: &Store, email: &str) -> anyhow::Result<Member> {
    let email = email.trim().to_lowercase();
    store
        .member_by_email(&email)
        .await
        .with_context(|| format!("could not look up {email}"))?
        .ok_or_else(|| anyhow!("no member with email {email} (see gatehouse members list)"))
}

async fn history_of(store: &Store, member: &Member) -> anyhow::Result<Vec<StoredEvent>> {
    store
        .history(member.id)
        .await
        .with_context(|| format!("could not read the history of {}", member.email))
}

async fn append(
    store: &Store,
    member: &Member,
    event: &EventRecord,
    now: Timestamp,
) -> anyhow::Result<()> {
    store
        .append_event(member.id, event, SOURCE, now)
        .await
        .with_context(|| format!("could not record `{}` for {}", event.kind, member.email))?;
    Ok(())
}

/// The member's standing now, replayed from the stored history.
async fn standing_now(
    store: &Store,
    config: &SiteConfig,
    member: &Member,
    now: Timestamp,
) -> anyhow::Result<Standing> {
    let history = history_of(store, member).await?;
    Ok(replay(&history, now, config))
}

fn replay(history: &[StoredEvent], at: Timestamp, config: &SiteConfig) -> Standing {
    let events: Vec<_> = history.iter().filter_map(|e| e.record.to_event()).collect();
    Timeline::replay(&events, at, config).standing(config)
}

fn history_with(history: &[StoredEvent], event: &EventRecord) -> Vec<StoredEvent> {
    let mut all = history.to_vec();
    all.push(StoredEvent {
        id: i64::MAX,
        record: event.clone(),
        source: SOURCE.to_owned(),
        recorded_at: event.at,
    });
    all
}

/// The earliest event of the member's history (`add --since` back-dates it), or when the
/// member was added.
fn member_since(member: &Member, history: &[StoredEvent]) -> Timestamp {
    history
        .iter()
        .map(|e| e.record.at)
        .min()
        .map_or(member.created_at, |first| first.min(member.created_at))
}

/// Refuses to revoke or cancel a right the member does not hold at `at`: the event would
/// change nothing, and an operator who typed it expected it to.
fn require_held(
    member: &Member,
    history: &[StoredEvent],
    access: &Grant,
    at: Timestamp,
    config: &SiteConfig,
) -> anyhow::Result<()> {
    let standing = replay(history, at, config);
    let when = if at < now() {
        format!(" at {at}")
    } else {
        String::new()
    };
    match access {
        Grant::Level(id) => match &standing.level {
            Some(view) if grant_id(&view.grant) == id && view.status.holds() => Ok(()),
            Some(view) if grant_id(&view.grant) == id => bail!(
                "{}'s level {id} is already {}{when}",
                member.email,
                status_text(view.status)
            ),
            Some(view) => bail!(
                "{} is not on level {id}{when}: their level is {} ({})",
                member.email,
                grant_id(&view.grant),
                status_text(view.status)
            ),
            None => bail!("{} has no level{when}", member.email),
        },
        Grant::Bundle(id) => match standing.bundles.iter().find(|v| grant_id(&v.grant) == id) {
            Some(view) if view.status.holds() => Ok(()),
            Some(view) => bail!(
                "{}'s bundle {id} is already {}{when}",
                member.email,
                status_text(view.status)
            ),
            None => bail!("{} does not hold bundle {id}{when}", member.email),
        },
    }
}

fn record(
    kind: EventType,
    access: Option<Grant>,
    at: Timestamp,
    until: Option<Timestamp>,
    config: &SiteConfig,
) -> anyhow::Result<EventRecord> {
    EventRecord::new(kind, access, at, until, None, config)
        .with_context(|| format!("cannot record a `{kind}` event"))
}

fn access_grant(access: &Access, config: &SiteConfig) -> anyhow::Result<Grant> {
    match (&access.level, &access.bundle) {
        (Some(level), None) => level_grant(level, config),
        (None, Some(bundle)) => bundle_grant(bundle, config),
        _ => bail!("give exactly one of --level ID and --bundle ID"),
    }
}

fn level_grant(id: &str, config: &SiteConfig) -> anyhow::Result<Grant> {
    parse_grant(&format!("level:{id}"), config).map_err(|_| {
        anyhow!(
            "unknown level `{id}`{}",
            known_ids(id, "levels", config.level_ids())
        )
    })
}

fn bundle_grant(id: &str, config: &SiteConfig) -> anyhow::Result<Grant> {
    parse_grant(&format!("bundle:{id}"), config).map_err(|_| {
        anyhow!(
            "unknown bundle `{id}`{}",
            known_ids(id, "bundles", config.bundle_ids())
        )
    })
}

/// ` (did you mean `x`?); site.toml defines the levels: a, b`.
fn known_ids<'a>(unknown: &str, what: &str, ids: impl Iterator<Item = &'a str> + Clone) -> String {
    let mut text = String::new();
    if let Some(best) = crate::suggest::closest(unknown, ids.clone()) {
        text.push_str(&format!(" (did you mean `{best}`?)"));
    }
    let known: Vec<&str> = ids.collect();
    if known.is_empty() {
        text.push_str(&format!("; site.toml defines no {what}"));
    } else {
        text.push_str(&format!(
            "; site.toml defines the {what}: {}",
            known.join(", ")
        ));
    }
    text
}

fn exists_message(email: &str) -> String {
    format!(
        "a member with email {email} already exists (see gatehouse members show {email}; change \
         their access with gatehouse members grant)"
    )
}

/// One line of standard input, without its line ending.
fn read_password() -> anyhow::Result<String> {
    let mut line = String::new();
    let read = std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("--password-stdin: could not read standard input")?;
    if read == 0 {
        bail!(
            "--password-stdin: standard input is empty; pipe the password in, e.g. `printf '%s\\n' \"$PW\" | gatehouse members add …`"
        );
    }
    let password = line.strip_suffix('\n').unwrap_or(&line);
    let password = password.strip_suffix('\r').unwrap_or(password);
    if password.is_empty() {
        bail!("--password-stdin: the password on standard input is empty");
    }
    Ok(password.to_owned())
}

/// Accepts `2026-10-01` (midnight UTC) or an RFC 3339 time such as `2026-10-01T09:30:00Z`, in
/// whole seconds as the store keeps them.
fn parse_when(text: &str) -> Result<Timestamp, String> {
    let at = crate::instant::parse_instant(text).map_err(|e| e.to_string())?;
    Timestamp::from_second(at.as_second()).map_err(|e| format!("`{}`: {e}", text.trim()))
}

// ---------------------------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------------------------

fn grant_id(grant: &Grant) -> &str {
    match grant {
        Grant::Level(id) | Grant::Bundle(id) => id,
    }
}

fn right_name(grant: &Grant) -> String {
    match grant {
        Grant::Level(id) => format!("level {id}"),
        Grant::Bundle(id) => format!("bundle {id}"),
    }
}

fn status_text(status: Status) -> String {
    match status {
        Status::PendingCancel { until } => format!("pending-cancel until {until}"),
        Status::Revoked(reason) => format!("revoked ({})", reason.name()),
        other => other.name().to_owned(),
    }
}

/// `gold (active); bundles: a (active), b (cancelled)`.
fn summary(standing: &Standing) -> String {
    let level = match &standing.level {
        Some(view) => format!(
            "{} ({}{})",
            grant_id(&view.grant),
            status_text(view.status),
            expires(view)
        ),
        None => "no level".to_owned(),
    };
    if standing.bundles.is_empty() {
        return format!("{level}; no bundles");
    }
    let bundles: Vec<String> = standing
        .bundles
        .iter()
        .map(|view| {
            format!(
                "{} ({}{})",
                grant_id(&view.grant),
                status_text(view.status),
                expires(view)
            )
        })
        .collect();
    format!("{level}; bundles: {}", bundles.join(", "))
}

fn expires(view: &RightView) -> String {
    view.expires_at
        .map_or_else(String::new, |at| format!(", expires {at}"))
}

fn scheduled(at: Timestamp, now: Timestamp) -> String {
    if at > now {
        format!(" (the change takes effect at {at})")
    } else {
        String::new()
    }
}

fn right_json(view: &RightView) -> Value {
    let until = match view.status {
        Status::PendingCancel { until } => Some(until.to_string()),
        _ => None,
    };
    json!({
        "id": grant_id(&view.grant),
        "access": grant_text(&view.grant),
        "status": view.status.name(),
        "until": until,
        "basis": view.basis.name(),
        "since": view.since.to_string(),
        "granted_at": view.granted_at.to_string(),
        "expires_at": view.expires_at.map(|t| t.to_string()),
    })
}

fn event_json(event: &StoredEvent) -> Value {
    let record = &event.record;
    json!({
        "at": record.at.to_string(),
        "type": record.kind.name(),
        "access": record.access.as_ref().map(grant_text),
        "basis": record.basis.map(Basis::name),
        "until": record.until.map(|t| t.to_string()),
        "source": event.source,
        "recorded_at": event.recorded_at.to_string(),
    })
}

fn date_of(at: Timestamp) -> String {
    at.to_zoned(jiff::tz::TimeZone::UTC).date().to_string()
}

fn row<const N: usize>(cells: [&str; N]) -> Vec<String> {
    cells.iter().map(|&c| c.to_owned()).collect()
}

/// Left-aligned columns, two spaces apart, no trailing spaces.
fn render_table(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|i| {
            rows.iter()
                .filter_map(|r| r.get(i))
                .map(|c| c.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for cells in rows {
        let mut line = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            line.push_str(cell);
            let pad = widths[i].saturating_sub(cell.chars().count());
            line.extend(std::iter::repeat_n(' ', pad));
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn indent(text: &str) -> String {
    text.lines().map(|line| format!("  {line}\n")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_midnight_utc_and_times_are_whole_seconds() {
        assert_eq!(
            parse_when("2026-10-01").unwrap().to_string(),
            "2026-10-01T00:00:00Z"
        );
        assert_eq!(
            parse_when("2026-10-01T09:30:00.75+02:00")
                .unwrap()
                .to_string(),
            "2026-10-01T07:30:00Z"
        );
        assert!(parse_when("2026-13-01").unwrap_err().contains("2026-10-01"));
    }

    #[test]
    fn tables_align_without_trailing_spaces() {
        let table = render_table(&[row(["A", "BB"]), row(["ccc", "d"])]);
        assert_eq!(table, "A    BB\nccc  d\n");
    }
}
