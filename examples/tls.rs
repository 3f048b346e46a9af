//! A wss echo server: the tokio adapter behind tokio-rustls, with "TLS
//! required" on, and a self-signed certificate generated at start-up.
//!
//! ```text
//! cargo run --example tls                      # wss://localhost:9443/ws
//! cargo run --example tls -- 127.0.0.1:9444    # another address
//! ```
//!
//! The certificate is written to `target/tls-example-cert.pem` for clients
//! to trust (in Python: `ssl.create_default_context(cafile=...)`). In production, load your certificate chain instead of
//! generating one; everything else stays the same. The wsguard part is one
//! line: `wsguard::tokio::accept(tls_stream, &guard)`, which sees that the
//! stream is TLS (feature `tokio-rustls`), so the transport policy admits it.

use std::process::ExitCode;
use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::crypto::aws_lc_rs;
use tokio_rustls::rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use wsguard::layer::TransportPolicy;
use wsguard::{Guard, Message};

#[tokio::main]
async fn main() -> ExitCode {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:9443".to_owned());
    let tls = match tls_config() {
        Ok(config) => TlsAcceptor::from(config),
        Err(e) => {
            eprintln!("cannot set up TLS: {e}");
            return ExitCode::FAILURE;
        }
    };
    let guard = match Guard::builder().without_auth().transport(TransportPolicy::require_tls()).build() {
        Ok(guard) => guard,
        Err(e) => {
            eprintln!("invalid configuration: {e}");
            return ExitCode::from(2);
        }
    };
    let listener = match TcpListener::bind(&addr).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("cannot listen on {addr}: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "wss echo on wss://localhost:{}/ws (certificate: target/tls-example-cert.pem)",
        addr.rsplit(':').next().unwrap_or("9443")
    );
    loop {
        // An accept error (EMFILE, a reset before accept) must not end the server.
        let tcp = match listener.accept().await {
            Ok((tcp, _)) => tcp,
            Err(e) => {
                eprintln!("accept failed: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let (tls, guard) = (tls.clone(), guard.clone());
        tokio::spawn(async move {
            // The TLS handshake comes before the guard's handshake timeout:
            // bound it too, or a silent client holds its task forever.
            let accepting = tokio::time::timeout(std::time::Duration::from_secs(10), tls.accept(tcp));
            let Ok(Ok(stream)) = accepting.await else { return };
            let mut ws = match wsguard::tokio::accept(stream, &guard).await {
                Ok(ws) => ws,
                Err(e) => return eprintln!("refused: {e}"),
            };
            while let Some(Ok(message)) = ws.next().await {
                if matches!(message, Message::Text(_) | Message::Binary(_)) && ws.send(message).await.is_err() {
                    break;
                }
            }
        });
    }
}

/// A self-signed certificate for `localhost` and `127.0.0.1`, saved for clients.
fn tls_config() -> Result<Arc<ServerConfig>, Box<dyn std::error::Error>> {
    let generated = rcgen::generate_simple_self_signed(["localhost".to_owned(), "127.0.0.1".to_owned()])?;
    std::fs::create_dir_all("target")?;
    std::fs::write("target/tls-example-cert.pem", generated.cert.pem())?;
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(generated.signing_key.serialize_der()));
    let config = ServerConfig::builder_with_provider(Arc::new(aws_lc_rs::default_provider()))
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(vec![generated.cert.der().clone()], key)?;
    Ok(Arc::new(config))
}
