//! rustls configuration for the interop server.

use std::path::Path;
use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls;

/// A rustls server config from a PEM certificate chain and a PEM private key.
///
/// Uses the aws-lc-rs provider explicitly (the one protosocket-rpc's client connectors
/// use) so that no process-wide default provider has to be installed, and rustls'
/// default protocol versions (TLS 1.2 and 1.3, like the reference's TLS example); no
/// ALPN, no client authentication.
pub fn server_config(cert: &Path, key: &Path) -> std::io::Result<rustls::ServerConfig> {
    let certs = CertificateDer::pem_file_iter(cert)
        .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
        .map_err(|e| {
            std::io::Error::other(format!("reading certificate {}: {e}", cert.display()))
        })?;
    if certs.is_empty() {
        return Err(std::io::Error::other(format!(
            "no certificate in {}",
            cert.display()
        )));
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| {
        std::io::Error::other(format!("reading private key {}: {e}", key.display()))
    })?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(std::io::Error::other)?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(std::io::Error::other)
}
