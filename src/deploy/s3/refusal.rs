//! What an S3 error answer means for the person deploying: refused credentials, a missing
//! bucket, the wrong region, a wrong clock, or something else, each with what to fix.

use super::send::Answer;
use super::{S3Target, xml};
use crate::deploy::target::TargetError;

impl S3Target {
    /// The error an unsuccessful answer stands for.
    pub(super) fn refusal(&self, answer: &Answer, what: &str) -> TargetError {
        let text = answer.text();
        let code = xml::first(&text, "Code").unwrap_or_default();
        let message: String = xml::first(&text, "Message")
            .map(|m| m.chars().take(200).collect())
            .unwrap_or_default();
        let header = |name: &str| {
            answer
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let region = header("x-amz-bucket-region").or_else(|| xml::first(&text, "Region"));
        let bucket = self.bucket.clone();
        let endpoint = self.endpoint();
        match (answer.status, code.as_str()) {
            (_, "NoSuchBucket") => TargetError::NoBucket { bucket, endpoint },
            (_, "RequestTimeTooSkewed" | "RequestExpired") => {
                TargetError::Clock { endpoint, message }
            }
            (_, "AuthorizationHeaderMalformed") if region.is_some() => {
                TargetError::WrongRegion { bucket, region }
            }
            (_, "PermanentRedirect" | "IllegalLocationConstraintException") => {
                TargetError::WrongRegion { bucket, region }
            }
            (301 | 302 | 307 | 308, _) => match (region, header("location")) {
                (None, Some(location)) => TargetError::Redirect { endpoint, location },
                (region, _) => TargetError::WrongRegion { bucket, region },
            },
            (401 | 403, _)
            | (
                _,
                "InvalidAccessKeyId"
                | "SignatureDoesNotMatch"
                | "AccessDenied"
                | "InvalidToken"
                | "ExpiredToken",
            ) => TargetError::Credentials {
                endpoint,
                bucket,
                code: if code.is_empty() {
                    format!("status {}", answer.status)
                } else {
                    code
                },
                message,
            },
            _ => TargetError::Server {
                endpoint,
                what: what.to_owned(),
                status: answer.status,
                code,
                message,
                attempts: answer.attempts,
            },
        }
    }
}
