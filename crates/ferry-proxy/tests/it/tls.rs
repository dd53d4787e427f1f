//! TLS termination: certificates made in the test by the `openssl` command, a rustls client
//! that trusts exactly them; the name the client asks for picks the certificate, HTTP/1.1 and
//! HTTP/2 (ALPN) pass, and changed files are read again.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use ferry_proxy::{Proxy, TlsCert, TlsError};
use http_body_util::BodyExt;
use hyper::body::Bytes;
use hyper::{Request, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use crate::support::{TestBackend, header_lines, proxy_to};

/// A self-signed certificate for `name` (and `*.name`), made by `openssl` in `dir`.
fn make_cert(dir: &Path, file_stem: &str, name: &str) -> TlsCert {
    let cert = dir.join(format!("{file_stem}.crt"));
    let key = dir.join(format!("{file_stem}.key"));
    let status = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2"])
        .arg("-subj")
        .arg(format!("/CN={name}"))
        .arg("-addext")
        .arg(format!("subjectAltName=DNS:{name},DNS:*.{name}"))
        // A server's certificate, not a CA's (which webpki refuses to see presented).
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(std::process::Stdio::null())
        .status()
        .expect("run openssl (apt-get install openssl)");
    assert!(status.success(), "openssl could not make a certificate");
    TlsCert { cert, key }
}

fn der(cert: &TlsCert) -> CertificateDer<'static> {
    CertificateDer::from_pem_file(&cert.cert).expect("a PEM certificate")
}

/// A client that trusts `trusted` only, offering `alpn`.
fn connector(trusted: &[&TlsCert], alpn: &[&[u8]]) -> TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    for cert in trusted {
        roots.add(der(cert)).expect("a usable trust anchor");
    }
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|protocol| protocol.to_vec()).collect();
    TlsConnector::from(Arc::new(config))
}

async fn handshake(proxy: &Proxy, connector: &TlsConnector, name: &str) -> std::io::Result<TlsStream<TcpStream>> {
    let stream = TcpStream::connect(proxy.local_addr()).await?;
    connector.connect(ServerName::try_from(name.to_owned()).expect("a DNS name"), stream).await
}

fn presented(stream: &TlsStream<TcpStream>) -> CertificateDer<'static> {
    let (_, connection) = stream.get_ref();
    connection.peer_certificates().expect("the server's certificate")[0].clone().into_owned()
}

/// `GET /headers` over `stream` with HTTP/1.1; the backend's lines.
async fn get_headers_http1(stream: TlsStream<TcpStream>, host: &str) -> (StatusCode, String) {
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake::<_, http_body_util::Empty<Bytes>>(TokioIo::new(stream))
            .await
            .expect("HTTP/1.1 over TLS");
    tokio::spawn(connection);
    let request = Request::get("/headers").header("host", host).body(http_body_util::Empty::new()).expect("a request");
    let response = sender.send_request(request).await.expect("an answer");
    let status = response.status();
    let body = response.into_body().collect().await.expect("the body").to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

struct Certs {
    _dir: tempfile::TempDir,
    path: PathBuf,
    a: TlsCert,
    b: TlsCert,
}

fn certs() -> Certs {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().to_owned();
    let a = make_cert(&path, "a", "a.test");
    let b = make_cert(&path, "b", "b.test");
    Certs { _dir: dir, path, a, b }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_name_a_client_asks_for_picks_the_certificate_and_requests_pass_as_https() {
    let certs = certs();
    let backend = TestBackend::start("b", 1).await;
    let proxy = proxy_to(&[&backend], &[]).await;
    proxy.set_tls(vec![certs.a.clone(), certs.b.clone()]).expect("both certificates read");
    let trusting_both = connector(&[&certs.a, &certs.b], &[b"http/1.1"]);

    let stream = handshake(&proxy, &trusting_both, "b.test").await.expect("a handshake for b.test");
    assert_eq!(presented(&stream), der(&certs.b));
    let stream = handshake(&proxy, &trusting_both, "www.a.test").await.expect("a handshake for www.a.test");
    assert_eq!(presented(&stream), der(&certs.a), "the wildcard of a's certificate covers www.a.test");

    let (status, body) = get_headers_http1(stream, "www.a.test").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let lines = header_lines(&body);
    assert_eq!(lines.get("x-forwarded-proto").map(String::as_str), Some("https"), "{body}");
    assert_eq!(lines.get("x-forwarded-host").map(String::as_str), Some("www.a.test"), "{body}");

    // A name no certificate covers gets the first one, which the client then refuses.
    let refused = handshake(&proxy, &trusting_both, "c.test").await;
    assert!(refused.is_err(), "a certificate for a.test does not pass for c.test");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_is_offered_over_alpn() {
    let certs = certs();
    let backend = TestBackend::start("b", 1).await;
    let proxy = proxy_to(&[&backend], &[]).await;
    proxy.set_tls(vec![certs.a.clone()]).expect("the certificate read");
    let stream =
        handshake(&proxy, &connector(&[&certs.a], &[b"h2", b"http/1.1"]), "a.test").await.expect("a handshake");
    assert_eq!(stream.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let (mut sender, connection) = hyper::client::conn::http2::handshake::<_, _, http_body_util::Empty<Bytes>>(
        TokioExecutor::new(),
        TokioIo::new(stream),
    )
    .await
    .expect("HTTP/2 over TLS");
    tokio::spawn(connection);
    let request = Request::get("https://a.test/headers").body(http_body_util::Empty::new()).expect("a request");
    let response = sender.send_request(request).await.expect("an answer");
    assert_eq!(response.status(), StatusCode::OK);
    let body = response.into_body().collect().await.expect("the body").to_bytes();
    let lines = header_lines(&String::from_utf8_lossy(&body));
    assert_eq!(lines.get("x-forwarded-proto").map(String::as_str), Some("https"));
    assert_eq!(lines.get("version").map(String::as_str), Some("HTTP/1.1"), "the backend is spoken to over HTTP/1.1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changed_files_are_read_again_and_unusable_ones_leave_the_old_certificate_in_force() {
    let certs = certs();
    let backend = TestBackend::start("b", 1).await;
    let proxy = proxy_to(&[&backend], &[]).await;
    proxy.set_tls(vec![certs.a.clone()]).expect("the certificate read");
    let old = der(&certs.a);
    assert!(!proxy.reload_tls().expect("nothing to read"), "unchanged files are not read again");

    // A renewal: new files in the same place.
    let renewed = make_cert(&certs.path, "renewed", "a.test");
    std::fs::rename(&renewed.cert, &certs.a.cert).expect("move the new certificate in");
    std::fs::rename(&renewed.key, &certs.a.key).expect("move the new key in");
    let new = der(&certs.a);
    assert_ne!(new, old);
    assert!(proxy.reload_tls().expect("the new files read"), "changed files are read again");
    let trusting_both = connector(&[&certs.a, &certs.b], &[]);
    let stream = handshake(&proxy, &trusting_both, "a.test").await.expect("a handshake with the new certificate");
    assert_eq!(presented(&stream), new);

    // A key that is not the certificate's: refused, the renewed certificate stays.
    std::fs::copy(&certs.b.key, &certs.a.key).expect("overwrite the key");
    let error = proxy.reload_tls().expect_err("a key of another certificate");
    assert!(matches!(error, TlsError::Mismatch { .. }), "{error}");
    let stream = handshake(&proxy, &trusting_both, "a.test").await.expect("a handshake after the bad reload");
    assert_eq!(presented(&stream), new);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listener_whose_certificates_cannot_be_read_closes_connections_instead_of_serving_in_the_clear() {
    let certs = certs();
    let backend = TestBackend::start("b", 1).await;
    let proxy = proxy_to(&[&backend], &[]).await;
    let missing = TlsCert { cert: certs.path.join("missing.crt"), key: certs.a.key.clone() };
    let error = proxy.set_tls(vec![missing]).expect_err("a missing file");
    assert!(matches!(error, TlsError::Read { .. }), "{error}");
    assert!(error.to_string().contains("missing.crt"), "{error}");

    let mut stream = TcpStream::connect(proxy.local_addr()).await.expect("the listener still accepts");
    let mut read = Vec::new();
    // Closed at once: end of stream (or a reset) without a byte of an answer.
    let _ = tokio::io::AsyncWriteExt::write_all(&mut stream, b"GET / HTTP/1.1\r\nhost: x\r\n\r\n").await;
    let _ = stream.read_to_end(&mut read).await;
    assert!(read.is_empty(), "nothing is served in the clear: {}", String::from_utf8_lossy(&read));

    // Good files later: TLS is served.
    proxy.set_tls(vec![certs.a.clone()]).expect("the certificate read");
    handshake(&proxy, &connector(&[&certs.a], &[]), "a.test").await.expect("a handshake");
}
