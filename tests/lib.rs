//! Integration tests: real sockets on 127.0.0.1, real WebSocket clients.
//! One binary (`autotests = false`) keeps builds fast.

mod auth;
mod support;
mod vectors;
