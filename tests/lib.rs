//! Integration tests: real sockets on 127.0.0.1, real WebSocket clients.
//! One binary (`autotests = false`) keeps builds fast.

#[macro_use]
mod support;

mod auth;
mod config;
#[cfg(feature = "redis")]
mod fleet;
#[cfg(all(feature = "jwks", feature = "tokio-rustls"))]
mod jwks;
mod liveness;
mod pii;
#[cfg(feature = "test-util")]
mod pii_linear;
mod proxies;
mod rate_limit;
#[cfg(feature = "redis")]
mod rate_limit_redis;
mod rbac;
mod schema;
#[cfg(feature = "tokio-rustls")]
mod tls;
mod vectors;
mod zap;
