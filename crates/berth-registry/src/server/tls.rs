//! TLS for the server: a PEM certificate chain and private key, served with rustls and its ring
//! provider (TLS 1.2 and 1.3, HTTP/1.1 only).

use std::path::Path;
use std::sync::Arc;

use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::crypto::ring;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::server::error::ServeError;

/// An acceptor for the certificate chain in `cert` and the key in `key` (PEM files).
pub(crate) fn acceptor(cert: &Path, key: &Path) -> Result<TlsAcceptor, ServeError> {
    let error = |path: &Path, reason: String| ServeError::Tls {
        path: path.to_owned(),
        reason,
    };
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| error(cert, format!("reading certificates: {e}")))?;
    if chain.is_empty() {
        return Err(error(cert, "no certificate in the file".to_owned()));
    }
    let private_key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| error(key, format!("reading the private key: {e}")))?;
    let mut config = ServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| error(cert, e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, private_key)
        .map_err(|e| error(cert, format!("certificate and key do not fit: {e}")))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}
