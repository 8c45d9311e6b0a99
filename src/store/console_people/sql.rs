//! The member list's SQL, one static statement per way of reading the list. Every statement
//! applies every filter, with the same thirteen parameters:
//!
//! | | |
//! |---|---|
//! | `$1` level, `$2` status, `$3` bundle | text or NULL (no filter) |
//! | `$4`–`$5` joined, `$6`–`$7` last seen | `[from, until)` in Unix seconds, NULL read as 0 |
//! | `$8`–`$9` email | `[from, until)`: an email prefix as a range on the unique index |
//! | `$10` email, `$11` joined or last seen, `$12` member id | the keyset cursor |
//! | `$13` | how many rows |
//!
//! They differ only in the table a statement starts from (`CROSS JOIN` fixes the order of the
//! loops in SQLite; PostgreSQL plans by itself) and in which terms an index may serve: a term
//! written `+ 0` is a filter only, so the planner cannot pick a plan that looks cheap without
//! the values (SQLite plans before it sees them) and reads every row. Which statement runs is
//! chosen from how many members match (`Start` in the parent module).

/// The filters on `member_state` alone, in forms no index serves.
macro_rules! state_filters {
    () => {
        "($1 IS NULL OR s.level = $1) \
         AND COALESCE(s.joined_at, 0) + 0 >= $4 AND COALESCE(s.joined_at, 0) + 0 < $5 \
         AND COALESCE(s.last_seen, 0) + 0 >= $6 AND COALESCE(s.last_seen, 0) + 0 < $7"
    };
}

/// The status (of the bundle's right when a bundle is asked for, else of the level's) and the
/// bundle, with `b` the member's row of that bundle, if any.
macro_rules! bundle_filters {
    () => {
        " AND ($2 IS NULL OR CASE WHEN $3 IS NULL THEN s.level_status ELSE b.status END = $2) \
         AND ($3 IS NULL OR b.member_id IS NOT NULL)"
    };
}

/// Starting from the emails: the unique index serves the prefix range and the email order.
macro_rules! from_emails {
    () => {
        " FROM members m CROSS JOIN member_state s \
         LEFT JOIN member_bundles b ON b.member_id = m.id AND b.bundle = $3 \
         WHERE s.member_id = m.id AND m.email >= $8 AND m.email < $9 AND "
    };
}

/// Starting from the members' states, along a sort index.
macro_rules! from_states {
    () => {
        " FROM member_state s CROSS JOIN members m \
         LEFT JOIN member_bundles b ON b.member_id = s.member_id AND b.bundle = $3 \
         WHERE m.id = s.member_id AND m.email >= $8 AND m.email < $9 AND "
    };
}

/// The members whose state matches (and level status, when no bundle is asked for), found
/// first and apart: a query on `member_state` alone is one read of the covering index
/// `member_state_by_status`, where joined with the rest SQLite may read the rows through
/// another index instead, a hundred times slower. `f` then starts `from_matching`.
macro_rules! matching_states {
    () => {
        concat!(
            "WITH f AS MATERIALIZED (SELECT s.member_id AS member_id FROM member_state s WHERE ",
            state_filters!(),
            " AND ($2 IS NULL OR $3 IS NOT NULL OR s.level_status = $2)) "
        )
    };
}

macro_rules! from_matching {
    () => {
        " FROM f CROSS JOIN member_state s CROSS JOIN members m \
         LEFT JOIN member_bundles b ON b.member_id = f.member_id AND b.bundle = $3 \
         WHERE s.member_id = f.member_id AND m.id = f.member_id \
         AND m.email >= $8 AND m.email < $9 AND "
    };
}

/// Starting from one bundle's holders.
macro_rules! from_bundle {
    () => {
        " FROM member_bundles b CROSS JOIN member_state s CROSS JOIN members m \
         WHERE b.bundle = $3 AND s.member_id = b.member_id AND m.id = b.member_id \
         AND m.email >= $8 AND m.email < $9 AND "
    };
}

macro_rules! columns {
    () => {
        "SELECT m.id AS id, m.email AS email, s.level AS level, s.level_status AS level_status, \
         s.joined_at AS joined_at, s.last_seen AS last_seen"
    };
}

/// The rows of `$inner` with their bundles, in `$order`. The bundles come as one text per
/// row, each `<length>:<bundle><status>` and spaces between: a bundle id may hold any
/// character, and the length says where it ends. Aggregated here, outside the sort, so only
/// the rows shown pay for it.
macro_rules! with_bundles {
    ($with:expr, $inner:expr, $order:expr) => {
        concat!(
            $with,
            "SELECT p.id AS id, p.email AS email, p.level AS level, \
             p.level_status AS level_status, p.joined_at AS joined_at, p.last_seen AS last_seen, \
             (SELECT string_agg(length(x.bundle) || ':' || x.bundle || x.status, ' ') \
              FROM member_bundles x WHERE x.member_id = p.id) AS bundles \
             FROM (",
            $inner,
            ") p ORDER BY ",
            $order,
            " LIMIT $13"
        )
    };
}

/// Matching rows sorted after the cursor: for a start whose matches are few.
macro_rules! sorted {
    ($with:expr, $from:expr, $after:expr, $order:expr, $outer:expr) => {
        with_bundles!(
            $with,
            concat!(
                columns!(),
                $from,
                state_filters!(),
                bundle_filters!(),
                " AND ",
                $after,
                " ORDER BY ",
                $order,
                " LIMIT $13"
            ),
            $outer
        )
    };
}

/// Rows in the order of a sort index from the cursor on, filtered as they come: for many
/// matches, of which a page is soon found. An index seeks on its first column only, so the
/// rows tied with the cursor's key and those after it are two seeks.
macro_rules! ordered {
    ($key:expr, $from_to:expr, $tied:expr, $after:expr, $order:expr, $outer:expr) => {
        with_bundles!(
            "",
            concat!(
                "SELECT * FROM (",
                columns!(),
                from_states!(),
                state_filters!(),
                bundle_filters!(),
                " AND ",
                $key,
                " = $11 AND ",
                $tied,
                " LIMIT $13) tied UNION ALL SELECT * FROM (",
                columns!(),
                from_states!(),
                state_filters!(),
                bundle_filters!(),
                " AND ",
                $after,
                " AND ",
                $from_to,
                " ORDER BY ",
                $order,
                " LIMIT $13) later"
            ),
            $outer
        )
    };
}

pub(super) const BY_EMAIL: [&str; 2] = [
    sorted!(
        "",
        from_emails!(),
        "m.email > $10",
        "m.email ASC",
        "p.email ASC"
    ),
    sorted!(
        "",
        from_emails!(),
        "m.email < $10",
        "m.email DESC",
        "p.email DESC"
    ),
];
pub(super) const BY_EMAIL_FROM_STATES: [&str; 2] = [
    sorted!(
        matching_states!(),
        from_matching!(),
        "m.email > $10",
        "m.email ASC",
        "p.email ASC"
    ),
    sorted!(
        matching_states!(),
        from_matching!(),
        "m.email < $10",
        "m.email DESC",
        "p.email DESC"
    ),
];
pub(super) const BY_EMAIL_FROM_BUNDLE: [&str; 2] = [
    sorted!(
        "",
        from_bundle!(),
        "m.email > $10",
        "m.email ASC",
        "p.email ASC"
    ),
    sorted!(
        "",
        from_bundle!(),
        "m.email < $10",
        "m.email DESC",
        "p.email DESC"
    ),
];

/// By joined or last seen, ascending then descending, for each start.
macro_rules! by_key {
    ($key:literal, $col:literal, $from_to:literal) => {
        [
            // Ordered along the key's index.
            [
                ordered!(
                    $key,
                    $from_to,
                    "s.member_id > $12 ORDER BY s.member_id ASC",
                    concat!($key, " > $11"),
                    concat!($key, " ASC, s.member_id ASC"),
                    concat!("COALESCE(p.", $col, ", 0) ASC, p.id ASC")
                ),
                ordered!(
                    $key,
                    $from_to,
                    "s.member_id < $12 ORDER BY s.member_id DESC",
                    concat!($key, " < $11"),
                    concat!($key, " DESC, s.member_id DESC"),
                    concat!("COALESCE(p.", $col, ", 0) DESC, p.id DESC")
                ),
            ],
            // Sorted, from the emails, the states and a bundle.
            sorted_by_key!("", from_emails!(), $key, $col),
            sorted_by_key!(matching_states!(), from_matching!(), $key, $col),
            sorted_by_key!("", from_bundle!(), $key, $col),
        ]
    };
}

macro_rules! sorted_by_key {
    ($with:expr, $from:expr, $key:literal, $col:literal) => {
        [
            sorted!(
                $with,
                $from,
                concat!("(", $key, " + 0, s.member_id) > ($11, $12)"),
                concat!($key, " + 0 ASC, s.member_id ASC"),
                concat!("COALESCE(p.", $col, ", 0) ASC, p.id ASC")
            ),
            sorted!(
                $with,
                $from,
                concat!("(", $key, " + 0, s.member_id) < ($11, $12)"),
                concat!($key, " + 0 DESC, s.member_id DESC"),
                concat!("COALESCE(p.", $col, ", 0) DESC, p.id DESC")
            ),
        ]
    };
}

/// `[start][descending]` for the joined date: ordered, then from emails, states, a bundle.
pub(super) const BY_JOINED: [[&str; 2]; 4] = by_key!(
    "COALESCE(s.joined_at, 0)",
    "joined_at",
    "COALESCE(s.joined_at, 0) >= $4 AND COALESCE(s.joined_at, 0) < $5"
);
/// As `BY_JOINED`, for the last-seen day.
pub(super) const BY_LAST_SEEN: [[&str; 2]; 4] = by_key!(
    "COALESCE(s.last_seen, 0)",
    "last_seen",
    "COALESCE(s.last_seen, 0) >= $6 AND COALESCE(s.last_seen, 0) < $7"
);

/// How many members match every filter but the status, per status (of the bundle's right
/// when a bundle is asked for), from the states, a bundle's holders and the emails.
/// The same counts with no filter on the states (the status is not one: it picks which count
/// is the total), or only a level: from `member_state_by_status`, or `member_state_by_level`'s
/// range, with nothing to evaluate per row.
pub(super) const COUNT_ALL: &str =
    "SELECT level_status AS status, COUNT(*) AS n FROM member_state GROUP BY level_status";
pub(super) const COUNT_LEVEL: &str = "SELECT level_status AS status, COUNT(*) AS n \
     FROM member_state WHERE level = $1 GROUP BY level_status";
pub(super) const COUNT_FROM_STATES: &str = concat!(
    "SELECT s.level_status AS status, COUNT(*) AS n FROM member_state s WHERE ",
    state_filters!(),
    " GROUP BY s.level_status"
);
pub(super) const COUNT_FROM_BUNDLE: &str = concat!(
    "SELECT b.status AS status, COUNT(*) AS n \
     FROM member_bundles b CROSS JOIN member_state s \
     WHERE b.bundle = $3 AND s.member_id = b.member_id AND ",
    state_filters!(),
    " GROUP BY b.status"
);
pub(super) const COUNT_FROM_EMAILS: &str = concat!(
    "SELECT CASE WHEN $3 IS NULL THEN s.level_status ELSE b.status END AS status, COUNT(*) AS n",
    from_emails!(),
    state_filters!(),
    " AND ($3 IS NULL OR b.member_id IS NOT NULL) GROUP BY 1"
);

/// The sort keys of one member, to page from.
pub(super) const CURSOR: &str = "SELECT m.email AS email, COALESCE(s.joined_at, 0) AS joined_at, \
     COALESCE(s.last_seen, 0) AS last_seen \
     FROM members m JOIN member_state s ON s.member_id = m.id WHERE m.id = $1";
