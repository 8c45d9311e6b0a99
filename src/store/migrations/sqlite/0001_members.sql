-- Members and their append-only history (DESIGN §5, §6). Times are Unix seconds.
CREATE TABLE members (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    email TEXT NOT NULL UNIQUE,
    password_hash TEXT,
    created_at INTEGER NOT NULL
);

CREATE TABLE events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    member_id INTEGER NOT NULL REFERENCES members (id),
    kind TEXT NOT NULL,
    access TEXT,
    basis TEXT,
    at INTEGER NOT NULL,
    until INTEGER,
    source TEXT NOT NULL,
    recorded_at INTEGER NOT NULL
);
CREATE INDEX events_by_member ON events (member_id, id);

-- Magic links, stored only as SHA-256 hashes of their tokens.
CREATE TABLE login_links (
    token_hash TEXT PRIMARY KEY,
    member_id INTEGER NOT NULL REFERENCES members (id),
    next_path TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER
);
CREATE INDEX login_links_by_member ON login_links (member_id, created_at);

-- Sessions, stored only as SHA-256 hashes of their cookie tokens.
CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    member_id INTEGER NOT NULL REFERENCES members (id),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX sessions_by_member ON sessions (member_id);

-- Distinct client addresses per member per day (keyed hashes, not addresses): a sharing signal.
CREATE TABLE member_ips (
    member_id INTEGER NOT NULL REFERENCES members (id),
    day INTEGER NOT NULL,
    ip_hash TEXT NOT NULL,
    PRIMARY KEY (member_id, day, ip_hash)
);
