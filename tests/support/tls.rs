//! A self-signed certificate generated at test time (rcgen), and the rustls
//! server and client configurations that use it.

use std::sync::Arc;

use tokio_rustls::rustls::crypto::aws_lc_rs;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::rustls::{ClientConfig, RootCertStore, ServerConfig};

/// A server configuration for `localhost` and `127.0.0.1` with a
/// certificate generated now, and that certificate (DER and PEM).
pub fn server() -> (Arc<ServerConfig>, CertificateDer<'static>, String) {
    let generated = rcgen::generate_simple_self_signed(["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
    let cert: CertificateDer<'static> = generated.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(generated.signing_key.serialize_der()));
    let server = ServerConfig::builder_with_provider(Arc::new(aws_lc_rs::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], key)
        .unwrap();
    (Arc::new(server), cert, generated.cert.pem())
}

/// Server and client configurations for `localhost` and `127.0.0.1`; the
/// client trusts only the generated certificate.
pub fn configs() -> (Arc<ServerConfig>, Arc<ClientConfig>) {
    let (server, cert, _) = server();
    let mut roots = RootCertStore::empty();
    roots.add(cert).unwrap();
    let client = ClientConfig::builder_with_provider(Arc::new(aws_lc_rs::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    (server, Arc::new(client))
}
