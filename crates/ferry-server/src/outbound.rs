//! The server's one HTTP client for what it calls out to (commit statuses to forges, scrapes
//! of metrics targets): HTTP or HTTPS (rustls with ring, the Mozilla roots webpki-roots
//! embeds), HTTP/1.1, idle connections kept for reuse.

use std::time::Duration;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// A client for `http://` and `https://` URLs with whole bodies.
pub(crate) type Outbound = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// A client whose connections are made within `connect_timeout`.
pub(crate) fn client(connect_timeout: Duration) -> Outbound {
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_connect_timeout(Some(connect_timeout));
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())
        .expect("ring supports rustls' default protocol versions")
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    Client::builder(TokioExecutor::new()).pool_idle_timeout(Duration::from_secs(30)).build(https)
}

/// An error with its sources, as one line.
pub(crate) fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
