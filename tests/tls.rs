//! wss through the tokio adapter: rustls with a certificate generated at
//! test time, and the "TLS required" policy seeing the difference.

use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::{TlsAcceptor, TlsConnector};
use tokio_tungstenite::tungstenite::{self, client::IntoClientRequest};
use wsguard::layer::TransportPolicy;
use wsguard::{Guard, Message};

/// Serves `guard` on one listener, TLS-wrapped if `tls` is given; echoes
/// text and reports each session's `is_tls` in the echo.
async fn serve(guard: Guard, tls: Option<TlsAcceptor>) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (guard, tls) = (guard.clone(), tls.clone());
            tokio::spawn(async move {
                match tls {
                    Some(tls) => {
                        let Ok(stream) = tls.accept(tcp).await else { return };
                        let Ok(ws) = wsguard::tokio::accept(stream, &guard).await else { return };
                        echo(ws).await;
                    }
                    None => {
                        let Ok(ws) = wsguard::tokio::accept(tcp, &guard).await else { return };
                        echo(ws).await;
                    }
                }
            });
        }
    });
    addr
}

async fn echo<S>(mut ws: wsguard::tokio::GuardedStream<S>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let tls = ws.session().is_tls();
    while let Some(Ok(Message::Text(text))) = ws.next().await {
        if ws.send(Message::text(format!("{text} (tls: {tls})"))).await.is_err() {
            break;
        }
    }
}

#[tokio::test]
async fn wss_is_admitted_by_the_tls_policy_and_plain_ws_is_refused() {
    let (server, client) = crate::support::tls::configs();
    let guard = Guard::builder().without_auth().transport(TransportPolicy::require_tls()).build().unwrap();
    let secure = serve(guard.clone(), Some(TlsAcceptor::from(server))).await;
    let plain = serve(guard, None).await;

    let tcp = TcpStream::connect(secure).await.unwrap();
    let tls =
        TlsConnector::from(Arc::clone(&client)).connect(ServerName::try_from("localhost").unwrap(), tcp).await.unwrap();
    let request = format!("wss://localhost:{}/ws", secure.port()).into_client_request().unwrap();
    let (mut ws, _) = tokio_tungstenite::client_async(request, tls).await.unwrap();
    ws.send(tungstenite::Message::text("hello")).await.unwrap();
    assert_eq!(ws.next().await.unwrap().unwrap(), tungstenite::Message::text("hello (tls: true)"));

    let request = format!("ws://127.0.0.1:{}/ws", plain.port()).into_client_request().unwrap();
    let tcp = TcpStream::connect(plain).await.unwrap();
    match tokio_tungstenite::client_async(request, tcp).await {
        Err(tungstenite::Error::Http(response)) => assert_eq!(response.status(), 403),
        other => panic!("plain ws must be refused: {other:?}"),
    }

    // A client that does not trust the certificate cannot connect at all.
    let tcp = TcpStream::connect(secure).await.unwrap();
    let untrusting = tokio_rustls::rustls::ClientConfig::builder_with_provider(Arc::new(
        tokio_rustls::rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(tokio_rustls::rustls::RootCertStore::empty())
    .with_no_client_auth();
    let refused =
        TlsConnector::from(Arc::new(untrusting)).connect(ServerName::try_from("localhost").unwrap(), tcp).await;
    assert!(refused.is_err(), "an untrusted certificate must fail the TLS handshake");
}
