-- Payments, push notifications and scheduled transitions (issue 5). Times are Unix seconds.

-- Every Stripe event, stored before it is acknowledged and applied exactly once after.
CREATE TABLE stripe_events (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    created INTEGER NOT NULL,
    payload TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    applied_at INTEGER,
    outcome TEXT
);
CREATE INDEX stripe_events_pending ON stripe_events (applied_at, created);

-- What gatehouse knows of each Stripe subscription: its state as of the newest event applied
-- (`last_event_created`), and the state last written into the member's history (`projected`).
CREATE TABLE stripe_subscriptions (
    id TEXT PRIMARY KEY,
    customer TEXT,
    product TEXT,
    member_id INTEGER REFERENCES members (id),
    -- The buyer's address while no member is made yet: one is made only once the
    -- subscription maps to a product of this site.
    email TEXT,
    state TEXT NOT NULL,
    until INTEGER,
    paid_in_full INTEGER NOT NULL DEFAULT 0,
    last_event_created INTEGER NOT NULL,
    projected TEXT NOT NULL DEFAULT ''
);
CREATE INDEX stripe_subscriptions_by_customer ON stripe_subscriptions (customer);
CREATE INDEX stripe_subscriptions_by_member ON stripe_subscriptions (member_id);

-- Which member a Stripe customer is.
CREATE TABLE stripe_customers (
    id TEXT PRIMARY KEY,
    member_id INTEGER NOT NULL REFERENCES members (id)
);

-- Paid invoices of subscriptions: payment plans count them, refunds find them.
CREATE TABLE stripe_invoices (
    id TEXT PRIMARY KEY,
    subscription TEXT NOT NULL,
    amount_paid INTEGER NOT NULL,
    payment_intent TEXT,
    charge TEXT,
    refunded INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX stripe_invoices_by_subscription ON stripe_invoices (subscription);
CREATE INDEX stripe_invoices_by_payment_intent ON stripe_invoices (payment_intent);
CREATE INDEX stripe_invoices_by_charge ON stripe_invoices (charge);

-- Which payment intent paid which invoice: from 2025-03-31 ("basil") invoices and charges no
-- longer name each other, and `invoice_payment.paid` is what links them.
CREATE TABLE stripe_invoice_payments (
    payment_intent TEXT PRIMARY KEY,
    invoice TEXT NOT NULL
);

-- Single purchases, by payment intent, so that a refund finds what it paid for.
CREATE TABLE stripe_purchases (
    payment_intent TEXT PRIMARY KEY,
    member_id INTEGER NOT NULL REFERENCES members (id),
    product TEXT NOT NULL,
    amount INTEGER NOT NULL,
    refunded INTEGER NOT NULL DEFAULT 0
);

-- Each member's standing as last announced. `standing` NULL: not yet seen (announce nothing,
-- only remember); `next_check` is when it may next change by itself, 0 after any new event.
-- `version` guards against two replicas announcing one change twice.
CREATE TABLE member_state (
    member_id INTEGER PRIMARY KEY REFERENCES members (id),
    standing TEXT,
    next_check INTEGER NOT NULL,
    version INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX member_state_due ON member_state (next_check);
INSERT INTO member_state (member_id, standing, next_check) SELECT id, NULL, 0 FROM members;

-- Member events (joined, level changed, …) as announced, and their deliveries: one row per
-- push endpoint or welcome email, retried with backoff until delivered.
CREATE TABLE notices (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    member_id INTEGER NOT NULL REFERENCES members (id),
    kind TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX notices_by_member ON notices (member_id, id);

CREATE TABLE deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    notice_id INTEGER NOT NULL REFERENCES notices (id),
    target TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt INTEGER NOT NULL,
    delivered_at INTEGER,
    abandoned_at INTEGER,
    last_error TEXT
);
CREATE INDEX deliveries_due ON deliveries (delivered_at, abandoned_at, next_attempt);
