//! The chat demo on axum, with wsguard's axum adapter (feature `axum`): the
//! same guard, page and protocol as `examples/chat`.
//!
//! ```text
//! cargo run --example axum                                     # http://127.0.0.1:8081
//! cargo run --example axum -- 127.0.0.1:9001                   # another address
//! cargo run --example axum -- 127.0.0.1:9001 --http-rejections # refuse with HTTP statuses
//! cargo run --example axum -- --metrics 127.0.0.1:9899          # Prometheus metrics (default :9898)
//! cargo run --example axum -- --config examples/chat/chat.toml  # the guard's file (the default)
//! ```
//!
//! `GuardedUpgrade` runs the guard's handshake as an extractor (origin,
//! caps, rate limits, authentication, subprotocol selection; refusals as
//! HTTP statuses, or accept-then-close for the browser page), and the
//! handler gets a `GuardedSocket`: a `Stream + Sink` of wsguard messages with
//! the tokio adapter's liveness, expiry, revocation and close behaviour.
//! The chat itself (`examples/chat/rooms.rs`) is the demo's, unchanged.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use axum::extract::{FromRef, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use wsguard::Guard;
use wsguard::axum::GuardedUpgrade;

#[path = "chat/rooms.rs"]
mod rooms;
#[path = "chat/setup.rs"]
mod setup;
#[path = "chat/stats.rs"]
mod stats;

/// The router's state: the demo's guard and its rooms.
#[derive(Clone)]
struct AppState(Arc<(setup::App, rooms::Shared)>);

impl FromRef<AppState> for Guard {
    fn from_ref(state: &AppState) -> Guard {
        state.0.0.guard.clone()
    }
}

fn main() -> ExitCode {
    let (addr, options) = match setup::parse_args("axum", 8081) {
        Ok(parsed) => parsed,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    setup::logging(options.log_json);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a tokio runtime");
    runtime.block_on(async move {
        stats::install(options.metrics);
        let listener = match tokio::net::TcpListener::bind(addr).await {
            Ok(listener) => listener,
            Err(e) => {
                eprintln!("cannot listen on {addr}: {e}");
                return ExitCode::FAILURE;
            }
        };
        let addr = listener.local_addr().unwrap_or(addr);
        let app = match setup::app(addr, &options) {
            Ok(app) => app,
            Err(e) => {
                eprintln!("invalid configuration: {e}");
                return ExitCode::from(2);
            }
        };
        let state = AppState(Arc::new((app, rooms::Shared::default())));
        let router = axum::Router::new()
            .route("/ws", get(upgrade))
            .route("/stats", get(guard_stats))
            .fallback(asset)
            .with_state(state);
        println!("axum chat on http://{addr} (tokens: alice-token, bob-token, admin-token)");
        let service = router.into_make_service_with_connect_info::<SocketAddr>();
        match axum::serve(listener, service).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("the server stopped: {e}");
                ExitCode::FAILURE
            }
        }
    })
}

/// The guard has run by the time this handler does: a refused request was
/// answered by the extractor.
async fn upgrade(upgrade: GuardedUpgrade, State(state): State<AppState>) -> Response {
    let user = upgrade.session().principal().map_or_else(|| "anonymous".to_owned(), |p| p.id.clone());
    upgrade.on_upgrade(move |socket| async move {
        let (app, rooms) = &*state.0;
        rooms::serve(socket, user, app, rooms).await;
    })
}

/// The page and its assets, with the demo's security headers; 404 otherwise.
async fn asset(uri: Uri) -> Response {
    let path = if uri.path() == "/index.html" { "/" } else { uri.path() };
    let mut headers = security_headers();
    match rooms::ASSETS.iter().find(|(p, _, _)| *p == path) {
        Some((_, content_type, body)) => {
            headers.insert(axum::http::header::CONTENT_TYPE, HeaderValue::from_static(content_type));
            (headers, *body).into_response()
        }
        None => (StatusCode::NOT_FOUND, headers).into_response(),
    }
}

/// The guard's metrics, summed for the page's panel.
async fn guard_stats() -> Response {
    let mut headers = security_headers();
    headers.insert(axum::http::header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    (headers, stats::json()).into_response()
}

/// `rooms::SECURITY_HEADERS` (one `name: value` per line) as a header map.
fn security_headers() -> HeaderMap {
    rooms::SECURITY_HEADERS
        .split("\r\n")
        .filter_map(|line| line.split_once(": "))
        .filter_map(|(name, value)| Some((HeaderName::from_static(name), HeaderValue::from_str(value).ok()?)))
        .collect()
}
