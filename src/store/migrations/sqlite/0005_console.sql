-- The operator console (issue 17). Times are Unix seconds.

-- Operators' magic links and sessions, apart from members': an operator is an email listed in
-- site.toml's [admin] emails, not a member. Tokens are stored only as SHA-256 hashes.
CREATE TABLE operator_links (
    token_hash TEXT PRIMARY KEY,
    email TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER
);
CREATE INDEX operator_links_by_email ON operator_links (email, created_at);

CREATE TABLE operator_sessions (
    token_hash TEXT PRIMARY KEY,
    email TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX operator_sessions_by_email ON operator_sessions (email);

-- "View the site as this member": an operator's browser holds a preview cookie whose token
-- makes /keys and /me answer as that member, read-only, for a short while, and only while the
-- console session that started it (`session_hash`) lives.
CREATE TABLE preview_sessions (
    token_hash TEXT PRIMARY KEY,
    operator TEXT NOT NULL,
    session_hash TEXT NOT NULL,
    member_id INTEGER NOT NULL REFERENCES members (id),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);

-- What operators did, and who: every console action, login and logout. `detail` is JSON.
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL,
    operator TEXT NOT NULL,
    action TEXT NOT NULL,
    member_id INTEGER REFERENCES members (id),
    detail TEXT NOT NULL
);
CREATE INDEX audit_log_by_member ON audit_log (member_id, id);

-- Each member's rights as of their last check, in columns the member list can filter and sort
-- on (the standing JSON beside them is what notices compare). Written with the standing, so it
-- is never older than the newest check; `last_seen` is the start of the last day a member's
-- session was used (NULL: never), `joined_at` the date of their first event (NULL until their
-- first check).
ALTER TABLE member_state ADD COLUMN level TEXT;
ALTER TABLE member_state ADD COLUMN level_status TEXT;
ALTER TABLE member_state ADD COLUMN joined_at INTEGER;
ALTER TABLE member_state ADD COLUMN last_seen INTEGER;
CREATE INDEX member_state_by_level ON member_state (level, level_status, member_id);
-- Holds every column the member list filters on: a list or count filtered by level, status,
-- joined or last seen reads this index alone, never the rows (whose standing JSON is large).
CREATE INDEX member_state_by_status ON member_state (level_status, level, joined_at, last_seen, member_id);
-- The list sorts (and pages) by these, NULL as 0, in the same expressions (store/console_people.rs).
CREATE INDEX member_state_by_joined ON member_state ((COALESCE(joined_at, 0)), member_id);
CREATE INDEX member_state_by_last_seen ON member_state ((COALESCE(last_seen, 0)), member_id);

CREATE TABLE member_bundles (
    member_id INTEGER NOT NULL REFERENCES members (id),
    bundle TEXT NOT NULL,
    status TEXT NOT NULL,
    PRIMARY KEY (member_id, bundle)
);
CREATE INDEX member_bundles_by_bundle ON member_bundles (bundle, status, member_id);

-- The dashboard's weekly series and churn read events by kind and date; the payments page lists
-- Stripe events newest first.
CREATE INDEX events_by_kind ON events (kind, at, until, member_id);
CREATE INDEX stripe_events_by_received ON stripe_events (received_at, id);

UPDATE member_state SET last_seen = (SELECT MAX(day) * 86400 FROM member_ips WHERE member_ips.member_id = member_state.member_id);
-- Every member is checked again, which fills the new columns in. Only the columns: a standing
-- that has not changed announces nothing (notify::check_member compares it with the one kept).
UPDATE member_state SET next_check = 0;
