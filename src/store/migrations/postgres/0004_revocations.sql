-- Refunds and disputes revoke access (issue 15). Times are Unix seconds.

-- Why a `revoke` event revoked: refunded, disputed or dispute_lost.
ALTER TABLE events ADD COLUMN reason TEXT;

-- What gatehouse knows of each Stripe dispute: the payment it is about (a single purchase by
-- its payment intent, or a subscription) and what that paid for, Stripe's status as of the
-- newest event applied (`last_event_created`), and what was last written into the member's
-- history (`projected`: nothing, `revoked` or `lost`).
CREATE TABLE stripe_disputes (
    id TEXT PRIMARY KEY,
    member_id BIGINT NOT NULL REFERENCES members (id),
    product TEXT NOT NULL,
    payment_intent TEXT,
    subscription TEXT,
    status TEXT NOT NULL,
    last_event_created BIGINT NOT NULL,
    projected TEXT NOT NULL DEFAULT ''
);
CREATE INDEX stripe_disputes_by_member ON stripe_disputes (member_id);

-- Where a magic link was asked for from: a keyed hash of the address's network (IPv4 /24,
-- IPv6 /48), so that one network can spend only its own share of a member's links.
ALTER TABLE login_links ADD COLUMN source_hash TEXT;
