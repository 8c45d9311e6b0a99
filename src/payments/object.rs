//! Reading Stripe's JSON. Webhook payloads come in the shape of the account's API version, so
//! every field is read where either shape puts it: before 2025 ("acacia" and older) and from
//! 2025-03-31 ("basil", where `current_period_end` moved onto subscription items and an
//! invoice's subscription moved under `parent.subscription_details`).

use serde_json::Value;

/// A verified event's envelope.
#[derive(Debug, Clone, PartialEq)]
pub struct StripeEvent {
    pub id: String,
    pub kind: String,
    /// When Stripe created the event (Unix seconds): the order of events about one thing.
    pub created: i64,
    pub object: Value,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    #[error("the body is not JSON: {0}")]
    NotJson(String),
    #[error("the body is not a Stripe event: `{0}` is missing")]
    Missing(&'static str),
}

impl StripeEvent {
    pub fn parse(body: &[u8]) -> Result<StripeEvent, EventError> {
        let value: Value =
            serde_json::from_slice(body).map_err(|e| EventError::NotJson(e.to_string()))?;
        let id = text(&value, "id").ok_or(EventError::Missing("id"))?;
        let kind = text(&value, "type").ok_or(EventError::Missing("type"))?;
        let created = value["created"]
            .as_i64()
            .ok_or(EventError::Missing("created"))?;
        let object = value["data"]["object"].clone();
        if !object.is_object() {
            return Err(EventError::Missing("data.object"));
        }
        Ok(StripeEvent {
            id: id.to_owned(),
            kind: kind.to_owned(),
            created,
            object,
        })
    }
}

/// A string field, `None` when absent, null or empty.
pub fn text<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value.get(key)?.as_str().filter(|s| !s.is_empty())
}

/// An id field that may be a bare id or an expanded object with an `id`.
pub fn id_of<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    match value.get(key)? {
        Value::String(id) if !id.is_empty() => Some(id),
        Value::Object(object) => object.get("id")?.as_str(),
        _ => None,
    }
}

/// The price ids of a subscription's items.
pub fn subscription_prices(sub: &Value) -> Vec<&str> {
    list(&sub["items"])
        .iter()
        .filter_map(|item| id_of(item, "price").or_else(|| id_of(&item["plan"], "id")))
        .collect()
}

/// The end of a subscription's paid period: on the subscription before basil, on its items
/// from basil on (the latest, if items differ).
pub fn period_end(sub: &Value) -> Option<i64> {
    sub["current_period_end"].as_i64().or_else(|| {
        list(&sub["items"])
            .iter()
            .filter_map(|item| item["current_period_end"].as_i64())
            .max()
    })
}

/// The subscription an invoice belongs to, in either shape.
pub fn invoice_subscription(invoice: &Value) -> Option<&str> {
    id_of(invoice, "subscription")
        .or_else(|| id_of(&invoice["parent"]["subscription_details"], "subscription"))
        .or_else(|| {
            list(&invoice["lines"]).iter().find_map(|line| {
                id_of(&line["parent"]["subscription_item_details"], "subscription")
                    .or_else(|| id_of(line, "subscription"))
            })
        })
}

/// The price ids on an invoice's lines, in either shape.
pub fn invoice_prices(invoice: &Value) -> Vec<&str> {
    list(&invoice["lines"])
        .iter()
        .filter_map(|line| {
            id_of(line, "price").or_else(|| id_of(&line["pricing"]["price_details"], "price"))
        })
        .collect()
}

/// The price ids of a Checkout Session's line items, when the payload carries them (they are
/// present only if expanded).
pub fn session_prices(session: &Value) -> Vec<&str> {
    list(&session["line_items"])
        .iter()
        .filter_map(|item| id_of(item, "price"))
        .collect()
}

/// The buyer's email on a Checkout Session: `customer_details.email`, then `customer_email`,
/// then `client_reference_id` when it holds an address.
pub fn session_email(session: &Value) -> Option<&str> {
    text(&session["customer_details"], "email")
        .or_else(|| text(session, "customer_email"))
        .or_else(|| text(session, "client_reference_id").filter(|r| r.contains('@')))
}

/// `metadata.gatehouse_product`.
pub fn metadata_product(object: &Value) -> Option<&str> {
    text(&object["metadata"], "gatehouse_product")
}

fn list(value: &Value) -> &[Value] {
    match value {
        Value::Array(items) => items,
        Value::Object(_) => value["data"].as_array().map_or(&[], Vec::as_slice),
        _ => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn period_end_is_read_from_the_subscription_or_its_items() {
        assert_eq!(period_end(&json!({"current_period_end": 5})), Some(5));
        let basil = json!({"items": {"object": "list", "data": [
            {"current_period_end": 7}, {"current_period_end": 9}
        ]}});
        assert_eq!(period_end(&basil), Some(9));
        assert_eq!(period_end(&json!({})), None);
    }

    #[test]
    fn an_invoice_names_its_subscription_in_either_shape() {
        assert_eq!(
            invoice_subscription(&json!({"subscription": "sub_1"})),
            Some("sub_1")
        );
        let basil = json!({"subscription": null, "parent": {
            "type": "subscription_details",
            "subscription_details": {"subscription": "sub_2"}
        }});
        assert_eq!(invoice_subscription(&basil), Some("sub_2"));
        assert_eq!(invoice_subscription(&json!({"parent": null})), None);
    }

    #[test]
    fn invoice_prices_come_from_either_line_shape() {
        let old = json!({"lines": {"data": [{"price": {"id": "price_a"}}]}});
        let basil = json!({"lines": {"data": [
            {"pricing": {"type": "price_details", "price_details": {"price": "price_b"}}}
        ]}});
        assert_eq!(invoice_prices(&old), ["price_a"]);
        assert_eq!(invoice_prices(&basil), ["price_b"]);
    }

    #[test]
    fn the_buyer_is_found_by_details_then_email_then_reference() {
        let all = json!({"customer_details": {"email": "a@x.io"}, "customer_email": "b@x.io"});
        assert_eq!(session_email(&all), Some("a@x.io"));
        let second = json!({"customer_details": {"email": null}, "customer_email": "b@x.io"});
        assert_eq!(session_email(&second), Some("b@x.io"));
        let third = json!({"client_reference_id": "c@x.io"});
        assert_eq!(session_email(&third), Some("c@x.io"));
        assert_eq!(
            session_email(&json!({"client_reference_id": "user-7"})),
            None
        );
    }

    #[test]
    fn ids_may_be_expanded_objects() {
        let value = json!({"customer": {"id": "cus_1", "email": "a@x.io"}, "other": "cus_2"});
        assert_eq!(id_of(&value, "customer"), Some("cus_1"));
        assert_eq!(id_of(&value, "other"), Some("cus_2"));
    }

    #[test]
    fn malformed_events_are_refused_with_the_missing_field() {
        assert!(matches!(
            StripeEvent::parse(b"nope"),
            Err(EventError::NotJson(_))
        ));
        assert_eq!(
            StripeEvent::parse(br#"{"id":"evt_1","type":"x","created":1}"#),
            Err(EventError::Missing("data.object"))
        );
    }
}
