//! Payments (DESIGN §6 `POST /webhooks/stripe`): Stripe events that move members between the
//! states of DESIGN §5. This module is growing with issue 5; so far it verifies signatures.

pub mod signature;
