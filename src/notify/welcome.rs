//! The welcome email a member gets on first access: the theme's `templates/email/welcome.txt`
//! (or the site's `templates/email/welcome.txt` over it), a Tera template whose first line is
//! `Subject: …`. Loaded once when the edge starts, so a broken template stops the start, not a
//! purchase.

use std::path::PathBuf;

use serde_json::json;
use tera::{Context, Tera};

use crate::config::SiteConfig;

pub const TEMPLATE: &str = "email/welcome.txt";

/// Used when neither the theme nor the site has the template.
const FALLBACK: &str = "Subject: Welcome to {{ site.title }}\n\nHello,\n\n\
Thank you for joining {{ site.title }}. Open this link to log in:\n\n{{ login_url }}\n\n\
It works once, within {{ link_hours }} hours.\n";

#[derive(Debug, thiserror::Error)]
pub enum WelcomeError {
    #[error("cannot read {0}: {1}")]
    Read(String, std::io::Error),
    #[error("{0}: {1}")]
    Template(String, String),
    #[error("{0}: the first line must be `Subject: …`")]
    NoSubject(String),
}

/// A loaded welcome template.
#[derive(Debug)]
pub struct Welcome {
    tera: Tera,
    /// Where it came from, for messages.
    source: String,
}

/// What goes into the template.
pub struct WelcomeFacts<'a> {
    pub email: &'a str,
    pub level: Option<&'a str>,
    pub bundles: Vec<&'a str>,
    pub login_url: &'a str,
    pub link_hours: i64,
}

impl Welcome {
    pub fn load(config: &SiteConfig) -> Result<Welcome, WelcomeError> {
        let candidates: [PathBuf; 2] = [
            config.root.join("templates").join(TEMPLATE),
            config.theme_dir().join("templates").join(TEMPLATE),
        ];
        let found = candidates.iter().find(|path| path.is_file());
        let (source, text) = match found {
            Some(path) => {
                let shown = path
                    .strip_prefix(&config.root)
                    .unwrap_or(path)
                    .display()
                    .to_string();
                let text = std::fs::read_to_string(path)
                    .map_err(|e| WelcomeError::Read(shown.clone(), e))?;
                (shown, text)
            }
            None => ("the built-in welcome email".to_owned(), FALLBACK.to_owned()),
        };
        let mut tera = Tera::new();
        tera.add_raw_template(TEMPLATE, &text)
            .map_err(|e| WelcomeError::Template(source.clone(), e.to_string()))?;
        let welcome = Welcome { tera, source };
        // Rendered once with sample facts, so a template naming an unknown variable fails now.
        welcome.render(
            config,
            &WelcomeFacts {
                email: "member@example.com",
                level: Some("Level"),
                bundles: vec!["Bundle"],
                login_url: "https://example.com/_gate/auth?token=x",
                link_hours: 24,
            },
        )?;
        Ok(welcome)
    }

    /// The subject and text of one welcome email.
    pub fn render(
        &self,
        config: &SiteConfig,
        facts: &WelcomeFacts<'_>,
    ) -> Result<(String, String), WelcomeError> {
        let mut context = Context::new();
        context.insert(
            "site",
            &json!({ "title": config.title, "base_url": config.base_url }),
        );
        context.insert(
            "member",
            &json!({ "email": facts.email, "level": facts.level, "bundles": facts.bundles }),
        );
        context.insert("login_url", facts.login_url);
        context.insert("link_hours", &facts.link_hours);
        let text = self
            .tera
            .render(TEMPLATE, &context)
            .map_err(|e| WelcomeError::Template(self.source.clone(), e.to_string()))?;
        let (first, rest) = text.split_once('\n').unwrap_or((&text, ""));
        let subject = first
            .strip_prefix("Subject:")
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| WelcomeError::NoSubject(self.source.clone()))?;
        Ok((subject.to_owned(), rest.trim_start_matches('\n').to_owned()))
    }
}
