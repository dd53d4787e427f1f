//! Sending a notification: Alertmanager's webhook message and Slack's payload as a JSON
//! `POST` (HTTP or HTTPS through rustls with webpki-roots' roots), an email over SMTP
//! (`lettre`: implicit TLS on port 465, STARTTLS when `require_tls`, else plain). What the
//! messages say is `ferry_alerting::notify`'s.

use std::time::Duration;

use ferry_alerting::Notification;
use ferry_alerting::config::{Email, Integration};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper::{Method, Request};

use crate::outbound::chain;

/// How long one attempt may take, answer included (a webhook's `timeout` may say less).
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How much of a receiver's answer is read for the log.
const ANSWER_LIMIT: usize = 16 * 1024;

/// Why a notification did not arrive.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SendError {
    #[error("the request cannot be made: {0}")]
    BadRequest(String),
    #[error("the receiver answered {status}: {answer}")]
    Refused { status: u16, answer: String },
    #[error("the receiver could not be reached: {0}")]
    Unreachable(String),
    #[error("the receiver did not answer in time")]
    TimedOut,
    #[error("sending the email failed: {0}")]
    Smtp(String),
    #[error("{0} notifications are not supported")]
    Unsupported(String),
}

/// The HTTP client notifications share.
pub(crate) struct Sender {
    http: crate::outbound::Outbound,
}

impl Sender {
    pub(crate) fn new() -> Sender {
        Sender { http: crate::outbound::client(CONNECT_TIMEOUT) }
    }

    /// Sends `notification` once.
    ///
    /// # Errors
    /// [`SendError`] saying what failed; never the URL's secret parts (Slack's URL is one).
    pub(crate) async fn send(&self, notification: &Notification, external_url: &str) -> Result<(), SendError> {
        match &notification.integration {
            Integration::Webhook(webhook) => {
                let body = ferry_alerting::notify::webhook_body(notification, webhook.max_alerts, external_url);
                let timeout = webhook
                    .timeout_ms
                    .and_then(|ms| u64::try_from(ms).ok())
                    .map_or(ATTEMPT_TIMEOUT, Duration::from_millis);
                self.post_json(&webhook.url, &body, timeout).await
            }
            Integration::Slack(slack) => {
                let body = ferry_alerting::notify::slack_body(notification, slack, external_url);
                self.post_json(&slack.api_url, &body, ATTEMPT_TIMEOUT).await
            }
            Integration::Email(email) => send_email(notification, email, external_url).await,
            Integration::Unsupported { kind } => Err(SendError::Unsupported(kind.clone())),
        }
    }

    async fn post_json(&self, url: &str, body: &serde_json::Value, timeout: Duration) -> Result<(), SendError> {
        let mut bytes = serde_json::to_vec(body).map_err(|error| SendError::BadRequest(error.to_string()))?;
        // Go's json.Encoder ends the body with a newline; receivers that compare bodies see the same.
        bytes.push(b'\n');
        let request = Request::builder()
            .method(Method::POST)
            .uri(url)
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .header(hyper::header::USER_AGENT, concat!("Ferry/", env!("CARGO_PKG_VERSION")))
            .body(Full::new(Bytes::from(bytes)))
            .map_err(|_| SendError::BadRequest("the URL is not one HTTP can use".to_owned()))?;
        let exchange = async {
            let response = self.http.request(request).await.map_err(|error| SendError::Unreachable(chain(&error)))?;
            let status = response.status();
            let answer = Limited::new(response.into_body(), ANSWER_LIMIT)
                .collect()
                .await
                .map(|body| body.to_bytes())
                .unwrap_or_default();
            if status.is_success() {
                return Ok(());
            }
            let shown: String = String::from_utf8_lossy(&answer).chars().take(300).collect();
            Err(SendError::Refused { status: status.as_u16(), answer: shown })
        };
        tokio::time::timeout(timeout, exchange).await.unwrap_or(Err(SendError::TimedOut))
    }
}

async fn send_email(notification: &Notification, email: &Email, external_url: &str) -> Result<(), SendError> {
    use lettre::message::header::ContentType;
    use lettre::message::{Mailboxes, Message};
    use lettre::transport::smtp::AsyncSmtpTransport;
    use lettre::transport::smtp::authentication::Credentials;
    use lettre::transport::smtp::client::{Tls, TlsParameters};
    use lettre::transport::smtp::extension::ClientId;
    use lettre::{AsyncTransport, Tokio1Executor};

    let (subject, text) = ferry_alerting::notify::email_content(notification, email, external_url);
    let bad = |what: &str, error: &dyn std::fmt::Display| SendError::BadRequest(format!("{what}: {error}"));
    let to: Mailboxes = email.to.parse().map_err(|error| bad("`to` is not a list of addresses", &error))?;
    let mut builder = Message::builder()
        .from(email.from.parse().map_err(|error| bad("`from` is not an address", &error))?)
        .subject(subject)
        .header(ContentType::TEXT_PLAIN);
    for mailbox in to {
        builder = builder.to(mailbox);
    }
    let message = builder.body(text).map_err(|error| bad("the email cannot be built", &error))?;
    let (host, port) = email
        .smarthost
        .rsplit_once(':')
        .and_then(|(host, port)| port.parse::<u16>().ok().map(|port| (host.trim_matches(['[', ']']).to_owned(), port)))
        .ok_or_else(|| SendError::BadRequest(format!("smarthost `{}` is not host:port", email.smarthost)))?;
    let tls = if port == 465 || email.require_tls {
        let parameters = TlsParameters::new(host.clone()).map_err(|error| SendError::Smtp(error.to_string()))?;
        if port == 465 { Tls::Wrapper(parameters) } else { Tls::Required(parameters) }
    } else {
        Tls::None
    };
    let mut transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
        .port(port)
        .tls(tls)
        .hello_name(ClientId::Domain(email.hello.clone()))
        .timeout(Some(ATTEMPT_TIMEOUT));
    if let (Some(username), Some(password)) = (&email.auth_username, &email.auth_password) {
        transport = transport.credentials(Credentials::new(username.clone(), password.clone()));
    }
    transport.build().send(message).await.map_err(|error| SendError::Smtp(chain(&error)))?;
    Ok(())
}
