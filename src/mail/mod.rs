//! Outgoing email: through SMTP (`GATEHOUSE_SMTP_URL`), or by default into `.gatehouse/outbox/`
//! as `.eml` files, so development needs no mail server and tests can read the links.

use std::path::{Path, PathBuf};

use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

#[derive(Debug, Clone)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub text: String,
}

#[derive(Clone)]
pub enum Mailer {
    Outbox(PathBuf),
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
}

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error(
        "GATEHOUSE_SMTP_URL is not a valid SMTP URL (smtp://USER:PASSWORD@HOST:PORT, smtps://…): {0}"
    )]
    BadUrl(String),
    #[error("`{0}` is not a valid sender address (GATEHOUSE_MAIL_FROM)")]
    BadAddress(String),
    /// The recipient is a member: their address is never written into an error.
    #[error("the recipient's address is not valid")]
    BadRecipient,
    #[error("the email could not be composed: {0}")]
    Compose(String),
    #[error("could not write to the outbox {0}: {1}")]
    Outbox(String, std::io::Error),
    #[error("the SMTP server refused or failed: {0}")]
    Smtp(String),
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Mailer::Outbox(dir) => write!(f, "Mailer::Outbox({})", dir.display()),
            // The URL may hold a password: never print it.
            Mailer::Smtp(_) => f.write_str("Mailer::Smtp([redacted])"),
        }
    }
}

/// Where development mail goes.
pub fn outbox_dir(root: &Path) -> PathBuf {
    root.join(".gatehouse").join("outbox")
}

impl Mailer {
    /// SMTP when `smtp_url` is given, otherwise the site's outbox folder.
    pub fn new(root: &Path, smtp_url: Option<&str>) -> Result<Mailer, MailError> {
        match smtp_url {
            Some(url) => {
                let builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    // lettre's error can quote the URL; say only what kind of mistake it is.
                    .map_err(|_| MailError::BadUrl("check the scheme, host and port".into()))?;
                Ok(Mailer::Smtp(builder.build()))
            }
            None => Ok(Mailer::Outbox(outbox_dir(root))),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Mailer::Outbox(dir) => format!("files in {}", dir.display()),
            Mailer::Smtp(_) => "SMTP (GATEHOUSE_SMTP_URL)".to_owned(),
        }
    }

    pub async fn send(&self, from: &str, mail: &Mail) -> Result<(), MailError> {
        let from: Mailbox = from
            .parse()
            .map_err(|_| MailError::BadAddress(from.to_owned()))?;
        let to: Mailbox = mail.to.parse().map_err(|_| MailError::BadRecipient)?;
        let message = Message::builder()
            .from(from)
            .to(to)
            .subject(&mail.subject)
            .header(ContentType::TEXT_PLAIN)
            .body(mail.text.clone())
            .map_err(|e| MailError::Compose(e.to_string()))?;
        match self {
            Mailer::Smtp(transport) => transport
                .send(message)
                .await
                .map(|_| ())
                .map_err(|e| MailError::Smtp(without_addresses(&e.to_string()))),
            Mailer::Outbox(dir) => write_to_outbox(dir, &mail.to, &message.formatted()).await,
        }
    }
}

/// The text with every word that holds an `@` replaced: SMTP servers quote the recipient in
/// their refusals ("550 5.1.1 <bob@example.com>: unknown user"), and such text goes to logs.
pub fn without_addresses(text: &str) -> String {
    text.split(' ')
        .map(|word| {
            if word.contains('@') {
                "<address>"
            } else {
                word
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Writes one message as `<unix-nanos>-<recipient>.eml`, through a temporary name so that a
/// reader never sees half a message.
async fn write_to_outbox(dir: &Path, to: &str, bytes: &[u8]) -> Result<(), MailError> {
    let failed = |e| MailError::Outbox(dir.display().to_string(), e);
    tokio::fs::create_dir_all(dir).await.map_err(failed)?;
    let nanos = jiff::Timestamp::now().as_nanosecond();
    let safe_to: String = to
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '@' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let name = format!("{nanos}-{safe_to}.eml");
    let temporary = dir.join(format!(".{name}.tmp"));
    tokio::fs::write(&temporary, bytes).await.map_err(failed)?;
    tokio::fs::rename(&temporary, dir.join(name))
        .await
        .map_err(failed)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smtp_refusals_lose_the_addresses_they_quote() {
        assert_eq!(
            without_addresses("permanent error (550): 5.1.1 <bob@example.com>: unknown user"),
            "permanent error (550): 5.1.1 <address> unknown user"
        );
    }
}
