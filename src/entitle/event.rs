//! A member's history: the append-only events that the edge server stores (DESIGN §6) and from
//! which every decision is derived.

use jiff::Timestamp;

pub use crate::config::Grant;
use crate::config::{Billing, Product, SiteConfig};

/// How a right is paid for. It decides what a cancellation means (DESIGN §5): free,
/// complimentary and single-payment access cancels at once; a subscription or an unfinished
/// payment plan stays open until the period it was paid for ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Basis {
    Free,
    Complimentary,
    Single,
    Recurring,
}

/// One thing that happened to a member, at a moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub at: Timestamp,
    pub kind: EventKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    /// `level_set`, `bundle_add` and `complimentary`: the member holds this right, active, from
    /// now. A level replaces the member's level; granting a held right again renews it.
    Grant { grant: Grant, basis: Basis },
    /// `cancel` and `bundle_cancel`. `until` asks for pending-cancel, which only recurring
    /// access honours; `None` as the grant means the member's current level.
    Cancel {
        grant: Option<Grant>,
        until: Option<Timestamp>,
    },
    /// A failed payment: access stops at once, login still works.
    Overdue { grant: Option<Grant> },
    /// The overdue payment was collected.
    Recovered { grant: Option<Grant> },
    /// Ends the right now, as `expires_after` would; `on_expire` still applies.
    Expire { grant: Option<Grant> },
    /// The last payment of a payment plan: the access becomes perpetual.
    PaidInFull { grant: Option<Grant> },
    /// `revoke`: the payment behind the right was taken back. Unlike a cancel, what
    /// keep-unlocked kept does not stay open while it stands (DESIGN §5, docs/entitlement.md);
    /// a refund or a lost dispute also ends the right at once.
    Revoke {
        grant: Option<Grant>,
        reason: Revocation,
    },
    /// `restore`: a dispute decided for the seller lifts its revocation; the right stands as it
    /// would have without it.
    Restore { grant: Option<Grant> },
}

/// Why a right was revoked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revocation {
    /// Refunded in full.
    Refunded,
    /// The payment is disputed (a chargeback or an inquiry): until it is decided, a `restore`
    /// can give the right back as it was.
    Disputed,
    /// The dispute was lost: the money went back to the buyer.
    DisputeLost,
}

impl Revocation {
    /// Whether the money is gone for good: the right ends, and no `restore` lifts it.
    pub fn is_final(self) -> bool {
        !matches!(self, Revocation::Disputed)
    }
}

impl Event {
    pub fn new(at: Timestamp, kind: EventKind) -> Event {
        Event { at, kind }
    }
}

impl Basis {
    /// The basis of a grant made without a product (by an operator): recurring if some
    /// subscription or payment plan sells the right, single if only single payments do, free
    /// if nothing sells it. See docs/entitlement.md.
    pub fn implied(config: &SiteConfig, grant: &Grant) -> Basis {
        let sold_by = config.products.iter().filter(|p| &p.grants == grant);
        let mut basis = Basis::Free;
        for product in sold_by {
            match product.billing {
                Billing::Single => basis = Basis::Single,
                Billing::Subscription { .. } | Billing::PaymentPlan { .. } => {
                    return Basis::Recurring;
                }
            }
        }
        basis
    }

    /// The basis of a grant bought through a product.
    pub fn of_product(product: &Product) -> Basis {
        match product.billing {
            Billing::Single => Basis::Single,
            Billing::Subscription { .. } | Billing::PaymentPlan { .. } => Basis::Recurring,
        }
    }
}
