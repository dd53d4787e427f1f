//! TLS termination: the proxy's certificates, read from PEM files (a chain and its key per
//! certificate), chosen per connection by the name the client asks for (SNI), and read again
//! when the files change (a renewal by certbot or the like), without a restart.
//!
//! rustls with the *ring* provider (the one the rest of Ferry uses); TLS 1.2 and 1.3; ALPN
//! offers `h2` and `http/1.1` (the server side serves either).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::SystemTime;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio_rustls::TlsAcceptor;

/// One certificate the proxy may present: its chain and its private key, PEM files on the
/// agent's host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsCert {
    /// The certificate first, then the intermediates (a `fullchain.pem`).
    pub cert: PathBuf,
    /// Its private key: PKCS#8, PKCS#1 (RSA) or SEC1 (EC).
    pub key: PathBuf,
}

/// Why certificates could not be used; the ones in use stay.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {}: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{} holds no PEM certificate (a `-----BEGIN CERTIFICATE-----` block): {message}", path.display())]
    Cert { path: PathBuf, message: String },
    #[error("{} holds no PEM private key (PKCS#8, PKCS#1 or SEC1): {message}", path.display())]
    Key { path: PathBuf, message: String },
    #[error("the key {} cannot be used with the certificate {}: {source}", key.display(), cert.display())]
    Mismatch { cert: PathBuf, key: PathBuf, source: rustls::Error },
    #[error("TLS cannot be set up: {0}")]
    Config(rustls::Error),
}

/// The provider every TLS connection of the proxy uses.
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// When each file was last changed and how long it is: a change of either reloads.
type Stamps = Vec<Option<(SystemTime, u64)>>;

fn stamps(files: &[TlsCert]) -> Stamps {
    files
        .iter()
        .flat_map(|file| [&file.cert, &file.key])
        .map(|path| std::fs::metadata(path).ok().and_then(|meta| Some((meta.modified().ok()?, meta.len()))))
        .collect()
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read { path: path.to_owned(), source })
}

/// Reads every certificate with its key.
fn load(files: &[TlsCert], provider: &CryptoProvider) -> Result<Vec<Arc<CertifiedKey>>, TlsError> {
    files
        .iter()
        .map(|file| {
            let pem = read(&file.cert)?;
            let chain = CertificateDer::pem_slice_iter(&pem)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|error| TlsError::Cert { path: file.cert.clone(), message: error.to_string() })?;
            if chain.is_empty() {
                return Err(TlsError::Cert { path: file.cert.clone(), message: "the file has none".to_owned() });
            }
            let key = PrivateKeyDer::from_pem_slice(&read(&file.key)?)
                .map_err(|error| TlsError::Key { path: file.key.clone(), message: error.to_string() })?;
            let certified = CertifiedKey::from_der(chain, key, provider).map_err(|source| TlsError::Mismatch {
                cert: file.cert.clone(),
                key: file.key.clone(),
                source,
            })?;
            Ok(Arc::new(certified))
        })
        .collect()
}

/// Chooses the certificate for a connection: the first whose names cover the name the client
/// asked for, else the first one (a client without SNI, or a name none covers: the client
/// judges the certificate).
#[derive(Debug)]
struct Resolver {
    certs: RwLock<Arc<Vec<Arc<CertifiedKey>>>>,
}

impl ResolvesServerCert for Resolver {
    fn resolve(&self, client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let certs = self.certs.read().unwrap_or_else(PoisonError::into_inner).clone();
        let covering = client_hello.server_name().and_then(|name| {
            let name = ServerName::try_from(name).ok()?;
            certs.iter().find(|certified| {
                certified.end_entity_cert().ok().is_some_and(|der| {
                    webpki::EndEntityCert::try_from(der)
                        .is_ok_and(|cert| cert.verify_is_valid_for_subject_name(&name).is_ok())
                })
            })
        });
        covering.or_else(|| certs.first()).cloned()
    }
}

/// A listener's TLS: the files, the certificates read from them, and the acceptor.
#[derive(Debug)]
pub(crate) struct Tls {
    files: Vec<TlsCert>,
    provider: Arc<CryptoProvider>,
    resolver: Arc<Resolver>,
    config: Arc<rustls::ServerConfig>,
    stamps: Mutex<Stamps>,
}

impl Tls {
    /// Reads `files` (at least one) and makes the acceptor.
    pub(crate) fn new(files: Vec<TlsCert>) -> Result<Tls, TlsError> {
        let provider = provider();
        let stamps = stamps(&files);
        let certs = load(&files, &provider)?;
        let resolver = Arc::new(Resolver { certs: RwLock::new(Arc::new(certs)) });
        let mut config = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(TlsError::Config)?
            .with_no_client_auth()
            .with_cert_resolver(resolver.clone());
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Tls { files, provider, resolver, config: Arc::new(config), stamps: Mutex::new(stamps) })
    }

    /// What accepts one connection.
    pub(crate) fn acceptor(&self) -> TlsAcceptor {
        TlsAcceptor::from(self.config.clone())
    }

    pub(crate) fn files(&self) -> &[TlsCert] {
        &self.files
    }

    /// Reads the files again if one changed since they were last read; `Ok(true)` when new
    /// certificates are in use. On an error the ones in use stay (and the same files are not
    /// tried again until they change once more).
    pub(crate) fn reload_if_changed(&self) -> Result<bool, TlsError> {
        let now = stamps(&self.files);
        {
            let mut stamps = self.stamps.lock().unwrap_or_else(PoisonError::into_inner);
            if *stamps == now {
                return Ok(false);
            }
            *stamps = now;
        }
        let certs = load(&self.files, &self.provider)?;
        *self.resolver.certs.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(certs);
        Ok(true)
    }
}
